"""The backups in a bad state, each as one sentence for the dashboard: what is wrong, since when, what to do.

Read from the status rows the sweep wrote (backups.status decides the states; nothing is judged again here),
the status changes that say when a state began, and, for a failed run, the failed record itself. Three
queries whatever the number of pairs.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Max
from django.urls import reverse

from backups.choices import Freshness, OffsiteStatus, Outcome, RpoStatus
from backups.models import BackupRecord, PolicyAssetStatus, StatusChange
from drportal.lib import timefmt
from drportal.lib.problems import Problem

SHOWN = 8


def dashboard_problems(now: datetime, limit: int = SHOWN) -> tuple[list[Problem], bool]:
    """The bad pairs, soonest deadline first (the index the dashboard panel reads), as sentences; and whether
    there are more than `limit`."""
    pairs = list(PolicyAssetStatus.objects.filter(overall="bad")
                 .select_related("policy__target_region", "asset", "customer", "asset_zone", "asset_region")
                 .order_by("next_deadline", "id")[:limit + 1])
    more = len(pairs) > limit
    pairs = pairs[:limit]
    began = {(c["pair_id"], c["dimension"], c["after"]): c["at"] for c in
             StatusChange.objects.filter(pair__in=pairs).values("pair_id", "dimension", "after").annotate(at=Max("at"))}
    failed = [p for p in pairs if p.freshness == Freshness.FAILED]
    failures = {(r["asset_id"], r["policy_id"]): r["at"] for r in
                BackupRecord.objects.filter(outcome=Outcome.FAILED, asset_id__in=[p.asset_id for p in failed],
                                            policy_id__in=[p.policy_id for p in failed])
                .values("asset_id", "policy_id").annotate(at=Max("started_at"))} if failed else {}
    return [sentence(p, began, failures) for p in pairs], more


def _name(pair: PolicyAssetStatus) -> str:
    return f"{pair.asset.name} ({pair.customer.name})" if pair.customer_id else pair.asset.name


def sentence(pair: PolicyAssetStatus, began: dict, failures: dict) -> Problem:
    """The worst of the pair's states first: a run that failed or did not come, then a recovery point too old,
    then where the copies are."""
    policy, name = pair.policy, _name(pair)
    url = reverse("backups:asset", args=[pair.asset_id])
    objective = timefmt.duration(policy.rpo_objective)
    breached = pair.rpo_status == RpoStatus.BREACHED
    too_old = f", and its newest restorable copy is older than the {objective} the policy allows" if breached else ""

    def since(dimension: str, state: str) -> datetime | None:
        return began.get((pair.pk, dimension, state))

    if pair.freshness == Freshness.FAILED:
        return Problem(f"The newest backup of {name} by {policy.name} failed{too_old}",
                       failures.get((pair.asset_id, pair.policy_id)) or since("freshness", Freshness.FAILED),
                       "read the run's error on the asset's page, fix the cause and run the backup again", url)
    if pair.freshness == Freshness.LATE:
        return Problem(f"No backup of {name} by {policy.name} has arrived since one was due{too_old}",
                       pair.expected_at or since("freshness", Freshness.LATE),
                       "check that the backup job and the agent that reports it are running", url)
    if pair.freshness == Freshness.NEVER:
        return Problem(f"{policy.name} has never reported a backup of {name}", None,
                       "start its backup job, or point the job's agent at drportal's API", url)
    if breached:
        expired = pair.recovery_point + policy.rpo_objective if pair.recovery_point else None
        return Problem(f"The newest restorable copy of {name} by {policy.name} is older than the {objective} the "
                       "policy allows", expired or since("rpo_status", RpoStatus.BREACHED),
                       "find why the newer copies are not restorable (failed, expired or failing their checksum) "
                       "and take a good one", url)
    where = pair.asset_region or pair.asset_zone
    if pair.offsite == OffsiteStatus.CO_LOCATED:
        return Problem(f"Every copy of {name} by {policy.name} is kept in {where}, where it runs, so losing {where} "
                       "would lose them too", since("offsite", OffsiteStatus.CO_LOCATED),
                       f"keep a copy outside {where}, as the policy's off-site rule asks", url)
    if pair.offsite == OffsiteStatus.WRONG_REGION:
        return Problem(f"The newest copy of {name} by {policy.name} is not in {policy.target_region}, the region "
                       "the policy names", since("offsite", OffsiteStatus.WRONG_REGION),
                       f"copy it to {policy.target_region}", url)
    return Problem(f"No copy of {name} by {policy.name} is known to be kept outside where it runs (no copy records "
                   "where it is)", since("offsite", OffsiteStatus.MISSING),
                   "have the job report each copy's region or zone, or add a copy in another region", url)
