"""Recomputes the status rows of policy-asset pairs from the raw facts (records, inventory, incidents), writes
a StatusChange for every flip, integrates compliance into daily rollups, and hands the changes to the hooks other
apps register (AFTER_SWEEP: notifications alerts ops once per change)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from django.db import connection, transaction

from backups import compliance, exposure, status
from backups.choices import ALERT_STATES, VerificationStatus
from backups.models import BackupPolicy, PolicyAssetStatus, StatusChange, SweepState
from backups.outages import down_locations
from drportal.audit import log as audit

logger = logging.getLogger(__name__)

CHUNK = 2000
DIMENSIONS = ("freshness", "rpo_status", "offsite", "verification")
# A gap longer than this between sweeps was not observed: it is left out of the compliance figures.
MAX_ROLLUP_STEP = timedelta(hours=1)

# What other apps do once a sweep has written its StatusChange rows, registered in their AppConfig.ready():
# notifications pages ops about the ones marked alert=True (notifications/backup_alerts.py). Backups never imports
# them; the rows wait (notified_at empty) until a hook claims them.
AFTER_SWEEP: list[Callable[[datetime], object]] = []


def after_sweep(hook: Callable[[datetime], object]) -> None:
    """Call `hook(now)` after every sweep (once, however often it is registered)."""
    if hook not in AFTER_SWEEP:
        AFTER_SWEEP.append(hook)


VIABLE = "r.viable AND r.checksum_ok IS NOT FALSE AND (r.expires_at IS NULL OR r.expires_at > %(now)s)"

# VIABLE is a constant: no outside input is formatted into this SQL.
FACTS_SQL = f"""
SELECT s.id,
  (SELECT max(coalesce(r.completed_at, r.started_at)) FROM backups_backuprecord r
     WHERE r.asset_id = s.asset_id AND r.policy_id = s.policy_id AND r.outcome = 'succeeded'),
  (SELECT max(coalesce(r.completed_at, r.started_at)) FROM backups_backuprecord r
     WHERE r.asset_id = s.asset_id AND r.policy_id = s.policy_id AND r.outcome = 'failed'),
  v.id, v.recovery_point, v.zone_id, v.region_id, v.expires_at,
  (SELECT max(r.recovery_point) FROM backups_backuprecord r
     WHERE r.asset_id = s.asset_id AND r.policy_id = s.policy_id AND {VIABLE}
       AND (r.zone_id IS NOT NULL OR r.region_id IS NOT NULL) AND r.zone_id IS DISTINCT FROM s.asset_zone_id),
  (SELECT max(r.recovery_point) FROM backups_backuprecord r
     WHERE r.asset_id = s.asset_id AND r.policy_id = s.policy_id AND {VIABLE}
       AND r.region_id IS NOT NULL AND r.region_id IS DISTINCT FROM s.asset_region_id),
  (SELECT max(r.verified_at) FROM backups_backuprecord r
     WHERE r.asset_id = s.asset_id AND r.policy_id = s.policy_id AND r.verified_ok)
FROM backups_policyassetstatus s
LEFT JOIN LATERAL (
  SELECT r.id, r.recovery_point, r.zone_id, r.region_id, r.expires_at FROM backups_backuprecord r
  WHERE r.asset_id = s.asset_id AND r.policy_id = s.policy_id AND {VIABLE}
    AND NOT (r.zone_id = ANY(%(down_zones)s)) IS TRUE
    AND NOT (r.zone_id IS NULL AND r.region_id = ANY(%(down_regions)s)) IS TRUE
  ORDER BY r.recovery_point DESC LIMIT 1
) v ON true
WHERE s.id = ANY(%(ids)s)
"""  # noqa: S608

# Where each asset runs now (its server's zone, else its own) and its customer, copied onto its pairs.
# A move (a failover) marks the pair dirty, which is how "off-site" copies become co-located.
LOCATE_SQL = """
UPDATE backups_policyassetstatus s
SET asset_zone_id = loc.zone_id, asset_region_id = loc.region_id, customer_id = loc.customer_id, dirty = true
FROM (
  SELECT a.id AS asset_id, z.id AS zone_id, z.region_id, a.customer_id
  FROM inventory_asset a
  LEFT JOIN inventory_server sv ON sv.id = a.server_id
  LEFT JOIN inventory_zone z ON z.id = coalesce(sv.zone_id, a.zone_id)
) loc
WHERE loc.asset_id = s.asset_id
  AND (s.asset_zone_id IS DISTINCT FROM loc.zone_id OR s.customer_id IS DISTINCT FROM loc.customer_id
       OR s.swept_at IS NULL)
