"""What /metrics says: the stored statuses, read in a few queries per scrape (never one per asset).

The collector runs at scrape time and derives nothing: freshness, RPO and off-site state are what the last
sweep wrote on each policy-asset pair (backups.sweep); only recovery points' ages are computed, from the stored
recovery points and "now", so an alert on age > objective still fires if the sweep itself stopped.

Tables are read with SQL so this core module imports no higher app (backups, scenarios, notifications).

Bounded whatever the inventory's size (issue 17): at 500,000 customer databases a sample per policy-asset pair
was 1,060,000 series and a 6 s scrape, the unbounded cardinality Prometheus' own guidance warns against (a
label per user or per database belongs in logs or the product's pages, not in a time series). So:
- every pair is counted: drportal_backup_pairs{policy, freshness, rpo, offsite}, the exposure per region and
  tier, and per policy the age of its oldest recovery point, all from the counts the sweep stores in one pass
  over the pairs (backups.sweep.store_counts, the "counts" row of backups_sweepstate) instead of scanning
  them on every scrape;
- the pairs are named one by one (drportal_backup_recovery_point_age_seconds) only for the
  METRICS_PAIR_LIMIT pairs with the least time left before their objective, never backed up first: the ones
  an alert names. Each policy's candidates are read in (policy, recovery point, id) index order, so a scrape
  reads about limit × policies pairs, however many there are. METRICS_PAIR_LIMIT=0 names every pair.
The per-pair family is written by pair_exposition() below instead of prometheus-client's generate_latest,
which spends ~10 µs per sample (when every pair is named, over a second at 105,000 pairs).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import datetime, timedelta

from django.db import connection
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from drportal.lib import clock

# Every pair (METRICS_PAIR_LIMIT=0). Names, not ids, so a dashboard reads. The age is computed by PostgreSQL:
# converting 105,000 timestamps to aware datetimes in Python took longer than the query.
_PAIRS = """
SELECT s.policy_id, a.name, floor(EXTRACT(EPOCH FROM %(now)s - s.recovery_point))::bigint, s.freshness,
       s.rpo_status, s.offsite
FROM backups_policyassetstatus s
JOIN inventory_asset a ON a.id = s.asset_id
"""
# The `limit` pairs with the least time left before their policy's objective (never backed up first): per
# policy its pairs without a recovery point and its oldest ones, each read in index order (pas_policy_point),
# then ranked across policies by recovery point + objective. The asset names of the chosen pairs only, by primary
# key: a join let PostgreSQL hash every asset (a Seq Scan of 550,000 at 10x) for 1,000 names.
_WORST_PAIRS = """
SELECT w.policy_id, (SELECT a.name FROM inventory_asset a WHERE a.id = w.asset_id),
       floor(EXTRACT(EPOCH FROM %(now)s - w.recovery_point))::bigint, w.freshness, w.rpo_status, w.offsite
