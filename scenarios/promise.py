"""The plan's promise as the target of a scenario.

A scenario's recovery-point objective is, by default, what the plan promises for the data it recovers: the
tightest RPO objective of the backup policies protecting those assets (Jivosoft's "in no case would customers
expect to lose any data prior to the early morning of the day of the outage" is the 26 h of its daily dumps).
A scenario file may set its own `objectives.rpo_minutes`; a stricter one is simply the target, a looser one
is never silently the bar: it is shown as "this scenario accepts up to X; the plan promises Y", and the
promise stays the target drills and runs are measured against.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from drportal.lib import timefmt
from drportal.lib.timefmt import minutes
from scenarios.loader import Scenario


@dataclass(frozen=True)
class Objective:
    accepts_minutes: int | None   # what the scenario file sets, None when it leaves it to the plan
    promise_minutes: int | None   # the plan's promise for what the scenario recovers, None when no policy covers it
    policies: tuple[str, ...] = ()  # the policies that make the promise

    @property
    def target_minutes(self) -> int | None:
        known = [m for m in (self.accepts_minutes, self.promise_minutes) if m is not None]
        return min(known) if known else None

    @property
    def looser(self) -> bool:
        return (self.accepts_minutes is not None and self.promise_minutes is not None
                and self.accepts_minutes > self.promise_minutes)

    @property
    def sentence(self) -> str:
        """The one sentence every page that shows the objective must carry when the scenario is looser."""
        if not self.looser:
            return ""
        return (f"This scenario accepts up to {minutes(self.accepts_minutes)}; the plan promises "
                f"{minutes(self.promise_minutes)} ({', '.join(self.policies)}).")

    def as_bindings(self) -> dict:
        return {"rpo_minutes": self.target_minutes, "rpo_accepts_minutes": self.accepts_minutes,
                "rpo_promise_minutes": self.promise_minutes, "rpo_promise_policies": list(self.policies)}


def _recovers(scenario: Scenario) -> tuple[list[dict], set[str], bool]:
    """A scenario's automated steps, the assets they name, and whether one restores a managed database by
    point in time without naming it (restore_database then picks the account's)."""
    automated = [s for s in scenario.steps if s["kind"] == "automated"]
    named = {str(s.get("params", {}).get("asset")) for s in automated if s.get("params", {}).get("asset")}
    pit = any(s.get("action") == "restore_database" and s.get("params", {}).get("mode") in ("point_in_time", "snapshot")
              and not s.get("params", {}).get("asset") for s in automated)
    return automated, {n for n in named if "{" not in n}, pit


def recovered_assets(scenario: Scenario, servers=None):
    """The assets a scenario's automated steps bring back: everything on the servers in its scope (a list of
    servers or a query of them; by default match.scope_queryset), the assets its steps name, and the managed
    database a point-in-time restore without a name picks (restore_database)."""
    from django.db.models import Q, QuerySet

    from drportal.inventory.choices import AssetKind
    from drportal.inventory.models import Asset
    from scenarios.match import scope_queryset

    automated, named, pit = _recovers(scenario)
    if not automated:
        return Asset.objects.none()
    if servers is None:
        servers = scope_queryset(scenario)
    # A query of servers stays a subquery: the scope is never loaded just to list its ids.
    ids = servers.values("pk") if isinstance(servers, QuerySet) else [s.pk for s in servers]
    # A UNION of the branches, not an OR: each branch reads its own index (server, name, kind), where the OR
    # made PostgreSQL scan every asset (550,000 at the 10x benchmark) for each scenario of a readiness refresh.
    branches = [Q(server__in=ids), Q(name__in=named)]
    if pit:
        branches.append(Q(kind=AssetKind.MANAGED_DATABASE) & ~Q(external_id=""))
    first, *rest = (Asset.objects.filter(where).order_by().values("pk") for where in branches)
    return Asset.objects.filter(pk__in=first.union(*rest))


def _promised(assets) -> tuple[int | None, tuple[str, ...]]:
    """The tightest RPO objective of the active policies protecting `assets`, and the policies that set it."""
    from backups.models import BackupPolicy

    rows = sorted(BackupPolicy.objects.filter(active=True, assets__in=assets).distinct()
                  .values_list("rpo_objective", "name"))
    if not rows:
        return None, ()
    tightest = rows[0][0]
    return _ceil_minutes(tightest), tuple(name for rpo, name in rows if rpo == tightest)


def objective(scenario: Scenario, servers=None) -> Objective:
    return Objective(scenario.data["objectives"].get("rpo_minutes"), *_promised(recovered_assets(scenario, servers)))


def _ceil_minutes(value: timedelta) -> int:
    return -(-int(value.total_seconds()) // 60)


def broken(target_minutes: int | None, seconds_lost: float | None) -> bool:
    """Would losing `seconds_lost` of data (None: everything) break a promise of `target_minutes`?"""
    if target_minutes is None:
        return False
    return seconds_lost is None or seconds_lost > target_minutes * 60


def loss_sentence(target_minutes: int | None, seconds_lost: float | None, what: str) -> str:
    """"Losing Dallas breaks the plan's promise: ..." in words, or "" when the promise holds."""
    if not broken(target_minutes, seconds_lost):
        return ""
    lost = "all of it (no copy survives)" if seconds_lost is None else f"up to {timefmt.duration(seconds_lost)}"
    return (f"This breaks the plan's promise: {what} would lose {lost} of data, and the plan promises no more "
            f"than {minutes(target_minutes)}.")


def rpo_words(target: Objective) -> str:
    """The recovery-point objective as the plan page and the PDF say it."""
    if target.target_minutes is None:
        return "no recovery point objective (no backup policy covers what it recovers)"
    if target.accepts_minutes is None or target.looser:
        return (f"recovery point {minutes(target.target_minutes)}, the plan's promise "
                f"({', '.join(target.policies)})")
    return f"recovery point {minutes(target.target_minutes)}"