"""


def _mark_dirty_on_outage_change(zones: list[int]) -> None:
    fingerprint = ",".join(map(str, zones))
    state, _ = SweepState.objects.get_or_create(name="down-zones")
    if state.value != fingerprint:
        # The set of zones that are up decides "most recent viable": every pair must be recomputed.
        if SweepState.objects.filter(pk=state.pk, value=state.value).update(value=fingerprint):
            PolicyAssetStatus.objects.update(dirty=True)


def sweep(now: datetime, *, actor: str = "job:backups.sweep", rollup_step: timedelta = MAX_ROLLUP_STEP) -> dict:
    """Recompute every pair that is dirty or whose recheck time has come. Rows are claimed with
    SELECT ... FOR UPDATE SKIP LOCKED, so two sweeps running at once never write the same pair.
    `rollup_step`: the longest gap since the last sweep counted as observed (integrate_rollups)."""
    with connection.cursor() as cur:
        cur.execute(LOCATE_SQL)
    down_zones, down_regions = down_locations()
    _mark_dirty_on_outage_change(down_zones)
    policies = {p.pk: p for p in BackupPolicy.objects.all()}
    totals = {"pairs": 0, "changes": 0}
    customers: set[int] = set()
    while True:
        with transaction.atomic():
            ids = list(
                PolicyAssetStatus.objects.select_for_update(skip_locked=True)
                .filter(_due_filter(now))
                .order_by("id")
                .values_list("id", flat=True)[:CHUNK]
            )
            if not ids:
                break
            changes = _recompute(ids, policies, down_zones, down_regions, now, customers)
            totals["pairs"] += len(ids)
            totals["changes"] += len(changes)
    # The exposure page's rows derive from the pairs just written: rewrite those of the customers concerned.
    exposure.store(customers)
    if integrate_rollups(now, rollup_step):
        compliance.store_summaries(now)
    store_counts()
    for hook in AFTER_SWEEP:
        hook(now)
    if totals["changes"]:
        audit.record(actor, "backups.sweep", after=totals)
    return totals


COLOURS = ("ok", "warning", "bad")


# One pass over the pairs for every count stored below, folded in Python (a few hundred groups at most). A plain
# GROUP BY, not GROUPING SETS: PostgreSQL aggregates it in parallel workers (EXPLAIN ANALYZE at 10x: 0.96 s
# against 1.98 s for the three grouping sets).
COUNTS_SQL = """
SELECT s.policy_id, s.overall, s.freshness, s.rpo_status, s.offsite, COALESCE(r.name, ''), c.tier, count(*),
       max(s.rpo_seconds), min(s.recovery_point), count(*) FILTER (WHERE s.recovery_point IS NULL)
