"""The sweep: status rows recomputed from raw facts, one change row per flip, one alert per change."""

from __future__ import annotations

from datetime import timedelta

import pytest

from backups import sweep
from backups.choices import Freshness, OffsiteStatus, Outcome, RpoStatus, VerificationStatus
from backups.models import BackupRecord, DailyRollup, PolicyAssetStatus, StatusChange
from notifications.models import StaffPage
from tests.backups.conftest import at, record

NOW = at("2026-11-21 15:00")


def pair(w, policy, asset) -> PolicyAssetStatus:
    return PolicyAssetStatus.objects.get(policy=policy, asset=asset)


@pytest.fixture
def backed_up(world, alice):
    world.alice = alice
    record(world.daily, world.acme_db, at("2026-11-21 10:00"), zone=world.dfw1)
    record(world.weekly, world.acme_db, at("2026-11-15 11:00"), zone=world.mci1)
    sweep.sweep(NOW)
    return world


def test_it_derives_every_dimension_from_the_records(backed_up):
    daily = pair(backed_up, backed_up.daily, backed_up.acme_db)
    assert (daily.freshness, daily.rpo_status, daily.offsite, daily.verification, daily.overall) == (
        Freshness.OK, RpoStatus.OK, OffsiteStatus.NOT_REQUIRED, VerificationStatus.UNVERIFIED, "warning")
    assert daily.recovery_point == at("2026-11-21 10:00")
    assert daily.next_deadline == at("2026-11-22 12:00")
    assert daily.customer_id == backed_up.acme.pk
    assert daily.asset_zone_id == backed_up.dfw1.pk
    weekly = pair(backed_up, backed_up.weekly, backed_up.acme_db)
    assert (weekly.freshness, weekly.offsite) == (Freshness.OK, OffsiteStatus.OK)
    assert pair(backed_up, backed_up.daily, backed_up.zeta_db).freshness == Freshness.NEVER


def test_it_turns_late_after_the_grace_and_alerts_ops_once(backed_up):
    assert StatusChange.objects.count() == 0  # a first evaluation is not a change
    later = at("2026-11-22 12:01")  # the 04:00 Chicago run plus two hours of grace has passed
    sweep.sweep(later)
    daily = pair(backed_up, backed_up.daily, backed_up.acme_db)
    assert daily.freshness == Freshness.LATE
    change = StatusChange.objects.get(pair=daily, dimension="freshness")
    assert (change.before, change.after, change.alert) == ("ok", "late", True)
    [page] = StaffPage.objects.filter(role="ops")
    # Past 04:00 + grace the dump is late, and the recovery point is older than 26 h: one notice for both.
    assert "acme-db is late, breached" in page.subject
    assert f"/backups/assets/{backed_up.acme_db.pk}/" in page.link
    assert list(page.deliveries.values_list("address", flat=True)) == ["alice@example.test"]
    sweep.sweep(later + timedelta(minutes=1))
    sweep.sweep(later + timedelta(minutes=2))
    assert StaffPage.objects.filter(role="ops").count() == 1


def test_without_a_registered_hook_the_alerts_wait_in_their_rows_for_the_next_sweep(backed_up, monkeypatch):
    # Backups never calls notifications itself: notifications registers its alerts with after_sweep at start-up.
    monkeypatch.setattr(sweep, "AFTER_SWEEP", [])
    later = at("2026-11-22 12:01")
    sweep.sweep(later)
    change = StatusChange.objects.get(pair=pair(backed_up, backed_up.daily, backed_up.acme_db), dimension="freshness")
    assert (change.alert, change.notified_at) == (True, None)
    assert not StaffPage.objects.exists()
    monkeypatch.undo()
    sweep.sweep(later + timedelta(minutes=1))
    change.refresh_from_db()
    assert change.notified_at == later + timedelta(minutes=1)
    assert "acme-db is late, breached" in StaffPage.objects.get(role="ops").subject


