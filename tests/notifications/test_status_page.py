from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from drportal.incidents import services as incidents
from notifications.models import StatusUpdate
from tests.notifications.factories import crash

NOW = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)


@pytest.fixture
def page(world):
    with time_machine.travel(NOW - timedelta(days=3), tick=False):
        old = crash(world, world.app1, disaster_class="app_server_lost", title="app1 OOM on 10.0.0.21",
                    public_summary="Jivosoft Cloud was slow")
        incidents.transition(world.users["alice"], old.pk, "recovered")
    with time_machine.travel(NOW - timedelta(hours=1), tick=False):
        current = crash(world, disaster_class="datacenter_offline", impacted={"regions": [world.dfw]},
                        title="DFW down: db1.dfw.jivo.internal unreachable",
                        summary="Internal: call Rackspace ticket 123, root pw in vault",
                        public_summary="Our Dallas data center is offline")
        StatusUpdate.objects.create(incident=current, posted_at=NOW - timedelta(minutes=30),
                                    posted_by=world.users["alice"], body="Restoring from backups in Kansas City.")
    crash(world, world.db2, title="drill: db2", is_drill=True, public_summary="A drill")
    return current, old


def internal_strings(world) -> list[str]:
    out = ["Internal: call Rackspace", "DFW down", "app1 OOM", "jivo-saas-prod"]
    for server in (world.db1, world.db2, world.app1, world.kc1):
        out += [server.name, *server.private_ips, *server.public_ips, *server.dns_names]
    return out


def test_the_status_page_shows_current_and_past_incidents_without_login(client, world, page):
    with time_machine.travel(NOW, tick=False):
        response = client.get("/status/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Our Dallas data center is offline" in html
    assert "Restoring from backups in Kansas City." in html
    assert "Jivosoft Cloud was slow" in html  # past
    assert "Jivosoft Cloud" in html  # affected service, by its public name
    assert "A drill" not in html
    assert response["Cache-Control"] == "public, max-age=60"


def test_no_page_of_the_status_site_shows_internal_names_addresses_or_notes(client, world, page):
    current, old = page
    with time_machine.travel(NOW, tick=False):
        bodies = [client.get(url).content.decode() for url in
                  ("/status/", f"/status/incidents/{current.pk}/", f"/status/incidents/{old.pk}/", "/status/feed.atom")]
    for body in bodies:
        for secret in internal_strings(world):
            assert secret not in body


def test_the_feed_is_atom_with_an_entry_per_incident_and_update(client, world, page):
    with time_machine.travel(NOW, tick=False):
        response = client.get("/status/feed.atom")
    assert response["Content-Type"].startswith("application/atom+xml")
    body = response.content.decode()
    assert body.count("<entry>") == 3
    assert "Restoring from backups in Kansas City." in body


def test_drills_and_unknown_incidents_are_not_found(client, world, page):
    drill = crash(world, world.db2, is_drill=True)
    assert client.get(f"/status/incidents/{drill.pk}/").status_code == 404
    assert client.get("/status/incidents/999999/").status_code == 404


def test_the_status_page_query_count_does_not_grow_with_incidents(client, world, page, django_assert_num_queries):
    # Current and past incidents with their updates, then (once any incident hits a service) the public names
    # of the services in their stored scopes, plus the page's own few; the maintenance windows (none here, so no
    # query for their services).
    with time_machine.travel(NOW, tick=False), django_assert_num_queries(6):
        client.get("/status/")
    for n in range(5):
        crash(world, world.db1, public_summary=f"extra {n}", disaster_class="datacenter_offline",
              impacted={"regions": [world.ord]})
    with time_machine.travel(NOW, tick=False), django_assert_num_queries(6):
        assert client.get("/status/").content.decode().count("extra ") == 5