FROM backups_policyassetstatus s
LEFT JOIN inventory_region r ON r.id = s.asset_region_id
LEFT JOIN inventory_customer c ON c.id = s.customer_id
GROUP BY 1, 2, 3, 4, 5, 6, 7
"""
PROBLEMS = {"rpo_breached": (3, "breached"), "late": (2, "late"), "failed": (2, "failed"),
            "co_located": (4, "co_located")}


def store_counts() -> dict[str, int]:
    """Pairs per colour, the pairs in each bad state the front dashboard names, per policy its pairs and its bad
    ones, and the breakdowns /metrics exposes (drportal.metrics reads them as stored here: the "metrics" key),
    kept on a SweepState row: statuses only change in a sweep, so the dashboard, the status list, the policy
    list and a Prometheus scrape read these instead of counting 1,000,000 pairs on every view."""
    import json

    with connection.cursor() as cur:
        cur.execute(COUNTS_SQL)
        rows = cur.fetchall()
    counts = dict.fromkeys(COLOURS, 0)
    problems = dict.fromkeys(PROBLEMS, 0)
    policies: dict[str, list[int]] = {}
    for row in rows:
        policy, overall, n = row[0], row[1], row[7]
        counts[overall] = counts.get(overall, 0) + n
        for name, (column, value) in PROBLEMS.items():
            problems[name] += n if row[column] == value else 0
        per = policies.setdefault(str(policy), [0, 0])
        per[0] += n
        per[1] += n if overall == "bad" else 0
    value = counts | {"problems": problems, "policies": policies, "metrics": _metrics(rows)}
    SweepState.objects.update_or_create(name="counts", defaults={"value": json.dumps(value)})
    return counts


def _metrics(rows: list[tuple]) -> dict[str, list]:
    """COUNTS_SQL's groups as /metrics reads them: pairs per policy and state; per region and per customer
    tier (a pair without a customer counts in its region only) and overall state, with the largest RPO age;
    per policy its oldest recovery point and how many pairs have none (/metrics computes the age at scrape
    time, so it grows, and alerts, even when the sweep has stopped)."""
    states: dict[tuple, int] = {}
    places: dict[str, dict[tuple, list]] = {"regions": {}, "tiers": {}}
    oldest: dict[int, list] = {}
    for policy, overall, freshness, rpo, offsite, region, tier, n, most, first, never in rows:
        key = (policy, freshness, rpo, offsite)
        states[key] = states.get(key, 0) + n
        for kind, place in (("regions", region), ("tiers", tier)):
            if place is None:
                continue
            seen = places[kind].setdefault((place, overall), [0, None])
            seen[0] += n
            seen[1] = most if seen[1] is None or (most is not None and most > seen[1]) else seen[1]
        point = oldest.setdefault(policy, [None, 0])
        point[0] = first if point[0] is None or (first is not None and first < point[0]) else point[0]
        point[1] += never
    return {"states": [[*key, n] for key, n in states.items()],
            **{kind: [[*key, n, most] for key, (n, most) in found.items()] for kind, found in places.items()},
            "oldest": [[policy, first.isoformat() if first else None, never]
                       for policy, (first, never) in oldest.items()]}


def _stored() -> dict:
    import json

    row = SweepState.objects.filter(name="counts").values_list("value", flat=True).first()
    return json.loads(row) if row else {}


def counts() -> dict[str, int]:
    """Pairs per colour as of the last sweep (one query)."""
    stored = _stored()
    return {c: stored.get(c, 0) for c in COLOURS}


def problem_counts() -> dict[str, int] | None:
    """Pairs breaching their RPO, late, failed, co-located, as of the last sweep (one query); None before the
    first sweep that stored them."""
    return _stored().get("problems")


def policy_counts() -> dict[int, tuple[int, int]] | None:
    """Per policy id, its pairs and its bad pairs as of the last sweep (one query); None before the first
    sweep that stored them."""
    stored = _stored().get("policies")
    return None if stored is None else {int(k): (n, bad) for k, (n, bad) in stored.items()}


def _due_filter(now: datetime):
    from django.db.models import Q

    return Q(dirty=True) | Q(recheck_at__lte=now) | Q(swept_at__isnull=True)


def _recompute(ids: list[int], policies: dict, down_zones: list[int], down_regions: list[int],
               now: datetime, customers: set[int] | None = None) -> list[StatusChange]:
    """Recompute these pairs; adds their customers to `customers`."""
    with connection.cursor() as cur:
        # The planner prices a 2,000-pair chunk above jit_optimize_above_cost, and compiling the statement then
        # took 1.5-4 s of a 0.25 s query (EXPLAIN ANALYZE on the benchmark data): the whole first sweep was JIT.
        # SET LOCAL: only this chunk's transaction.
        cur.execute("SET LOCAL jit = off")
        cur.execute(FACTS_SQL, {"ids": ids, "now": now, "down_zones": down_zones, "down_regions": down_regions})
        facts = {row[0]: row[1:] for row in cur.fetchall()}
    pairs = list(PolicyAssetStatus.objects.filter(id__in=ids))
    changes: list[StatusChange] = []
    for pair in pairs:
        (last_ok, last_fail, rec_id, rp, rec_zone, rec_region, rec_expires, offzone, offregion,
         verified) = facts[pair.id]
        policy = policies[pair.policy_id]
        result = status.evaluate(policy, status.PairFacts(
            last_success_at=last_ok, last_failure_at=last_fail, recovery_point=rp, copy_zone_id=rec_zone,
            copy_region_id=rec_region, asset_zone_id=pair.asset_zone_id, asset_region_id=pair.asset_region_id,
            last_verified_at=verified, recovery_expires_at=rec_expires), now)
        first = pair.swept_at is None
        for dim in DIMENSIONS:
            before, after = getattr(pair, dim), getattr(result, dim)
            if before != after and not first:
                changes.append(StatusChange(pair=pair, at=now, dimension=dim, before=before, after=after,
                                            alert=after in ALERT_STATES[dim]))
            setattr(pair, dim, after)
        if any(c.pair is pair for c in changes):
            pair.changed_at = now
        pair.last_success_at, pair.recovery_point, pair.recovery_record_id = last_ok, rp, rec_id
        pair.offzone_recovery_point, pair.offregion_recovery_point = offzone, offregion
        pair.last_verified_at, pair.expected_at, pair.next_deadline = verified, result.expected_at, result.next_deadline
        pair.rpo_seconds, pair.overall, pair.recheck_at = result.rpo_seconds, result.overall, result.recheck_at
        pair.dirty, pair.swept_at = False, now
        if customers is not None and pair.customer_id is not None:
            customers.add(pair.customer_id)
    _write(pairs)
    StatusChange.objects.bulk_create(changes)
    return changes


# (column, SQL type) written back by the sweep. One UPDATE ... FROM (VALUES ...) per chunk: Django's
# bulk_update builds a CASE per column with a branch per row, which PostgreSQL evaluates row by row.
WRITTEN = [
    ("freshness", "varchar"), ("rpo_status", "varchar"), ("offsite", "varchar"), ("verification", "varchar"),
    ("changed_at", "timestamptz"), ("last_success_at", "timestamptz"), ("recovery_point", "timestamptz"),
    ("recovery_record_id", "bigint"), ("offzone_recovery_point", "timestamptz"),
    ("offregion_recovery_point", "timestamptz"), ("last_verified_at", "timestamptz"), ("expected_at", "timestamptz"),
    ("next_deadline", "timestamptz"), ("rpo_seconds", "double precision"), ("overall", "varchar"),
    ("recheck_at", "timestamptz"), ("dirty", "boolean"), ("swept_at", "timestamptz"),
]


def _write(pairs: list[PolicyAssetStatus]) -> None:
    if not pairs:
        return
    columns = ", ".join(["id", *(c for c, _ in WRITTEN)])
    assignments = ", ".join(f"{c} = v.{c}::{t}" for c, t in WRITTEN)
    row = "(" + ", ".join(["%s::bigint"] + [f"%s::{t}" for _, t in WRITTEN]) + ")"
    params = [value for p in pairs for value in [p.pk, *(getattr(p, c) for c, _ in WRITTEN)]]
    # Only fixed column names and placeholders are formatted in; the values go as parameters.
    sql = (f"UPDATE backups_policyassetstatus s SET {assignments} FROM (VALUES {', '.join([row] * len(pairs))}) "  # noqa: S608
           f"AS v({columns}) WHERE s.id = v.id")
    with connection.cursor() as cur:
        cur.execute(sql, params)


ROLLUP_SQL = """
INSERT INTO backups_dailyrollup (day, policy_id, customer_id, observed_seconds, compliant_seconds,
                                 unverified_seconds)