def test_it_only_rechecks_pairs_that_are_dirty_or_due(backed_up):
    assert sweep.sweep(NOW + timedelta(minutes=1))["pairs"] == 0
    record(backed_up.daily, backed_up.zeta_db, at("2026-11-21 10:05"), zone=backed_up.dfw1)
    PolicyAssetStatus.objects.filter(asset=backed_up.zeta_db).update(dirty=True)
    assert sweep.sweep(NOW + timedelta(minutes=2))["pairs"] == 2
    assert pair(backed_up, backed_up.daily, backed_up.zeta_db).freshness == Freshness.OK


def test_a_failover_into_kansas_city_makes_the_offsite_copies_co_located(backed_up):
    backed_up.db1.zone = backed_up.mci1
    backed_up.db1.save()
    sweep.sweep(NOW + timedelta(minutes=5))
    weekly = pair(backed_up, backed_up.weekly, backed_up.acme_db)
    assert weekly.offsite == OffsiteStatus.CO_LOCATED
    assert weekly.overall == "bad"
    assert StatusChange.objects.filter(pair=weekly, dimension="offsite", after="co_located", alert=True).exists()
    assert StaffPage.objects.filter(subject__contains="co located").exists()


def test_a_failed_attempt_marks_the_pair_failed(backed_up):
    BackupRecord.objects.create(
        policy=backed_up.daily, asset=backed_up.acme_db, client_id="x", started_at=at("2026-11-22 10:00"),
        completed_at=at("2026-11-22 10:05"), outcome=Outcome.FAILED, error="disk full")
    PolicyAssetStatus.objects.update(dirty=True)
    sweep.sweep(at("2026-11-22 10:30"))
    assert pair(backed_up, backed_up.daily, backed_up.acme_db).freshness == Freshness.FAILED


def test_copies_in_a_zone_that_is_down_are_not_recovery_points(backed_up):
    from drportal.incidents.models import Incident

    incident = Incident.objects.create(title="Dallas offline", disaster_class="datacenter_offline",
                                       severity="sev1", declared_by=backed_up.alice, declared_at=NOW)
    incident.impacted_zones.add(backed_up.dfw1)
    sweep.sweep(NOW + timedelta(minutes=5))
    daily = pair(backed_up, backed_up.daily, backed_up.acme_db)
    assert daily.recovery_point is None
    assert daily.rpo_status == RpoStatus.BREACHED


def test_rollups_count_observed_and_compliant_time_once(backed_up):
    sweep.sweep(NOW + timedelta(minutes=10))
    sweep.sweep(NOW + timedelta(minutes=10))  # the same moment twice adds nothing
    weekly = DailyRollup.objects.get(policy=backed_up.weekly, customer=backed_up.acme, day=NOW.date())
    assert (weekly.observed_seconds, weekly.compliant_seconds) == (600.0, 600.0)
    never = DailyRollup.objects.get(policy=backed_up.daily, customer=backed_up.zeta, day=NOW.date())
    assert (never.observed_seconds, never.compliant_seconds) == (600.0, 0.0)
    images = DailyRollup.objects.get(policy=backed_up.images, customer=None, day=NOW.date())
    assert images.observed_seconds == 600.0  # servers have no customer: one row per policy and day


def test_rollups_split_at_midnight(backed_up):
    from backups.models import SweepState

    SweepState.objects.filter(name="rollup").update(until=at("2026-11-21 23:50"))
    sweep.sweep(at("2026-11-22 00:20"))
    rows = dict(DailyRollup.objects.filter(policy=backed_up.weekly, customer=backed_up.acme)
                .values_list("day", "observed_seconds"))
    assert rows == {at("2026-11-21 00:00").date(): 600.0, at("2026-11-22 00:00").date(): 1200.0}


def test_finished_records_cannot_be_changed_even_with_sql(backed_up):
    from django.db import DataError, InternalError, ProgrammingError, connection, transaction

    rec = BackupRecord.objects.filter(policy=backed_up.daily).first()
    with pytest.raises((InternalError, ProgrammingError, DataError)), transaction.atomic(), connection.cursor() as c:
        c.execute("UPDATE backups_backuprecord SET size_bytes = 1 WHERE id = %s", [rec.pk])
    BackupRecord.objects.filter(pk=rec.pk).update(verified_ok=True)  # what is learnt later may be added
