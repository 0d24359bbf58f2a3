"""Exposure: the Jivosoft plan promises no loss "prior to the early morning of the day", but if Dallas is lost
only the weekly Kansas City copies remain."""

from __future__ import annotations

from datetime import timedelta

from backups import exposure, sweep
from tests.backups.conftest import at, record

NOW = at("2026-11-21 15:00")  # a Saturday afternoon


def jivosoft_backups(w):
    for day in range(0, 8):  # daily dumps at 04:00 Chicago (10:00 UTC), in Dallas
        started = at("2026-11-21 10:00") - timedelta(days=day)
        for db in (w.acme_db, w.zeta_db):
            record(w.daily, db, started, zone=w.dfw1)
    for sunday in ("2026-11-15 11:00", "2026-11-08 11:00"):  # weekly copies in Kansas City
        for db in (w.acme_db, w.zeta_db):
            record(w.weekly, db, at(sunday), zone=w.mci1)


def test_losing_dallas_leaves_only_the_weekly_kansas_city_copy(world):
    jivosoft_backups(world)
    window = exposure.data_loss_window(world.acme_db, {world.dfw1.pk}, NOW)
    assert window.recovery_point == at("2026-11-15 11:00")
    assert window.seconds_lost == (NOW - at("2026-11-15 11:00")).total_seconds()  # 6 days 4 hours
    assert window.location.startswith("rackspace/mci/mci1")
    assert window.objective_seconds == 26 * 3600
    assert window.breaches_objective  # the plan's promise does not hold
    assert "more than the plan's objective" in window.explanation


def test_losing_kansas_city_loses_nothing_of_a_database_running_in_dallas(world):
    jivosoft_backups(world)
    window = exposure.data_loss_window(world.acme_db, {world.mci1.pk}, NOW)
    assert window.seconds_lost == 0.0
    assert not window.breaches_objective


def test_an_expired_or_mismatched_copy_does_not_count(world):
    jivosoft_backups(world)
    from backups.models import BackupRecord

    newest = BackupRecord.objects.get(policy=world.weekly, asset=world.acme_db, started_at=at("2026-11-15 11:00"))
    BackupRecord.objects.filter(pk=newest.pk).update(checksum_ok=False)
    window = exposure.data_loss_window(world.acme_db, {world.dfw1.pk}, NOW)
    assert window.recovery_point == at("2026-11-08 11:00")
    assert exposure.data_loss_window(world.acme_db, {world.dfw1.pk}, NOW + timedelta(days=80)).recovery_point is None


def test_without_any_copy_outside_the_lost_zone_everything_is_lost(world):
    record(world.daily, world.acme_db, at("2026-11-21 10:00"), zone=world.dfw1)
    window = exposure.data_loss_window(world.acme_db, {world.dfw1.pk}, NOW)
    assert (window.recovery_point, window.seconds_lost, window.breaches_objective) == (None, None, True)


def test_customer_exposure_lists_each_protected_asset(world):
    jivosoft_backups(world)
    rows = exposure.customer_exposure(world.acme, {world.dfw1.pk}, NOW)
    assert [r.asset_name for r in rows] == ["acme-db"]
    assert rows[0].recovery_point == at("2026-11-15 11:00")


def test_region_exposure_shows_each_zone_and_region_per_customer(world):
    jivosoft_backups(world)
    sweep.sweep(NOW)
    rows = exposure.region_exposure(NOW)
    dallas = {(r.scope, r.customer) for r in rows if r.location.startswith("rackspace/dfw")}
    assert dallas == {("zone", "Acme Dental"), ("zone", "Zeta Clinics"), ("region", "Acme Dental"),
                      ("region", "Zeta Clinics")}
    acme_zone = next(r for r in rows if r.scope == "zone" and r.customer == "Acme Dental")
    assert acme_zone.oldest_recovery_point == at("2026-11-15 11:00")
    assert acme_zone.breaches_objective
    assert acme_zone.seconds_lost == (NOW - at("2026-11-15 11:00")).total_seconds()


def test_a_point_in_time_window_survives_the_loss_of_one_availability_zone(world):
    # RDS keeps its point-in-time logs at region level: losing us-east-1a costs at most the last minutes.
    record(world.pitr, world.rds, at("2026-11-21 14:55"), region=world.use1, recovery_point=at("2026-11-21 14:57"),
           sha256="", size=0)
    window = exposure.data_loss_window(world.rds, {world.use1a.pk}, NOW)
    assert window.seconds_lost == 180.0
    assert not window.breaches_objective


def test_a_multi_az_standby_keeps_every_write_when_the_primary_zone_is_lost(world):
    # Cybernance: RDS with synchronous replication to a standby in another availability zone.
    world.rds.metadata = {"multi_az": True, "standby_zone": "us-east-1b"}
    world.rds.save()
    record(world.pitr, world.rds, at("2026-11-21 14:55"), region=world.use1, recovery_point=at("2026-11-21 14:57"),
           sha256="", size=0)
    window = exposure.data_loss_window(world.rds, {world.use1a.pk}, NOW)
    assert (window.seconds_lost, window.location) == (0.0, "aws/us-east-1/us-east-1b (synchronous standby)")
    from drportal.inventory.models import Zone

    Zone.objects.create(region=world.use1, slug="us-east-1c", name="us-east-1c")
    both = exposure.data_loss_window(world.rds, {world.use1a.pk, world.use1b.pk}, NOW)
    assert both.seconds_lost == 180.0  # both zones gone, the region stands: back to the point-in-time logs
    region = exposure.data_loss_window(world.rds, set(Zone.objects.filter(region=world.use1).values_list("pk",
                                                                                                      flat=True)), NOW)
    assert region.recovery_point is None  # the whole region: its automated backups go with it


def test_a_sweep_rewrites_the_exposure_of_the_customers_whose_pairs_it_recomputed(world):
    jivosoft_backups(world)
    sweep.sweep(NOW)
    record(world.weekly, world.acme_db, at("2026-11-21 11:00"), zone=world.mci1)  # an extra copy to Kansas City
    from backups.models import PolicyAssetStatus

    PolicyAssetStatus.objects.filter(asset=world.acme_db).update(dirty=True)  # as ingestion marks it
    sweep.sweep(NOW + timedelta(minutes=1))
    dallas = {r.customer: r for r in exposure.region_exposure(NOW, scope="zone") if r.location == "rackspace/dfw/dfw1"}
    assert dallas["Acme Dental"].oldest_recovery_point == at("2026-11-21 11:00")
    assert dallas["Zeta Clinics"].oldest_recovery_point == at("2026-11-15 11:00")  # untouched: still a week
    assert dallas["Zeta Clinics"].breaches_objective


def test_after_a_failover_the_exposure_rows_follow_the_databases_to_their_new_zone(world):
    jivosoft_backups(world)
    sweep.sweep(NOW)
    world.db1.zone = world.mci1  # Dallas failed over to Kansas City, where the weekly copies are
    world.db1.save()
    sweep.sweep(NOW + timedelta(minutes=1))
    zones = {(r.location, r.customer): r for r in exposure.region_exposure(NOW, scope="zone")}
    assert ("rackspace/dfw/dfw1", "Acme Dental") not in zones
    kansas_city = zones[("rackspace/mci/mci1", "Acme Dental")]
    assert kansas_city.oldest_recovery_point == at("2026-11-21 10:00")  # the Dallas dumps are off-site now