SELECT %(day)s, s.policy_id, s.customer_id, count(*) * %(secs)s,
       count(*) FILTER (WHERE s.overall <> 'bad' AND s.verification <> %(unverified)s) * %(secs)s,
       count(*) FILTER (WHERE s.overall <> 'bad' AND s.verification = %(unverified)s) * %(secs)s
FROM backups_policyassetstatus s WHERE s.swept_at IS NOT NULL
GROUP BY s.policy_id, s.customer_id
ON CONFLICT (day, policy_id, customer_id) DO UPDATE SET
  observed_seconds = backups_dailyrollup.observed_seconds + EXCLUDED.observed_seconds,
  compliant_seconds = backups_dailyrollup.compliant_seconds + EXCLUDED.compliant_seconds,
  unverified_seconds = backups_dailyrollup.unverified_seconds + EXCLUDED.unverified_seconds
"""

OBSERVED_SQL = """
INSERT INTO backups_observedday (day, seconds) VALUES (%(day)s, %(secs)s)
ON CONFLICT (day) DO UPDATE SET seconds = backups_observedday.seconds + EXCLUDED.seconds
"""


def integrate_rollups(now: datetime, max_step: timedelta = MAX_ROLLUP_STEP) -> float:
    """Add the time since the last integration to each pair's day, as compliant or not by its status now
    (summed per policy and customer), and to the day's observed wall-clock time; of a longer gap only the last
    `max_step` (the rest was not watched). A caller replaying history in steps (backups.demo), each step's
    records all reported by its end, passes its step: the status it sweeps is the step's.
    The interval is claimed with a conditional update: a second sweep finds it taken and adds nothing."""
    state, created = SweepState.objects.get_or_create(name="rollup", defaults={"until": now})
    if created or state.until is None or state.until >= now:
        return 0.0
    start = state.until
    if not SweepState.objects.filter(pk=state.pk, until=start).update(until=now):
        return 0.0
    start = max(start, now - max_step)
    with connection.cursor() as cur:
        while start < now:
            midnight = datetime.combine(start.date() + timedelta(days=1), datetime.min.time(), tzinfo=start.tzinfo)
            end = min(now, midnight)
            params = {"day": start.date(), "secs": (end - start).total_seconds(),
                      "unverified": VerificationStatus.UNVERIFIED}
            cur.execute(ROLLUP_SQL, params)
            cur.execute(OBSERVED_SQL, params)
            start = end
    return (now - state.until).total_seconds()
