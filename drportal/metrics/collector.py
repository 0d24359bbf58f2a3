"""What /metrics says: the stored statuses, read in a few queries per scrape (never one per asset).

The collector runs at scrape time and derives nothing: freshness, RPO and off-site state are what the last
sweep wrote on each policy-asset pair (backups.sweep); only the recovery point's age is computed, from the
stored recovery point and "now", so an alert on age > objective still fires if the sweep itself stopped.

Tables are read with SQL so this core module imports no higher app (backups, scenarios, notifications).

The one family with a sample per policy-asset pair (105,000 at the benchmark data set) is written by
pair_exposition() below instead of prometheus-client's generate_latest: the library spends ~10 µs per sample
on a quiet 2-core machine (sorting, checking and escaping each label of each sample, one Sample object each),
over a second for that family alone; the same text written in one pass takes a tenth of that. Everything else
goes through the library, and the tests read the whole answer back with the library's own parser.

What a scrape costs at the benchmark data set (bench/metrics_scrape.py) is mostly turning 105,000 rows into
Python objects and text, so those rows are kept narrow: the policy as its id (its name is looked up once),
the age in whole seconds (an integer is cheaper to send, decode and print than a float, and a backup's age
needs no microseconds). The per-region and per-tier exposure is one pass over the pairs (GROUPING SETS).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from django.db import connection
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from drportal.lib import clock

# One row per policy-asset pair: 105,000 at the benchmark data set. Names, not ids, so a dashboard reads.
# The age is computed by PostgreSQL: converting 105,000 timestamps to aware datetimes in Python took longer
# than the query.
_PAIRS = """
SELECT s.policy_id, a.name, floor(EXTRACT(EPOCH FROM %s - s.recovery_point))::bigint, s.freshness, s.rpo_status,
       s.offsite
FROM backups_policyassetstatus s
JOIN inventory_asset a ON a.id = s.asset_id
"""
_POLICIES = "SELECT id, name, EXTRACT(EPOCH FROM rpo_objective), active FROM backups_backuppolicy"
# One pass for both breakdowns; GROUPING(c.tier) tells a tier row (0) from a region row (1). A pair without a
# customer (a server's image) counts in its region only.
_EXPOSURE = """
SELECT GROUPING(c.tier), COALESCE(r.name, ''), c.tier, s.overall, count(*), max(s.rpo_seconds)
FROM backups_policyassetstatus s
LEFT JOIN inventory_region r ON r.id = s.asset_region_id
LEFT JOIN inventory_customer c ON c.id = s.customer_id
GROUP BY GROUPING SETS ((r.name, s.overall), (c.tier, s.overall))
"""
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
        for _, name, seconds, is_active in _rows(_POLICIES):
            objective.add_metric([name], float(seconds))
            active.add_metric([name], 1.0 if is_active else 0.0)
        yield from (objective, active)

    def exposure(self) -> Iterator[Metric]:
        rows = _rows(_EXPOSURE)
        for by_tier, label in ((0, "tier"), (1, "region")):
            pairs = GaugeMetricFamily(
                f"drportal_exposure_pairs_by_{label}", f"Policy-asset pairs per {label} and overall state.",
                labels=[label, "overall"])
            worst = GaugeMetricFamily(
                f"drportal_exposure_max_data_loss_seconds_by_{label}",
                f"The largest data-loss window (RPO age at the last sweep) among the pairs of each {label}.",
                labels=[label])
            worst_seen: dict[str, float] = {}
            for grouping, region, tier, overall, n, most in rows:
                key = tier if by_tier == 0 else region
                if grouping != by_tier or key is None:
                    continue  # the other breakdown's row, or pairs without a customer in the tier breakdown
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


def pair_exposition(now: datetime) -> str:
    """The per-pair family in the text format (0.0.4), one sample per pair, labels in sorted order as
    prometheus-client writes them. The states are choice values of the backups app and need no escaping;
    policy and asset names do."""
    policies = {pk: _label(name) for pk, name, _, _ in _rows(_POLICIES)}
    lines = [f"# HELP {AGE} {AGE_HELP}\n# TYPE {AGE} gauge\n"]
    add = lines.append
    for policy, asset, age, freshness, rpo, offsite in _rows(_PAIRS, [now]):
        value = "+Inf" if age is None else str(age)
        add(f'{AGE}{{asset="{_label(asset)}",freshness="{freshness}",offsite="{offsite}",policy="{policies[policy]}",'
            f'rpo="{rpo}"}} {value}\n')
    return "".join(lines)
