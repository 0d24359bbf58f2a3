from __future__ import annotations

from datetime import UTC, datetime

import time_machine
from django.urls import reverse

from drportal.accounts.models import Profile
from drportal.audit.models import AuditEvent
from drportal.incidents.models import Incident


def test_it_shows_the_form_with_a_label_for_each_field(client_as):
    page = client_as("sam").get(reverse("accounts:profile")).content.decode()
    assert '<label for="id_time_zone">Time zone</label>' in page
    assert '<option value="Europe/Berlin">Europe/Berlin</option>' in page


def test_it_saves_the_zone_and_audits_it(client_as, sam):
    response = client_as("sam").post(reverse("accounts:profile"), {"time_zone": "Europe/Berlin", "phone": ""})
    assert response.status_code == 302
    assert Profile.objects.get(user=sam).time_zone == "Europe/Berlin"
    event = AuditEvent.objects.get(action="profile.update")
    assert event.before["time_zone"] == ""
    assert event.after["time_zone"] == "Europe/Berlin"


def test_it_refuses_an_unknown_zone_naming_the_field(client_as, sam):
    response = client_as("sam").post(reverse("accounts:profile"), {"time_zone": "Mars/Olympus", "phone": ""})
    assert response.status_code == 200
    assert 'id="id_time_zone_error"' in response.content.decode()
    assert "Mars/Olympus is not one of the available choices" in response.content.decode()
    assert not Profile.objects.filter(user=sam, time_zone="Mars/Olympus").exists()


def test_times_are_shown_in_the_users_zone(client_as, alice):
    Profile.objects.create(user=alice, time_zone="Asia/Tokyo")
    at = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
    Incident.objects.create(title="Dallas down", severity="sev1", disaster_class="datacenter_offline",
                            declared_at=at, declared_by=alice)
    with time_machine.travel(at):
        page = client_as("alice").get(reverse("dashboard")).content.decode()
    assert "2026-11-21 00:00 JST" in page
    assert "times shown in JST" in page
