"""The demo as a newcomer gets it from `make run` (manage.py load_demo): Dallas declared down by its region alone
and the runbook run to the end. Before, readiness said the plan was ready while every restore from Cloud
Storage was bound to fail (the seed's real Rackspace account, no credentials); now the demo stands in for Cloud
Files with a local store holding a real pg_dump for every dump the backup history says succeeded, and a
PostgreSQL server answers at the replacements' addresses. So readiness checks the dumps' storage, and each
customer database is restored, for real, from its newest Kansas City dump."""

from __future__ import annotations

import shutil
from zoneinfo import ZoneInfo

import psycopg
import pytest
from django.utils import timezone

from backups.models import BackupRecord
from drportal.cloud import connection
from drportal.incidents import services as incidents
from drportal.inventory.models import Asset, ProviderAccount, Region, Server
from drportal.lib import clock, standin_pg
from notifications.models import Delivery
from scenarios import engine, loader, readiness
from scenarios.choices import RunState, StepState
from tests.recovery.conftest import run_to_the_end

pytestmark = pytest.mark.django_db(transaction=True)

PLAN = "jivosoft-datacenter-offline"


def storage_check(now):
    result = readiness.assess(loader.library().get(PLAN), now, exposure=None)
    return result, next(c for c in result.checks if c.name == "Backup storage")


def rows_in(address: str, database: str, table: str) -> int:
    with psycopg.connect(host=address, port=standin_pg.node_port(), user="postgres", dbname=database) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608 - our own table names


def test_the_demo_recovers_dallas_and_restores_every_customer_database_from_its_newest_kansas_city_dump(
        demo_cloud, alice, mona):
    result, storage = storage_check(clock.now())
    assert storage.ok, storage.detail
    assert "jivosoft-rackspace-files-demo" in storage.detail
    assert result.ready, result.reasons

    dallas = Region.objects.get(provider__slug="rackspace", slug="dfw")
    incident = incidents.declare(alice, title="Dallas data center offline", disaster_class="datacenter_offline",
                                 impacted={"regions": [dallas]})
    run, _ = engine.start_run(incident, loader.library().get(PLAN), alice)
    run = run_to_the_end(run, alice, mona)

    restores = list(run.steps.filter(step_id="restore-databases"))
    databases = Asset.objects.filter(kind="database", server__zone__region=dallas).exclude(
        customer__status="terminated")
    assert sorted(r.item for r in restores) == sorted(databases.values_list("name", flat=True))
    for row in restores:
        assert (row.state, row.error) == (StepState.SUCCEEDED, "")
        assert row.outputs["rows_checked"] is True
        asset = databases.get(name=row.item)
        # The newest weekly copy in Kansas City the backup history says succeeded: the one the notices' loss
        # window is counted from.
        newest = BackupRecord.objects.filter(asset=asset, outcome="succeeded",
                                             container="jv-customer-db-weekly-kansas-city").latest("completed_at")
        assert row.outputs["dump"]["key"] == newest.key
        # Restored to what the dump holds: the data as of the dump's start (its record's recovery point), not
        # the upload's end; the customer's notice says that time.
        assert row.outputs["recovery_point"] == newest.recovery_point.isoformat()
        letters = Delivery.objects.filter(notice__subject__contains="Your data after the recovery",
                                          customer=asset.customer_id, channel="email")
        stated = timezone.localtime(newest.recovery_point, ZoneInfo("America/Chicago")).strftime("%Y-%m-%d %H:%M")
        assert letters.exists()
        for letter in letters:
            assert f"{asset.name}: restored from the copy of {stated}" in letter.body_text, letter.body_text
        # On the replacement's own database server, at its address, the rows the dump held.
        address = Server.objects.get(pk=asset.server_id).private_ips[0]
        assert address.startswith("127.18.")
        restored = rows_in(address, asset.restore["database"], "public.orders")
        assert restored == row.outputs["tables"]["public.orders"] > 0
    not_done = {f"{r.step_id}[{r.item}]": (r.state, r.error) for r in run.steps.exclude(
        state__in=(StepState.SUCCEEDED, StepState.SKIPPED))}
    assert run.state == RunState.SUCCEEDED, not_done


def test_readiness_says_not_ready_when_the_dumps_live_where_drportal_cannot_reach(demo_cloud):
    # An admin points the databases' dumps back at the seed's real Rackspace account, which has no credentials.
    for asset in Asset.objects.exclude(dumps=[]).filter(server__account__name="jivosoft-rackspace-demo"):
        asset.dumps = [{**where, "account": "jivosoft-rackspace"} for where in asset.dumps]
        asset.save(update_fields=["dumps"])
    result, storage = storage_check(clock.now())
    assert not storage.ok
    assert "no credentials: jivosoft-rackspace" in storage.detail
    assert not result.ready


def test_readiness_says_not_ready_when_the_local_store_is_gone(demo_cloud):
    store = ProviderAccount.objects.get(name="jivosoft-rackspace-files-demo")
    shutil.rmtree(store.options["path"])
    connection.check_all(clock.now())
    result, storage = storage_check(clock.now())
    assert not storage.ok
    assert "does not exist" in storage.detail
    assert not result.ready
