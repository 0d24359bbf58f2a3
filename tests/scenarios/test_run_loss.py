"""A run's data-loss window (scenarios.loss.for_run) ends when the incident's loss began: reading it an hour or
a day later shows the same window; a single crashed server loses its own data, not its zone's."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine

from backups import sweep
from drportal.incidents import services as incidents
from drportal.inventory.choices import AssetKind, ServerRole
from drportal.inventory.models import Asset, Customer, Server
from scenarios import loss
from scenarios.models import Run, Snapshot
from tests.backups.conftest import at, record, world  # noqa: F401 - the backups world, reused

NOW = at("2026-11-21 15:00")


@pytest.fixture
def dallas(world, alice):  # noqa: F811
    """Daily dumps in Dallas (not on the database server's disk), weekly copies in Kansas City, and a second
    database server in the same Dallas zone with a customer of its own."""
    db2 = Server.objects.create(name="db2", role=ServerRole.DATABASE, zone=world.dfw1)
    other = Customer.objects.create(slug="other", name="Other Co")
    other_db = Asset.objects.create(name="other-db", kind=AssetKind.DATABASE, server=db2, customer=other)
    world.daily.assets.add(other_db)
    for day in range(0, 8):
        for db in (world.acme_db, world.zeta_db, other_db):
            record(world.daily, db, at("2026-11-21 10:00") - timedelta(days=day), zone=world.dfw1)
    for db in (world.acme_db, world.zeta_db, other_db):
        record(world.weekly, db, at("2026-11-15 11:00"), zone=world.mci1)
    sweep.sweep(NOW)
    world.alice = alice
    return world


def run_for(w, **incident) -> Run:
    with time_machine.travel(NOW, tick=False):
        declared = incidents.declare(w.alice, title="outage", severity="sev1", **incident)
    return Run.objects.create(incident=declared, scenario_id="test", scenario_title="Test", digest="x",
                              spec={"objectives": {"rto_minutes": 60}, "steps": []}, started_by=w.alice,
                              started_at=NOW)


def window_at(run: Run, moment) -> dict[str, float | None]:
    Snapshot.objects.all().delete()  # computed afresh at that moment, not read back
    with time_machine.travel(moment, tick=False):
        return {row["customer"]: row["seconds_lost"] for row in loss.for_run(run, moment)}


@pytest.mark.parametrize("later", [timedelta(hours=1), timedelta(days=1)])
def test_losing_dallas_reads_the_same_window_an_hour_or_a_day_later(dallas, later):
    run = run_for(dallas, disaster_class="datacenter_offline", impacted={"regions": [dallas.dfw]})
    at_start = window_at(run, NOW)
    assert at_start["Acme Dental"] == (NOW - at("2026-11-15 11:00")).total_seconds()
    assert window_at(run, NOW + later) == at_start


def test_a_single_crashed_server_loses_what_it_held_not_its_zone(dallas):
    run = run_for(dallas, disaster_class="server_crash", impacted={"servers": [dallas.db1]})
    rows = window_at(run, NOW + timedelta(hours=3))
    # The customers of db1 only, back to this morning's dump in Dallas, not the week of losing the zone.
    assert rows == {"Acme Dental": 5 * 3600.0, "Zeta Clinics": 5 * 3600.0}


def test_backups_made_after_the_recovery_do_not_move_the_window(dallas):
    """A day later the databases run on a replacement in Kansas City and its first backups are in: the window
    still runs from the newest copy that existed when Dallas was lost."""
    run = run_for(dallas, disaster_class="datacenter_offline", impacted={"regions": [dallas.dfw]})
    at_start = window_at(run, NOW)
    later = NOW + timedelta(days=1)
    # The provisioning step moves the server to its replacement's zone, as provision.py does.
    Server.objects.filter(pk=dallas.db1.pk).update(zone=dallas.mci1)
    for db in (dallas.acme_db, dallas.zeta_db):
        record(dallas.weekly, db, later - timedelta(hours=2), zone=dallas.mci1)
        record(dallas.daily, db, later - timedelta(hours=1), zone=dallas.mci1)
    sweep.sweep(later)

    assert window_at(run, later) == at_start
    assert at_start["Acme Dental"] == (NOW - at("2026-11-15 11:00")).total_seconds()


def test_the_window_runs_from_the_recovery_point_the_restore_used(dallas):
    """Ops chose an older weekly copy in Kansas City: the window is measured from that copy, as the customer's
    notice states it."""
    from scenarios.choices import StepKind, StepState
    from scenarios.models import StepRun

    run = run_for(dallas, disaster_class="datacenter_offline", impacted={"regions": [dallas.dfw]})
    older = record(dallas.weekly, dallas.acme_db, at("2026-11-08 11:00"), zone=dallas.mci1)
    StepRun.objects.create(run=run, step_id="restore-databases", item="acme-db", position=1, title="Restore acme-db",
                           kind=StepKind.AUTOMATED, state=StepState.SUCCEEDED, idempotency_key="k-acme",
                           params={"asset": "acme-db", "record": older.pk})

    rows = window_at(run, NOW + timedelta(hours=5))

    assert rows["Acme Dental"] == (NOW - at("2026-11-08 11:00")).total_seconds()
    assert rows["Zeta Clinics"] == (NOW - at("2026-11-15 11:00")).total_seconds()


def crashed_database_servers(w, count: int) -> list[Server]:
    """`count` database servers in Dallas, each holding one customer's database, dumped to its own disk at
    10:00 and to Cloud Files at 08:00 today."""
    servers = []
    for i in range(count):
        server = Server.objects.create(name=f"crashdb{i}", role=ServerRole.DATABASE, zone=w.dfw1)
        customer = Customer.objects.create(slug=f"crash{i}", name=f"Crash customer {i:02d}")
        db = Asset.objects.create(name=f"crash{i}-db", kind=AssetKind.DATABASE, server=server, customer=customer)
        w.daily.assets.add(db)
        record(w.daily, db, at("2026-11-21 10:00"), zone=w.dfw1, container=server.name)
        record(w.daily, db, at("2026-11-21 08:00"), zone=w.dfw1, container="cloudfiles-dfw")
        servers.append(server)
    return servers


@pytest.mark.parametrize("count", [2, 30])
def test_the_run_page_computes_the_window_in_the_same_queries_for_30_crashed_servers_as_for_2(
        dallas, client, django_assert_num_queries, count):
    run = run_for(dallas, disaster_class="server_crash", impacted={"servers": crashed_database_servers(dallas, count)})
    client.force_login(dallas.alice)
    Snapshot.objects.all().delete()  # the first view after the declaration computes the window in the request
    # The page's own (session, user, roles, run, steps, snapshot and its upsert, the scope) and the window's:
    # the hit assets, their objectives and policies, the exposure's five, the crashed servers, their assets and
    # one windowed query for their newest copies off them. Per customer there were six (198 for 30).
    with time_machine.travel(NOW + timedelta(hours=1), tick=False), django_assert_num_queries(21):
        page = client.get(f"/scenarios/runs/{run.pk}/").content.decode()
    # Each customer's window runs from the Cloud Files copy, not the dump on the disk that crashed with the server.
    rows = {row["customer"]: row["seconds_lost"] for row in Snapshot.objects.get().data["rows"]}
    assert rows == {f"Crash customer {i:02d}": 7 * 3600.0 for i in range(count)}
    assert "Crash customer 00" in page
