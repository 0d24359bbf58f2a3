"""What /metrics says: the stored statuses, read in a few queries per scrape (never one per asset).

The collector runs at scrape time and derives nothing: freshness, RPO and off-site state are what the last
sweep wrote on each policy-asset pair (backups.sweep); only the recovery point's age is computed, from the
stored recovery point and "now", so an alert on age > objective still fires if the sweep itself stopped.

Tables are read through apps.get_model and SQL so this core module imports no higher app (backups,
scenarios, notifications register themselves; see docs/CONTRIBUTING.md on layers).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import datetime, timedelta

from django.db import connection
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from drportal.lib import clock

# One row per policy-asset pair: 105,000 at the benchmark data set. Names, not ids, so a dashboard reads.
_PAIRS = """
SELECT p.name, a.name, s.recovery_point, s.freshness, s.rpo_status, s.offsite
FROM backups_policyassetstatus s
JOIN backups_backuppolicy p ON p.id = s.policy_id
JOIN inventory_asset a ON a.id = s.asset_id
"""
_POLICIES = "SELECT name, EXTRACT(EPOCH FROM rpo_objective), active FROM backups_backuppolicy"
_BY_REGION = """
SELECT COALESCE(r.name, ''), s.overall, count(*), max(s.rpo_seconds)
FROM backups_policyassetstatus s LEFT JOIN inventory_region r ON r.id = s.asset_region_id
GROUP BY 1, 2
"""
_BY_TIER = """
SELECT c.tier, s.overall, count(*), max(s.rpo_seconds)
FROM backups_policyassetstatus s JOIN inventory_customer c ON c.id = s.customer_id
GROUP BY 1, 2
"""
_COUNTS = {
    "incidents": "SELECT status, count(*) FROM incidents_incident GROUP BY 1",
    "runs": "SELECT state, drill::text, count(*) FROM scenarios_run GROUP BY 1, 2",
    "steps": "SELECT kind, state, count(*) FROM scenarios_steprun GROUP BY 1, 2",
    "deliveries": "SELECT channel, state, count(*) FROM notifications_delivery GROUP BY 1, 2",
    # created_at has a BRIN index (cheap for append-only inserts): the last hour is a few block ranges.
    "ingested": "SELECT source, outcome, count(*) FROM backups_backuprecord WHERE created_at >= %s GROUP BY 1, 2",
    "unmatched": "SELECT count(*) FROM backups_unmatchedobject",
}
INGEST_WINDOW = timedelta(hours=1)


def _rows(sql: str, params: list | None = None) -> list[tuple]:
    with connection.cursor() as cur:
        cur.execute(sql, params or [])
        return cur.fetchall()


class StatusCollector(Collector):
    """Registered on a registry of its own (views.py), so a scrape never includes the process's defaults."""

    def collect(self) -> Iterator[Metric]:
        now = clock.now()
        yield from self.pairs(now)
        yield from self.exposure()
        yield from self.work()
        yield from self.ingestion(now)

    def pairs(self, now: datetime) -> Iterator[Metric]:
        objective = GaugeMetricFamily(
            "drportal_backup_rpo_objective_seconds", "The most data the policy may lose (its RPO objective).",
            labels=["policy"])
        active = GaugeMetricFamily("drportal_backup_policy_active", "1 when the policy is active.", labels=["policy"])
        for name, seconds, is_active in _rows(_POLICIES):
            objective.add_metric([name], float(seconds))
            active.add_metric([name], 1.0 if is_active else 0.0)
        age = GaugeMetricFamily(
            "drportal_backup_recovery_point_age_seconds",
            "Seconds since the newest viable recovery point of the asset under the policy (+Inf: none at all); "
            "the labels carry the pair's freshness, RPO and off-site state as of the last sweep.",
            labels=["policy", "asset", "freshness", "rpo", "offsite"])
        add = age.add_metric
        # One sample per pair: at 105,000 pairs the text format itself is most of a scrape's time
        # (bench/metrics_scrape.py), so the states ride as labels on the age rather than as series of their own.
        for policy, asset, point, freshness, rpo, offsite in _rows(_PAIRS):
            add([policy, asset, freshness, rpo, offsite], (now - point).total_seconds() if point else math.inf)
        yield from (objective, active, age)

    def exposure(self) -> Iterator[Metric]:
        for label, sql in (("region", _BY_REGION), ("tier", _BY_TIER)):
            pairs = GaugeMetricFamily(
                f"drportal_exposure_pairs_by_{label}", f"Policy-asset pairs per {label} and overall state.",
                labels=[label, "overall"])
            worst = GaugeMetricFamily(
                f"drportal_exposure_max_data_loss_seconds_by_{label}",
                f"The largest data-loss window (RPO age at the last sweep) among the pairs of each {label}.",
                labels=[label])
            worst_seen: dict[str, float] = {}
            for key, overall, n, most in _rows(sql):
                pairs.add_metric([key, overall], n)
                if most is not None:
                    worst_seen[key] = max(worst_seen.get(key, 0.0), most)
            for key, most in worst_seen.items():
                worst.add_metric([key], most)
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
            "drportal_backup_records_last_hour", "Backup records received in the last hour, by source and outcome.",
            labels=["source", "outcome"])
        for source, outcome, n in _rows(_COUNTS["ingested"], [now - INGEST_WINDOW]):
            recent.add_metric([source, outcome], n)
        unmatched = GaugeMetricFamily(
            "drportal_backup_unmatched_objects", "Objects pollers found that match no asset.")
        unmatched.add_metric([], _rows(_COUNTS["unmatched"])[0][0])
        yield from (recent, unmatched)
