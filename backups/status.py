"""The status engine: plain functions over timestamps, "now" always passed in. No database access here;
backups.sweep feeds these functions the facts and stores what they return."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from croniter import croniter

from backups.choices import (
    CHECKSUM_KINDS,
    PROVIDER_STATE_KINDS,
    Freshness,
    LocationRule,
    OffsiteStatus,
    Outcome,
    Overall,
    PolicyKind,
    RpoStatus,
    VerificationStatus,
)

# --- schedules ------------------------------------------------------------------------------------------

def _local(moment: datetime, tz: str) -> datetime:
    return moment.astimezone(zoneinfo.ZoneInfo(tz))


def next_runs(schedule: str, tz: str, after: datetime, count: int = 3) -> list[datetime]:
    """The next `count` runs strictly after `after`, in UTC. Cron is read in the policy's zone and then
    converted, because "0 3 * * *" means 03:00 on the office clock in summer and in winter (DST)."""
    return list(_next_runs(schedule, tz, after, count))


def previous_runs(schedule: str, tz: str, at: datetime, count: int = 2) -> list[datetime]:
    """The `count` most recent runs at or before `at`, newest first, in UTC."""
    return list(_previous_runs(schedule, tz, at, count))


# A sweep evaluates thousands of pairs of the same few policies at the same "now": croniter once per policy.
@lru_cache(maxsize=4096)
def _next_runs(schedule: str, tz: str, after: datetime, count: int) -> tuple[datetime, ...]:
    it = croniter(schedule, _local(after, tz))
    return tuple(it.get_next(datetime).astimezone(UTC) for _ in range(count))


@lru_cache(maxsize=4096)
def _previous_runs(schedule: str, tz: str, at: datetime, count: int) -> tuple[datetime, ...]:
    # croniter's get_prev is strict; nudge by a microsecond so a run exactly at `at` counts as past.
    it = croniter(schedule, _local(at + timedelta(microseconds=1), tz))
    return tuple(it.get_prev(datetime).astimezone(UTC) for _ in range(count))


# --- viability of one record ----------------------------------------------------------------------------

def is_viable(kind: str, *, outcome: str, size_bytes: int | None, sha256: str, provider_state: str,
              recovery_point: datetime | None, from_poller: bool) -> bool:
    """Viability as far as the facts at ingestion tell (see docs/backups.md, "Viability"):
    dumps and file copies: succeeded, non-empty, with a checksum (an agent's SHA-256, or the provider's
    listing of the stored object for a poller); a later mismatch found by a restore test revokes it
    (BackupRecord.checksum_ok). Images and snapshots: the provider reports them available. Point-in-time:
    a latest restorable time was reported (the window's end is `expires_at`). Mirrors: heads equal."""
    if outcome != Outcome.SUCCEEDED or recovery_point is None:
        return False
    if kind in CHECKSUM_KINDS:
        return bool(size_bytes) and (bool(sha256) or from_poller)
    if kind in PROVIDER_STATE_KINDS:
        return provider_state == "available"
    if kind == PolicyKind.REPOSITORY_MIRROR:
        return provider_state == "in_sync"
    return kind == PolicyKind.POINT_IN_TIME


# --- the four dimensions of a policy-asset pair ---------------------------------------------------------

@dataclass(frozen=True)
class FreshnessResult:
    state: str
    expected_at: datetime | None
    deadline: datetime | None
    recheck_at: datetime | None


def freshness(schedule: str, tz: str, grace: timedelta, *, last_success_at: datetime | None,
              last_failure_at: datetime | None, now: datetime) -> FreshnessResult:
    """ok: the newest scheduled run is covered by a success; due: it is not yet, but still within grace;
    late: past the run plus grace, or a whole earlier run was missed; failed: the newest attempt failed;
    never: nothing was ever recorded."""
    prev, prev2 = previous_runs(schedule, tz, now, 2)
    nxt = next_runs(schedule, tz, now, 1)[0]
    if last_success_at is None and last_failure_at is None:
        return FreshnessResult(Freshness.NEVER, prev, prev + grace, nxt)
    if last_failure_at is not None and (last_success_at is None or last_failure_at > last_success_at):
        return FreshnessResult(Freshness.FAILED, prev, prev + grace, nxt)
    if last_success_at >= prev:
        return FreshnessResult(Freshness.OK, nxt, nxt + grace, nxt)
    if last_success_at >= prev2 and now < prev + grace:
        return FreshnessResult(Freshness.DUE, prev, prev + grace, prev + grace)
    return FreshnessResult(Freshness.LATE, prev, prev + grace, nxt)


@dataclass(frozen=True)
class RpoResult:
    state: str
    seconds: float | None
    recheck_at: datetime | None


def rpo(recovery_point: datetime | None, objective: timedelta, *, freshness_state: str,
        deadline: datetime | None, now: datetime) -> RpoResult:
    """breached: older than the objective (or nothing to restore); at risk: the objective will run out before
    the next backup is due (deadline), or the backups are late or failing; ok otherwise."""
    if recovery_point is None:
        return RpoResult(RpoStatus.BREACHED, None, None)
    age = now - recovery_point
    breach_at = recovery_point + objective
    if age > objective:
        return RpoResult(RpoStatus.BREACHED, age.total_seconds(), None)
    troubled = freshness_state in (Freshness.LATE, Freshness.FAILED, Freshness.NEVER)
    if troubled or (deadline is not None and breach_at < deadline):
        return RpoResult(RpoStatus.AT_RISK, age.total_seconds(), breach_at)
    return RpoResult(RpoStatus.OK, age.total_seconds(), breach_at)


def offsite(rule: str, *, target_region_id: int | None, asset_zone_id: int | None, asset_region_id: int | None,
            copy_zone_id: int | None, copy_region_id: int | None, has_copy: bool) -> str:
    """Compares where the newest viable copy sits with where the asset runs NOW: after a failover into the
    region holding the "off-site" copies they are co-located (the Jivosoft plan's closing warning)."""
    if rule == LocationRule.ANY:
        return OffsiteStatus.NOT_REQUIRED
    if not has_copy or (copy_zone_id is None and copy_region_id is None):
        return OffsiteStatus.MISSING
    if rule == LocationRule.NAMED_REGION:
        return OffsiteStatus.OK if copy_region_id == target_region_id else OffsiteStatus.WRONG_REGION
    if rule == LocationRule.OFFSITE_REGION:
        return OffsiteStatus.CO_LOCATED if copy_region_id == asset_region_id else OffsiteStatus.OK
    # Zone rule: a copy held at region level (S3, Cloud Files) survives the loss of one zone.
    if copy_zone_id is not None:
        return OffsiteStatus.CO_LOCATED if copy_zone_id == asset_zone_id else OffsiteStatus.OK
    return OffsiteStatus.OK


def verification(verify_within: timedelta | None, last_verified_at: datetime | None,
                 now: datetime) -> tuple[str, datetime | None]:
    """(state, recheck_at): unverified when no restore test passed within the policy's window."""
    if verify_within is None:
        return VerificationStatus.NOT_REQUIRED, None
    if last_verified_at is not None and last_verified_at + verify_within > now:
        return VerificationStatus.VERIFIED, last_verified_at + verify_within
    return VerificationStatus.UNVERIFIED, None


def overall(freshness_state: str, rpo_state: str, offsite_state: str, verification_state: str) -> str:
    if (
        freshness_state in (Freshness.LATE, Freshness.FAILED, Freshness.NEVER)
        or rpo_state == RpoStatus.BREACHED
        or offsite_state in (OffsiteStatus.CO_LOCATED, OffsiteStatus.MISSING, OffsiteStatus.WRONG_REGION)
    ):
        return Overall.BAD
    if rpo_state == RpoStatus.AT_RISK or verification_state == VerificationStatus.UNVERIFIED:
        return Overall.WARNING
    return Overall.OK


def worst_rpo(states: list[str]) -> str:
    """A customer's RPO status is that of its worst database."""
    order = [RpoStatus.OK, RpoStatus.AT_RISK, RpoStatus.BREACHED]
    return max(states, key=order.index) if states else RpoStatus.OK


# --- one pair, all dimensions at once -------------------------------------------------------------------

@dataclass(frozen=True)
class PairFacts:
    last_success_at: datetime | None
    last_failure_at: datetime | None
    recovery_point: datetime | None
    copy_zone_id: int | None
    copy_region_id: int | None
    asset_zone_id: int | None
    asset_region_id: int | None
    last_verified_at: datetime | None
    recovery_expires_at: datetime | None = None


@dataclass(frozen=True)
class PairStatus:
    freshness: str
    expected_at: datetime | None
    next_deadline: datetime | None
    rpo_status: str
    rpo_seconds: float | None
    offsite: str
    verification: str
    overall: str
    recheck_at: datetime | None


def evaluate(policy, facts: PairFacts, now: datetime) -> PairStatus:
    """All four dimensions of one pair, and the earliest moment any of them can change by time alone."""
    fr = freshness(policy.schedule, policy.time_zone, policy.grace, last_success_at=facts.last_success_at,
                   last_failure_at=facts.last_failure_at, now=now)
    rp = rpo(facts.recovery_point, policy.rpo_objective, freshness_state=fr.state, deadline=fr.deadline, now=now)
    off = offsite(policy.location_rule, target_region_id=policy.target_region_id,
                  asset_zone_id=facts.asset_zone_id, asset_region_id=facts.asset_region_id,
                  copy_zone_id=facts.copy_zone_id, copy_region_id=facts.copy_region_id,
                  has_copy=facts.recovery_point is not None)
    ver, ver_recheck = verification(policy.verify_within, facts.last_verified_at, now)
    rechecks = [t for t in (fr.recheck_at, rp.recheck_at, ver_recheck, facts.recovery_expires_at) if t is not None]
    return PairStatus(
        freshness=fr.state, expected_at=fr.expected_at, next_deadline=fr.deadline, rpo_status=rp.state,
        rpo_seconds=rp.seconds, offsite=off, verification=ver, overall=overall(fr.state, rp.state, off, ver),
        recheck_at=min(rechecks) if rechecks else None,
    )
