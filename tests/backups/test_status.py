"""The status engine's plain functions: no database, "now" passed in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from backups import status
from backups.choices import Freshness, LocationRule, OffsiteStatus, PolicyKind, RpoStatus, VerificationStatus


def t(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


DAILY = ("0 4 * * *", "America/Chicago")  # 04:00 Chicago = 10:00 UTC in November (CST)
GRACE = timedelta(hours=2)


def fresh(now: str, success: str | None = None, failure: str | None = None) -> status.FreshnessResult:
    return status.freshness(*DAILY, GRACE, last_success_at=t(success) if success else None,
                            last_failure_at=t(failure) if failure else None, now=t(now))


def test_cron_is_read_in_the_policy_zone_across_dst():
    # 2026-03-08 is the US switch to daylight time: 04:00 Chicago moves from 10:00 to 09:00 UTC.
    runs = status.next_runs(*DAILY, t("2026-03-07 00:00"), 3)
    assert runs == [t("2026-03-07 10:00"), t("2026-03-08 09:00"), t("2026-03-09 09:00")]


def test_a_run_exactly_now_counts_as_past():
    assert status.previous_runs(*DAILY, t("2026-11-21 10:00"), 1) == [t("2026-11-21 10:00")]


def test_it_is_ok_when_the_latest_run_is_covered():
    r = fresh("2026-11-21 12:00", success="2026-11-21 10:20")
    assert r.state == Freshness.OK
    assert r.deadline == t("2026-11-22 12:00")  # next run 10:00 UTC + 2 h grace


def test_it_is_due_within_the_grace_period():
    r = fresh("2026-11-21 11:00", success="2026-11-20 10:20")
    assert (r.state, r.deadline, r.recheck_at) == (Freshness.DUE, t("2026-11-21 12:00"), t("2026-11-21 12:00"))


def test_it_is_late_after_the_grace_period():
    assert fresh("2026-11-21 12:01", success="2026-11-20 10:20").state == Freshness.LATE


def test_it_stays_late_when_a_whole_run_was_missed_even_inside_the_next_grace():
    assert fresh("2026-11-21 10:30", success="2026-11-19 10:20").state == Freshness.LATE


def test_it_is_failed_when_the_newest_attempt_failed():
    assert fresh("2026-11-21 10:30", success="2026-11-20 10:20", failure="2026-11-21 10:10").state == Freshness.FAILED


def test_a_success_after_a_failure_clears_it():
    assert fresh("2026-11-21 11:00", success="2026-11-21 10:40", failure="2026-11-21 10:10").state == Freshness.OK


def test_it_is_never_without_any_record():
    assert fresh("2026-11-21 11:00").state == Freshness.NEVER


def test_rpo_is_ok_at_risk_or_breached():
    objective = timedelta(hours=26)
    deadline = t("2026-11-22 12:00")
    ok = status.rpo(t("2026-11-21 10:00"), objective, freshness_state=Freshness.OK, deadline=deadline,
                    now=t("2026-11-21 20:00"))
    assert (ok.state, ok.seconds) == (RpoStatus.OK, 36000.0)
    assert ok.recheck_at == t("2026-11-22 12:00")
    risky = status.rpo(t("2026-11-21 10:00"), timedelta(hours=24), freshness_state=Freshness.OK, deadline=deadline,
                       now=t("2026-11-21 20:00"))
    assert risky.state == RpoStatus.AT_RISK  # the objective runs out before the next backup is due
    late = status.rpo(t("2026-11-21 10:00"), objective, freshness_state=Freshness.LATE, deadline=deadline,
                      now=t("2026-11-21 20:00"))
    assert late.state == RpoStatus.AT_RISK
    gone = status.rpo(t("2026-11-20 10:00"), objective, freshness_state=Freshness.OK, deadline=deadline,
                      now=t("2026-11-21 12:01"))
    assert gone.state == RpoStatus.BREACHED
    nothing = status.rpo(None, objective, freshness_state=Freshness.NEVER, deadline=None, now=t("2026-11-21 12:00"))
    assert (nothing.state, nothing.seconds) == (RpoStatus.BREACHED, None)


def test_offsite_compares_with_where_the_asset_runs_now():
    def off(rule, **kw):
        base = {"target_region_id": None, "asset_zone_id": 1, "asset_region_id": 10, "copy_zone_id": 2,
                "copy_region_id": 20, "has_copy": True}
        return status.offsite(rule, **(base | kw))

    assert off(LocationRule.ANY) == OffsiteStatus.NOT_REQUIRED
    assert off(LocationRule.OFFSITE_REGION) == OffsiteStatus.OK
    # After a failover into the region holding the copies, they are co-located.
    assert off(LocationRule.OFFSITE_REGION, asset_zone_id=2, asset_region_id=20) == OffsiteStatus.CO_LOCATED
    assert off(LocationRule.OFFSITE_ZONE, copy_zone_id=1, copy_region_id=10) == OffsiteStatus.CO_LOCATED
    # A regional copy (a bucket) survives the loss of one zone.
    assert off(LocationRule.OFFSITE_ZONE, copy_zone_id=None, copy_region_id=10) == OffsiteStatus.OK
    assert off(LocationRule.NAMED_REGION, target_region_id=20) == OffsiteStatus.OK
    assert off(LocationRule.NAMED_REGION, target_region_id=30) == OffsiteStatus.WRONG_REGION
    assert off(LocationRule.OFFSITE_REGION, has_copy=False) == OffsiteStatus.MISSING


def test_verification_needs_a_passing_test_within_the_window():
    now = t("2026-11-21 12:00")
    assert status.verification(None, None, now)[0] == VerificationStatus.NOT_REQUIRED
    assert status.verification(timedelta(days=30), t("2026-11-01 00:00"), now) == (
        VerificationStatus.VERIFIED, t("2026-12-01 00:00"))
    assert status.verification(timedelta(days=30), t("2026-10-01 00:00"), now)[0] == VerificationStatus.UNVERIFIED
    assert status.verification(timedelta(days=30), None, now)[0] == VerificationStatus.UNVERIFIED


def test_viability_per_kind():
    rp = t("2026-11-21 10:00")
    common = {"outcome": "succeeded", "size_bytes": 10, "sha256": "", "provider_state": "", "recovery_point": rp}
    assert not status.is_viable(PolicyKind.DATABASE_DUMP, **common, from_poller=False)  # no checksum
    assert status.is_viable(PolicyKind.DATABASE_DUMP, **(common | {"sha256": "a" * 64}), from_poller=False)
    assert not status.is_viable(PolicyKind.DATABASE_DUMP, **(common | {"size_bytes": 0, "sha256": "a" * 64}),
                                from_poller=False)
    assert not status.is_viable(PolicyKind.SYSTEM_IMAGE, **(common | {"provider_state": "creating"}),
                                from_poller=True)
    assert status.is_viable(PolicyKind.SYSTEM_IMAGE, **(common | {"provider_state": "available"}), from_poller=True)
    assert status.is_viable(PolicyKind.REPOSITORY_MIRROR, **(common | {"provider_state": "in_sync"}),
                            from_poller=True)
    assert not status.is_viable(PolicyKind.REPOSITORY_MIRROR, **(common | {"provider_state": "diverged"}),
                                from_poller=True)
    assert not status.is_viable(PolicyKind.DATABASE_DUMP, **(common | {"outcome": "failed", "sha256": "a" * 64}),
                                from_poller=False)
