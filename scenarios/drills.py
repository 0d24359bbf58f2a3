"""Drills: a scenario rehearsed on the simulated cloud, never on production resources."""

from __future__ import annotations

from collections import Counter
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
    per-server or per-database steps."""
    if not any(s.get("for_each") in ("server", "database") for s in scenario.steps):
        return {}
    candidates = sorted(scope_servers(scenario), key=lambda s: s.name)
    if not candidates:
        return {}
    # The scenario's own provider first (match.providers lists it before the simulated cloud).
    providers = scenario.data.get("match", {}).get("providers") or []

    def rank(server: Server) -> int:
        slug = server.zone.region.provider.slug
        return providers.index(slug) if slug in providers else len(providers)

    first = min(rank(s) for s in candidates)
    candidates = [s for s in candidates if rank(s) == first]
    if scenario.disaster_class in SERVER_ONLY_CLASSES:
        return {"servers": candidates[:scenario.data.get("match", {}).get("max_servers", 1)]}
    region_id, _ = Counter(s.zone.region_id for s in candidates).most_common(1)[0]
    return {"regions": [Region.objects.get(pk=region_id)]}


def chosen_scope(scenario: Scenario, server_ids: Iterable[str]) -> dict[str, list]:
    """The servers a person chose for the drill, checked against the scenario's match rules."""
    from scenarios.engine import EngineError

    ids = {int(v) for v in server_ids if str(v).isdigit()}
    allowed = {s.pk: s for s in scope_servers(scenario)}
    servers = [allowed[i] for i in sorted(ids) if i in allowed]
    if len(servers) != len(ids):
        raise EngineError("a drill may only act on servers the scenario matches (its providers and roles)")
    match = scenario.data.get("match", {})
    if len(servers) > match.get("max_servers", 10**6) or len(servers) < match.get("min_servers", 0):
        raise EngineError(f"this scenario acts on {match.get('min_servers', 0)} to "
                          f"{match.get('max_servers', 'any number of')} servers; {len(servers)} were chosen")
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
