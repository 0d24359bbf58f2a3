from __future__ import annotations

import pytest
from django.urls import reverse

from drportal.audit.models import AuditEvent
from drportal.incidents.models import Incident
from drportal.inventory.models import Provider, Region, Server, Zone


@pytest.fixture
def dallas(db) -> Zone:
    provider = Provider.objects.create(slug="rackspace", name="Rackspace", kind="rackspace")
    region = Region.objects.create(provider=provider, slug="dfw", name="Dallas")
    return Zone.objects.create(region=region, slug="dfw1", name="Dallas DFW1")


@pytest.fixture
def web1(dallas) -> Server:
    return Server.objects.create(name="web1", role="application", zone=dallas, public_ips=["203.0.113.10"])


def test_ops_declares_an_incident_with_its_impact(client_as, web1):
    response = client_as("alice").post(reverse("incidents:declare"), {
        "title": "web1 crashed", "severity": "sev2", "disaster_class": "server_crash",
        "impacted_servers": [web1.pk], "impacted_zones": [web1.zone_id],
    })
    incident = Incident.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("incidents:detail", args=[incident.pk])
    assert list(incident.impacted_servers.all()) == [web1]
    assert incident.declared_by.username == "alice"
    assert incident.status == "declared"
    event = AuditEvent.objects.get(action="incident.declared")
    assert event.actor_label == "alice"
    assert event.after["impacted"]["servers"] == ["web1"]


def test_the_declare_page_names_regions_and_zones_as_people_know_them(client_as, dallas):
    """Someone declaring that Dallas is down looks for Dallas, not for a slug."""
    page = client_as("alice").get(reverse("incidents:declare")).content.decode()

    assert f'<option value="{dallas.region_id}">Rackspace: Dallas</option>' in page
    assert f'<option value="{dallas.pk}">Rackspace Dallas: Dallas DFW1</option>' in page
    assert "rackspace/dfw" not in page


def test_a_declaration_without_a_title_is_refused_and_nothing_saved(client_as):
    response = client_as("alice").post(reverse("incidents:declare"), {"severity": "sev2", "disaster_class": "other"})
    assert response.status_code == 200
    assert b"This field is required" in response.content
    assert not Incident.objects.exists()
    assert not AuditEvent.objects.filter(action="incident.declared").exists()


def test_an_unknown_disaster_class_is_refused_naming_the_field(client_as):
    response = client_as("alice").post(reverse("incidents:declare"), {
        "title": "x", "severity": "sev2", "disaster_class": "meteor"})
    assert response.status_code == 200
    assert "disaster_class" in response.context["form"].errors
    assert not Incident.objects.exists()


def test_support_cannot_declare(client_as):
    assert client_as("sam").post(reverse("incidents:declare"), {"title": "x"}).status_code == 403
    assert not Incident.objects.exists()


def declared(alice) -> Incident:
    from drportal.incidents import services

    return services.declare(alice, title="Dallas offline", severity="sev1", disaster_class="datacenter_offline")


def test_transitions_stamp_their_time_and_are_audited(client_as, alice):
    incident = declared(alice)
    client = client_as("alice")
    client.post(reverse("incidents:transition", args=[incident.pk]), {"to": "responding"})
    client.post(reverse("incidents:transition", args=[incident.pk]), {"to": "recovered"})
    incident.refresh_from_db()
    assert incident.status == "recovered"
    assert incident.responding_at is not None
    assert incident.recovered_at >= incident.responding_at
    actions = list(AuditEvent.objects.filter(object_id=str(incident.pk)).values_list("action", flat=True))
    assert set(actions) >= {"incident.declared", "incident.responding", "incident.recovered"}


def test_a_closed_incident_cannot_be_reopened(client_as, alice):
    incident = declared(alice)
    client = client_as("mona")
    client.post(reverse("incidents:transition", args=[incident.pk]), {"to": "closed"})
    response = client.post(reverse("incidents:transition", args=[incident.pk]), {"to": "responding"}, follow=True)
    incident.refresh_from_db()
    assert incident.status == "closed"
    assert b"cannot go from closed to responding" in response.content


def test_the_list_takes_a_fixed_number_of_queries(client_as, alice, django_assert_num_queries):
    for _ in range(5):
        declared(alice)
    client = client_as("alice")
    # session, user, user's profile (time zone), user's groups (roles), incidents with their declarers
    with django_assert_num_queries(5):
        response = client.get(reverse("incidents:list"))
    assert response.status_code == 200
    assert response.content.count(b"Dallas offline") == 5


def test_declaring_through_the_page_pages_key_personnel_once_it_commits(
    client_as, web1, django_capture_on_commit_callbacks
):
    from drportal.inventory.models import Person
    from notifications.models import StaffPage

    Person.objects.create(name="Kim", email="kim@jivo.example", phone="210-555-0001", is_key_personnel=True)
    with django_capture_on_commit_callbacks(execute=True):
        client_as("alice").post(reverse("incidents:declare"), {
            "title": "web1 crashed", "severity": "sev2", "disaster_class": "server_crash",
            "impacted_servers": [web1.pk]})
    incident = Incident.objects.get()
    pages = StaffPage.objects.filter(dedupe_key=f"incident:{incident.pk}:key-personnel")
    assert pages.count() == 1
