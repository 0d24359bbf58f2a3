"""Drills: a scenario rehearsed on the simulated cloud, never on production resources."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from drportal.incidents import services as incidents
from drportal.incidents.choices import Severity
from drportal.incidents.scope import SERVER_ONLY_CLASSES
from drportal.inventory.models import Region, Server
from drportal.lib import clock
from scenarios import engine, hooks
from scenarios.loader import Scenario
from scenarios.models import Drill
from scenarios.readiness import scope_servers


def default_scope(scenario: Scenario) -> dict[str, list]:
    """What a drill declares when nobody chose, bounded by the scenario's match rules: for a region-wide
    class the region holding most of its matching servers (resolved as an incident's region is); for a
    single-server class the first `max_servers` (default 1) matching servers; nothing for a scenario without
    per-server or per-database steps. Matching servers of the scenario's own provider come first
    (match.providers lists it before the simulated cloud). Two queries whatever the inventory's size."""
    from django.db.models import Case, Count, IntegerField, Q, Value, When

    from drportal.inventory.choices import AssetKind

    if not any(s.get("for_each") in ("server", "database") for s in scenario.steps):
        return {}
    match = scenario.data.get("match", {})
    providers = match.get("providers") or []
    servers = Server.objects.all()
    if providers:
        servers = servers.filter(zone__region__provider__slug__in=providers)
    if match.get("server_roles"):
        servers = servers.filter(role__in=match["server_roles"])
    rank = Case(*[When(zone__region__provider__slug=slug, then=Value(i)) for i, slug in enumerate(providers)],
                default=Value(len(providers)), output_field=IntegerField())
    if scenario.disaster_class in SERVER_ONLY_CLASSES:
        # A server holding customer databases, when the scenario restores them: the drill rehearses every step.
        databases = Count("assets", filter=Q(assets__kind=AssetKind.DATABASE))
        chosen = servers.annotate(rank=rank, databases=databases).order_by("rank", "-databases", "name")
        return {"servers": list(chosen[:match.get("max_servers", 1)])}
    best = (servers.annotate(rank=rank).values("rank", "zone__region_id").annotate(n=Count("id"))
            .order_by("rank", "-n", "zone__region_id").first())
    if best is None:
        return {}
    return {"regions": [Region.objects.select_related("provider").get(pk=best["zone__region_id"])]}


def chosen_scope(scenario: Scenario, server_ids: Iterable[str]) -> dict[str, list]:
    """The servers a person chose for the drill, checked against the scenario's match rules."""
    from scenarios.engine import EngineError

    ids = {int(v) for v in server_ids if str(v).isdigit()}
    allowed = {s.pk: s for s in scope_servers(scenario)}
    servers = [allowed[i] for i in sorted(ids) if i in allowed]
    if len(servers) != len(ids):
        raise EngineError("a drill may only act on servers the scenario matches (its providers and roles)")
    match = scenario.data.get("match", {})
    low, high = match.get("min_servers", 0), match.get("max_servers")
    if len(servers) < low or (high is not None and len(servers) > high):
        bound = (f"at least {low}" if high is None else f"exactly {high}" if low == high else f"{low} to {high}")
        raise EngineError(f"this scenario acts on {bound} server{'s' * (bound != 'exactly 1')}; "
                          f"{len(servers)} were chosen")
    return {"servers": servers}


def describe(impacted: dict[str, list]) -> str:
    parts = [f"region {r}" for r in impacted.get("regions", [])]
    parts += [s.name for s in impacted.get("servers", [])]
    return ", ".join(parts) or "the scenario's non-server steps only"


def start_drill(scenario: Scenario, actor, *, servers=None) -> Drill:
    """Declare a drill incident with the chosen (or default) scope, start the scenario on it in drill mode,
    and record the drill. One transaction, so the jobs (enqueued on commit) always find the Drill row."""
    impacted = {"servers": list(servers)} if servers else default_scope(scenario)
    with transaction.atomic():
        incident = incidents.declare(
            actor, title=f"Drill: {scenario.title}", disaster_class=scenario.disaster_class,
            severity=Severity.SEV4, is_drill=True,
            summary=f"Drill of scenario {scenario.id} on {describe(impacted)}; automated steps run on the "
                    "simulated cloud only.",
            impacted=impacted or None,
        )
        run, _ = engine.start_run(incident, scenario, actor, drill=True)
        in_scope = incident.scope.get("servers", [])
        drill = Drill.objects.create(
            scenario_id=scenario.id, run=run, started_at=run.started_at,
            rto_objective_minutes=scenario.rto_minutes, rpo_objective_minutes=scenario.rpo_minutes,
            recovery_point=hooks.recovery_point(list(Server.objects.filter(pk__in=in_scope)
                                                     .values_list("pk", flat=True)), clock.now()),
        )
    return drill
