"""Jivosoft's database server jv-db1 crashes, for real (not a drill), on the local peers of
test_jivosoft_real_recovery.py (the simulated cloud, Cloud Files in libcloud's local driver, PowerDNS, and a
PostgreSQL server standing in for the replacement). Its attached volume survives the crash with two of its four
customer databases intact; the other two are not on it. The seed scenario moves the volume to the replacement,
finds the two there, and hands the other two over, database by database, to the restore from Cloud Storage,
which restores those two only, from the newest dump. The run is Succeeded because every database is recovered,
and the rows (the databases on the peer, the Deployment rows, the audit log) prove it."""

from __future__ import annotations

import psycopg
import pytest

from drportal.audit.models import AuditEvent
from drportal.cloud.actions.base import REGISTRY, StepContext
from drportal.cloud.models import Deployment, SimNode, SimVolume
from drportal.incidents import services as incidents
from drportal.inventory.choices import AssetKind
from drportal.inventory.models import Asset, ProviderAccount, Server
from scenarios import engine, loader
from scenarios.choices import RunState, StepState
from tests.recovery.conftest import run_to_the_end
from tests.recovery.test_jivosoft_real_recovery import jivosoft, orders_of  # noqa: F401 - the fixture is used here

pytestmark = pytest.mark.django_db(transaction=True)

ON_THE_VOLUME = ("alamo_freight", "bexar_dental")  # the crash left these intact on the volume
LOST = ("brazos_title", "hill_country_hvac")  # not on the volume: only Cloud Storage has them


def rows_in(pg_peer, database: str, table: str = "orders") -> int:
    with psycopg.connect(host=pg_peer.host, port=pg_peer.port, user="postgres", dbname=database) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608 - our own table names


@pytest.fixture
def crashed_db1(jivosoft, pg_peer):  # noqa: F811 - the imported fixture, by name
    """jv-db1's volume, still attached to the crashed node, with two of its databases on it (one row each, so a
    restore over them would show)."""
    rackspace = ProviderAccount.objects.get(name="jivosoft-rackspace")
    SimVolume.objects.create(account=rackspace, volume_id="cbs-ssd-db1", name="cbs-ssd-db1",
                             node=SimNode.objects.get(node_id="dallas-jv-db1"), device="/dev/xvdb")
    for database in ON_THE_VOLUME:
        pg_peer.sql(f"CREATE DATABASE {database}")
        pg_peer.sql("CREATE TABLE orders (id int PRIMARY KEY, note text); "
                    "INSERT INTO orders VALUES (1, 'on the volume')", database)
    return jivosoft


def crash_run(alice, mona):
    db1 = Server.objects.get(name="jv-db1")
    incident = incidents.declare(alice, title="jv-db1 crashed", disaster_class="server_crash",
                                 impacted={"servers": [db1]})
    run, _ = engine.start_run(incident, loader.library().get("jivosoft-server-crash"), alice)
    return run_to_the_end(run, alice, mona, choices={"provider-recovers": "no"})


def test_a_crash_of_jv_db1_restores_from_cloud_storage_only_the_databases_its_volume_did_not_hold(
        crashed_db1, pg_peer, alice, mona):
    run = crash_run(alice, mona)

    failed = {f"{r.step_id}[{r.item}]": r.error for r in run.steps.filter(state=StepState.FAILED)}
    assert failed == {}
    from_volume = {r.item: r for r in run.steps.filter(step_id="restore-databases")}
    follow_up = {r.item: r for r in run.steps.filter(step_id="restore-from-storage")}
    names = {a.restore["database"]: a.name for a in Asset.objects.filter(server__name="jv-db1",
                                                                          kind=AssetKind.DATABASE)}
    assert sorted(names) == sorted(ON_THE_VOLUME + LOST)

    # The volume is on the replacement now, and two databases answered there: recovered, not handed over.
    replacement = Server.objects.get(name="jv-db1").provider_node_id
    assert SimVolume.objects.get(volume_id="cbs-ssd-db1").node.node_id == replacement
    for database in ON_THE_VOLUME:
        row = from_volume[names[database]]
        assert (row.state, row.outputs.get("handover"), row.outputs["tables"]) == (StepState.SUCCEEDED, None, 1)
        skipped = follow_up[names[database]]
        assert skipped.state == StepState.SKIPPED
        assert skipped.skip_reason == (f"branch not taken: restore-databases recovered {names[database]} without "
                                       "handing over")
        assert rows_in(pg_peer, database) == 1  # never restored over
    # The other two were handed over, and restored from the newest dump (Dallas's daily Cloud Backups).
    for database in LOST:
        row = from_volume[names[database]]
        assert row.outputs["handover"] == "restore_from_cloud_storage"
        assert row.outputs["reason"].startswith(f"{database} on 127.18.")
        restored = follow_up[names[database]]
        assert restored.state == StepState.SUCCEEDED
        assert restored.outputs["rows_checked"] is True
        assert restored.outputs["dump"]["key"].endswith("/20261205T0400.dump")
    databases = list(Asset.objects.filter(kind=AssetKind.DATABASE, server__account__name="jivosoft-rackspace")
                     .order_by("name").values_list("restore__database", flat=True))
    for database in LOST:
        assert rows_in(pg_peer, database) == orders_of(databases.index(database)) + 3  # the daily dump's rows

    restores = AuditEvent.objects.filter(action="database.restored")
    assert sorted(restores.values_list("object_repr", flat=True)) == sorted(names[d] for d in LOST)
    assert Deployment.objects.filter(idempotency_key__endswith=":restore").count() == 2
    assert run.state == RunState.SUCCEEDED
    summary = engine.run_summary(run, list(run.steps.all()), run.finished_at)
    # Two databases and the address (a Rackspace-like cloud cannot move it: DNS instead) were handed over.
    assert ("handed over", 3) in summary["outcomes"]
    assert summary["not_recovered"] == []


def test_a_restore_from_cloud_storage_run_again_after_its_worker_died_does_not_restore_twice(
        crashed_db1, pg_peer, alice, mona):
    run = crash_run(alice, mona)
    assert run.state == RunState.SUCCEEDED
    row = run.steps.get(step_id="restore-from-storage", state=StepState.SUCCEEDED, item__contains="brazos")
    # A worker that restored the database and died before the engine kept its state: the job runs again from
    # the row's idempotency key and parameters alone.
    again = REGISTRY["restore_database"].execute(StepContext(idempotency_key=row.idempotency_key,
                                                             params=dict(row.params), state={},
                                                             incident_id=run.incident_id))
    assert again.done
    assert again.output["rows_checked"] is True
    assert Deployment.objects.filter(idempotency_key__endswith=":restore").count() == 2
    assert AuditEvent.objects.filter(action="database.restored").count() == 2
    assert rows_in(pg_peer, "brazos_title") == row.outputs["tables"]["public.orders"]
