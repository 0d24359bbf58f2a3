"""Each customer's data-loss window, from real backup records (the backups app's exposure functions)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from backups.models import BackupPolicy, BackupRecord, PolicyAssetStatus
from drportal.inventory.models import Asset
from notifications import losswindow, notices
from notifications.choices import NoticeKind
from tests.notifications.factories import crash

NOW = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def at_now():
    """Incidents are declared at NOW: a loss window ends when the loss began."""
    with time_machine.travel(NOW, tick=False):
        yield


def record(policy, asset, age: timedelta, *, region, zone=None, container="", key="dump.sql.gz"):
    at = NOW - age
    return BackupRecord.objects.create(
        policy=policy, asset=asset, started_at=at, completed_at=at + timedelta(minutes=5), outcome="succeeded",
        size_bytes=1000, sha256="a" * 64, provider="rackspace", region=region, zone=zone, container=container,
        key=key, recovery_point=at, viable=True,
    )


@pytest.fixture
def backed_up(world):
    """The Jivosoft set-up: daily dumps to Cloud Files in Dallas, weekly copies in Kansas City, and a local
    dump on the database server's own disk."""
    daily = BackupPolicy.objects.create(name="daily dumps", kind="database_dump", schedule="0 3 * * *",
                                        rpo_objective=timedelta(days=1))
    weekly = BackupPolicy.objects.create(name="weekly KC copy", kind="file_copy", schedule="0 4 * * 0",
                                         rpo_objective=timedelta(days=7))
    acme_db = Asset.objects.get(name="acme-db")
    for policy in (daily, weekly):
        PolicyAssetStatus.objects.create(policy=policy, asset=acme_db)
    record(daily, acme_db, timedelta(hours=1), region=world.dfw, zone=world.dfw1, container=world.db1.name)
    record(daily, acme_db, timedelta(hours=12), region=world.dfw, container="cloudfiles-dfw")
    record(weekly, acme_db, timedelta(days=3), region=world.ord, container="cloudfiles-mci")
    return acme_db


def loss_for(incident, customer):
    return losswindow.window(customer, losswindow.Scope(incident), NOW)


def test_losing_dallas_leaves_only_the_weekly_kansas_city_copy(world, backed_up):
    incident = crash(world, disaster_class="datacenter_offline", impacted={"regions": [world.dfw]})
    loss = loss_for(incident, world.customers["acme"])
    [row] = loss.rows
    assert (row.asset, row.recovery_point, row.seconds_lost) == ("acme-db", NOW - timedelta(days=3), 3 * 86400)
    assert "cloudfiles-mci" in row.location
    assert loss.known
    assert "up to 3 d of recent data" in loss.summary


def test_a_crashed_server_loses_the_dumps_on_its_own_disk_but_not_cloud_files(world, backed_up):
    incident = crash(world, world.db1)
    [row] = loss_for(incident, world.customers["acme"]).rows
    assert row.recovery_point == NOW - timedelta(hours=12)
    assert "cloudfiles-dfw" in row.location
    assert "off db1.dfw.jivo.internal" in row.explanation


def test_an_affected_database_without_any_backup_policy_is_listed_as_unrecoverable(world, backed_up):
    incident = crash(world, disaster_class="datacenter_offline", impacted={"regions": [world.dfw]})
    loss = loss_for(incident, world.customers["globex"])
    assert [(r.asset, r.known, r.explanation) for r in loss.rows] == [
        ("globex-db", False, "no backup policy protects it")]
    assert not loss.known
    assert "no viable backup survives" in loss.summary


def test_a_customer_whose_data_is_untouched_is_told_so(world, backed_up):
    incident = crash(world, world.app1, disaster_class="app_server_lost")
    assert loss_for(incident, world.customers["hooli"]).summary == "None of your data is affected."


def test_the_data_loss_notice_states_each_customers_own_window(world, backed_up):
    with time_machine.travel(NOW, tick=False):
        incident = crash(world, disaster_class="datacenter_offline", impacted={"regions": [world.dfw]})
        notice = notices.create_notice(world.users["sam"], incident, NoticeKind.DATA_LOSS)
    acme = notices.preview(notice, world.customers["acme"], NOW).text
    globex = notices.preview(notice, world.customers["globex"], NOW).text
    assert "- acme-db: recoverable up to 2026-11-18" in acme
    assert "about 3 d" in acme
    assert "globex-db: no viable backup is known yet" in globex
    assert "acme-db" not in globex