FROM (
  SELECT w.*, w.recovery_point + p.rpo_objective AS due FROM backups_backuppolicy p
  CROSS JOIN LATERAL (
    (SELECT s.id, s.policy_id, s.asset_id, s.recovery_point, s.freshness, s.rpo_status, s.offsite
     FROM backups_policyassetstatus s WHERE s.policy_id = p.id AND s.recovery_point IS NULL
     ORDER BY s.policy_id, s.recovery_point, s.id LIMIT %(limit)s)
    UNION ALL
    (SELECT s.id, s.policy_id, s.asset_id, s.recovery_point, s.freshness, s.rpo_status, s.offsite
     FROM backups_policyassetstatus s WHERE s.policy_id = p.id AND s.recovery_point IS NOT NULL
     ORDER BY s.policy_id, s.recovery_point, s.id LIMIT %(limit)s)
  ) w
  ORDER BY due NULLS FIRST, w.id
  LIMIT %(limit)s
) w
ORDER BY w.due NULLS FIRST, w.id
"""
_POLICIES = "SELECT id, name, EXTRACT(EPOCH FROM rpo_objective), active FROM backups_backuppolicy"
# What the last sweep counted (backups.sweep.store_counts): the "metrics" key of its JSON.
_STORED = "SELECT value FROM backups_sweepstate WHERE name = 'counts'"
_COUNTS = {
    "incidents": "SELECT status, count(*) FROM incidents_incident GROUP BY 1",
    "runs": "SELECT state, drill::text, count(*) FROM scenarios_run GROUP BY 1, 2",
    "steps": "SELECT kind, state, count(*) FROM scenarios_steprun GROUP BY 1, 2",
    "deliveries": "SELECT channel, state, count(*) FROM notifications_delivery GROUP BY 1, 2",
    # created_at has a BRIN index (cheap for append-only inserts): the window is the last few block ranges, and
    # its cost grows with the records received in it, hence a window of the order of a scrape interval. Ranges
    # are summarised by autovacuum (autosummarize); until then they are read whole, which is why the bench
    # vacuums the 2,000,000 records it loads at once (1.3 s per scrape otherwise).
    "ingested": "SELECT source, outcome, count(*) FROM backups_backuprecord WHERE created_at >= %s GROUP BY 1, 2",
    "unmatched": "SELECT count(*) FROM backups_unmatchedobject",
}
INGEST_WINDOW = timedelta(minutes=5)


def _rows(sql: str, params: list | dict | None = None) -> list[tuple]:
    with connection.cursor() as cur:
        cur.execute(sql, params or [])
        return cur.fetchall()


def _stored() -> dict:
    """The breakdowns the last sweep stored; empty before the first sweep (no sample is better than a guess)."""
    found = _rows(_STORED)
    return json.loads(found[0][0]).get("metrics", {}) if found and found[0][0] else {}


class StatusCollector(Collector):
    """Registered on a registry of its own (views.py), so a scrape never includes the process's defaults."""

    def collect(self) -> Iterator[Metric]:
        now = clock.now()
        stored = _stored()
        policies = _rows(_POLICIES)
        names = {pk: name for pk, name, _, _ in policies}
        yield from self.policies(policies)
        yield from self.pairs(stored, names, now)
        yield from self.exposure(stored)
        yield from self.work()
        yield from self.ingestion(now)

    def policies(self, rows: list[tuple]) -> Iterator[Metric]:
        objective = GaugeMetricFamily(
            "drportal_backup_rpo_objective_seconds", "The most data the policy may lose (its RPO objective).",
            labels=["policy"])
        active = GaugeMetricFamily("drportal_backup_policy_active", "1 when the policy is active.", labels=["policy"])
        for _, name, seconds, is_active in rows:
            objective.add_metric([name], float(seconds))
            active.add_metric([name], 1.0 if is_active else 0.0)
        yield from (objective, active)

    def pairs(self, stored: dict, names: dict[int, str], now: datetime) -> Iterator[Metric]:
        pairs = GaugeMetricFamily(
            "drportal_backup_pairs", "Policy-asset pairs per policy and state, as of the last sweep.",
            labels=["policy", "freshness", "rpo", "offsite"])
        for policy, freshness, rpo, offsite, n in stored.get("states", []):
            if policy in names:
                pairs.add_metric([names[policy], freshness, rpo, offsite], n)
        oldest = GaugeMetricFamily(
            "drportal_backup_oldest_recovery_point_age_seconds",
            "Seconds since the oldest of the policy's pairs' newest viable recovery points (+Inf: a pair has "
            "none at all); the age is computed at each scrape.", labels=["policy"])
        for policy, first, never in stored.get("oldest", []):
            if policy in names and (first or never):
                age = math.inf if never else (now - datetime.fromisoformat(first)).total_seconds() // 1
                oldest.add_metric([names[policy]], age)
        yield from (pairs, oldest)

    def exposure(self, stored: dict) -> Iterator[Metric]:
        for key, label in (("tiers", "tier"), ("regions", "region")):
            pairs = GaugeMetricFamily(
                f"drportal_exposure_pairs_by_{label}", f"Policy-asset pairs per {label} and overall state.",
                labels=[label, "overall"])
            worst = GaugeMetricFamily(
                f"drportal_exposure_max_data_loss_seconds_by_{label}",
                f"The largest data-loss window (RPO age at the last sweep) among the pairs of each {label}.",
                labels=[label])
            worst_seen: dict[str, float] = {}
            for place, overall, n, most in stored.get(key, []):
                pairs.add_metric([place, overall], n)
                if most is not None:
                    worst_seen[place] = max(worst_seen.get(place, 0.0), most)
            for place, most in worst_seen.items():
                worst.add_metric([place], most)
            yield from (pairs, worst)

    def work(self) -> Iterator[Metric]:
        incidents = GaugeMetricFamily("drportal_incidents", "Incidents by status.", labels=["status"])
        for state, n in _rows(_COUNTS["incidents"]):
            incidents.add_metric([state], n)
        runs = GaugeMetricFamily("drportal_runs", "Scenario runs by state (drill: true/false).",
                                 labels=["state", "drill"])
        for state, drill, n in _rows(_COUNTS["runs"]):
            runs.add_metric([state, drill], n)
        steps = GaugeMetricFamily("drportal_steps", "Runbook steps by kind and state.", labels=["kind", "state"])
        for kind, state, n in _rows(_COUNTS["steps"]):
            steps.add_metric([kind, state], n)
        deliveries = GaugeMetricFamily(
            "drportal_deliveries", "Messages by channel and state: queued is the queue depth, failed and "
            "in_doubt need a person.", labels=["channel", "state"])
        for channel, state, n in _rows(_COUNTS["deliveries"]):
            deliveries.add_metric([channel, state], n)
        yield from (incidents, runs, steps, deliveries)

    def ingestion(self, now: datetime) -> Iterator[Metric]:
        recent = GaugeMetricFamily(
            "drportal_backup_records_last_5m", "Backup records received in the last 5 minutes, by source and outcome.",
            labels=["source", "outcome"])
        for source, outcome, n in _rows(_COUNTS["ingested"], [now - INGEST_WINDOW]):
            recent.add_metric([source, outcome], n)
        unmatched = GaugeMetricFamily(
            "drportal_backup_unmatched_objects", "Objects pollers found that match no asset.")
        unmatched.add_metric([], _rows(_COUNTS["unmatched"])[0][0])
        yield from (recent, unmatched)


AGE = "drportal_backup_recovery_point_age_seconds"
AGE_HELP = ("Seconds since the newest viable recovery point of the asset under the policy (+Inf: none at all); "
            "the labels carry the pair's freshness, RPO and off-site state as of the last sweep.")


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def pair_exposition(now: datetime, limit: int) -> str:
    """The per-pair family in the text format (0.0.4): the `limit` pairs with the least time left before their
    objective (every pair when limit is 0), labels in sorted order as prometheus-client writes them. The states
    are choice values of the backups app and need no escaping; policy and asset names do."""
    policies = {pk: _label(name) for pk, name, _, _ in _rows(_POLICIES)}
    lines = [f"# HELP {AGE} {AGE_HELP}\n# TYPE {AGE} gauge\n"]
    add = lines.append
    rows = _rows(_WORST_PAIRS, {"now": now, "limit": limit}) if limit > 0 else _rows(_PAIRS, {"now": now})
    for policy, asset, age, freshness, rpo, offsite in rows:
        value = "+Inf" if age is None else str(age)
        add(f'{AGE}{{asset="{_label(asset)}",freshness="{freshness}",offsite="{offsite}",policy="{policies[policy]}",'
            f'rpo="{rpo}"}} {value}\n')
    return "".join(lines)
