from __future__ import annotations

import re
from datetime import timedelta

import time_machine

from drportal.audit.models import AuditEvent
from drportal.lib import clock
from notifications import sender, staff
from notifications.models import CheckIn
from tests.notifications.factories import crash


def office_incident(world):
    return crash(world, disaster_class="office_destroyed", title="Office fire", severity="sev3",
                 impacted={"offices": [world.office]})


def test_each_employee_gets_a_personal_check_in_link_once(world, smtp, redis_conn):
    incident = office_incident(world)
    staff.on_incident_declared(incident.pk)
    staff.on_incident_declared(incident.pk)
    sender.send_pending()
    links = {rcpts[0]: msg.get_body(("plain",)).get_content() for rcpts, msg in smtp.messages
             if msg["Subject"].startswith("Check in")}
    assert sorted(links) == ["kim@jivo.example", "lee@jivo.example", "pat@jivo.example"]
    token = re.search(r"/notifications/checkin/([^/\s]+)/", links["pat@jivo.example"]).group(1)
    assert staff.read_checkin_token(token) == (incident.pk, world.people[2].pk)


def test_the_public_form_records_where_an_employee_works_from(client, world):
    incident = office_incident(world)
    pat = world.people[2]
    url = f"/notifications/checkin/{staff.checkin_token(incident.pk, pat.pk)}/"
    assert client.get(url).status_code == 200
    response = client.post(url, {"location": "coworking", "has_power": "yes", "has_internet": "no"})
    assert response.status_code == 200
    row = CheckIn.objects.get(incident=incident, person=pat)
    assert (row.location, row.has_power, row.has_internet) == ("coworking", True, False)
    assert AuditEvent.objects.filter(action="checkin.reported", actor_label="checkin:pat@jivo.example").exists()
    client.post(url, {"location": "home", "has_power": "yes", "has_internet": "yes"})
    assert CheckIn.objects.get(incident=incident, person=pat).location == "home"


def test_other_needs_a_note_and_nothing_is_saved_without_it(client, world):
    incident = office_incident(world)
    url = f"/notifications/checkin/{staff.checkin_token(incident.pk, world.people[0].pk)}/"
    response = client.post(url, {"location": "other", "has_power": "yes", "has_internet": "yes"})
    assert "say where, when you choose" in response.content.decode()
    assert not CheckIn.objects.exists()


def test_tampered_and_expired_links_are_refused_clearly(client, world):
    incident = office_incident(world)
    token = staff.checkin_token(incident.pk, world.people[0].pk)
    tampered = client.get(f"/notifications/checkin/{token[:-2]}xx/")
    assert tampered.status_code == 400
    assert "altered or is incomplete" in tampered.content.decode()
    with time_machine.travel(clock.now() + staff.CHECKIN_MAX_AGE + timedelta(minutes=1)):
        expired = client.get(f"/notifications/checkin/{token}/")
    assert expired.status_code == 410
    assert "expired" in expired.content.decode()


def test_the_incident_page_shows_who_is_accounted_for_and_who_is_not(client_as, world):
    incident = office_incident(world)
    CheckIn.objects.create(incident=incident, person=world.people[0], location="home", has_power=True,
                           has_internet=True, reported_at=clock.now())
    html = client_as("alice").get(f"/incidents/{incident.pk}/").content.decode()
    assert "1 accounted for, 2 not yet" in html
    assert "Kim Key" in html
    assert "not accounted for" in html


def test_the_call_forwarding_list_is_in_order(client_as, world):
    incident = office_incident(world)
    html = client_as("sam").get(f"/notifications/incidents/{incident.pk}/forwarding/").content.decode()
    assert html.index("Kim Key") < html.index("Lee Lead")
    assert "Pat Plain" not in html