def test_the_notice_wide_computation_agrees_with_backups_exposure_asset_for_asset(world, backed_up):
    from backups import exposure
    from drportal.inventory.models import Zone

    daily = BackupPolicy.objects.get(name="daily dumps")
    # Globex is protected but has no copy at all; Initech's database has a synchronous standby in another zone.
    PolicyAssetStatus.objects.create(policy=daily, asset=Asset.objects.get(name="globex-db"))
    Zone.objects.create(region=world.dfw, slug="dfw2", name="Dallas DC2")
    multi_az = Asset.objects.create(name="initech-rds", kind="managed_database", zone=world.dfw1,
                                    customer=world.customers["initech"],
                                    metadata={"multi_az": True, "standby_zone": "dfw2"})
    PolicyAssetStatus.objects.create(policy=daily, asset=multi_az)
    for impacted in ({"regions": [world.dfw]}, {"zones": [world.dfw1]}):
        incident = crash(world, disaster_class="datacenter_offline", impacted=impacted)
        scope = losswindow.Scope(incident)
        bulk = {w.window.asset_id: w.window
                for w in losswindow.bulk_loss_windows(scope.asset_ids, scope.lost_zones, NOW)}
        one_by_one = {pk: exposure.data_loss_window(Asset.objects.get(pk=pk), scope.lost_zones, NOW) for pk in bulk}
        assert bulk == one_by_one
        assert {w.asset_name for w in bulk.values()} == {"acme-db", "globex-db", "initech-rds"}
        incident.status = "closed"
        incident.save(update_fields=["status"])


def test_a_notice_reads_the_backup_records_in_a_few_queries_whatever_the_number_of_customers(
        world, backed_up, django_assert_max_num_queries):
    from drportal.inventory.models import Customer

    daily = BackupPolicy.objects.get(name="daily dumps")
    for i in range(20):
        c = Customer.objects.create(slug=f"extra{i}", name=f"Extra {i}")
        a = Asset.objects.create(name=f"extra{i}-db", kind="database", server=world.db2, customer=c)
        PolicyAssetStatus.objects.create(policy=daily, asset=a)
        record(daily, a, timedelta(hours=2), region=world.ord, container="cloudfiles-mci")
    incident = crash(world, disaster_class="datacenter_offline", impacted={"regions": [world.dfw]})
    scope = losswindow.Scope(incident)
    with django_assert_max_num_queries(12):
        windows = [losswindow.window(c, scope, NOW) for c in Customer.objects.filter(slug__startswith="extra")]
    assert all(w.rows[0].seconds_lost == 7200 for w in windows)


@pytest.mark.parametrize("later", [timedelta(hours=1), timedelta(days=1)])
def test_the_window_ends_when_the_loss_began_not_when_the_notice_is_read(world, backed_up, later):
    incident = crash(world, disaster_class="datacenter_offline", impacted={"regions": [world.dfw]})
    notice = notices.create_notice(world.users["sam"], incident, NoticeKind.DATA_LOSS)
    at_declaration = notices.preview(notice, world.customers["acme"], NOW)
    with time_machine.travel(NOW + later, tick=False):
        # Kansas City keeps backing up after the outage (a restored database): it cannot hold the lost data.
        record(BackupPolicy.objects.get(name="weekly KC copy"), backed_up, -later + timedelta(minutes=5),
               region=world.ord, container="cloudfiles-mci", key="after.sql.gz")
        afterwards = notices.preview(notice, world.customers["acme"], NOW + later)
    assert afterwards.loss.rows[0].seconds_lost == at_declaration.loss.rows[0].seconds_lost == 3 * 86400
    assert afterwards.text == at_declaration.text


def test_a_single_crashed_server_loses_its_own_data_not_its_zones(world, backed_up):
    incident = crash(world, world.db1)
    loss = loss_for(incident, world.customers["acme"])
    [row] = loss.rows
    # The Cloud Files copy in Dallas survives a server crash: 12 hours, not the 3 days of losing Dallas.
    assert row.seconds_lost == 12 * 3600
    assert world.customers["globex"].pk not in losswindow.Scope(incident).assets_by_customer
