"""Drills: a scenario rehearsed on the simulated cloud, never on production resources."""

from __future__ import annotations

from django.db import transaction

from drportal.incidents import services as incidents
from drportal.incidents.choices import Severity
from drportal.lib import clock
from scenarios import engine, hooks
from scenarios.loader import Scenario
from scenarios.models import Drill
from scenarios.readiness import scope_servers


def start_drill(scenario: Scenario, actor, *, servers=None) -> Drill:
    """Declare a drill incident, start the scenario on it in drill mode, and record the drill. One
    transaction, so the jobs (enqueued on commit) always find the Drill row they finish."""
    if servers is None and any(s.get("for_each") in ("server", "database") for s in scenario.steps):
        servers = scope_servers(scenario)
    with transaction.atomic():
        incident = incidents.declare(
            actor, title=f"Drill: {scenario.title}", disaster_class=scenario.disaster_class,
            severity=Severity.SEV4, is_drill=True,
            summary=f"Drill of scenario {scenario.id}; automated steps run on the simulated cloud only.",
            impacted={"servers": list(servers)} if servers else None,
        )
        run, _ = engine.start_run(incident, scenario, actor, drill=True)
        drill = Drill.objects.create(
            scenario_id=scenario.id, run=run, started_at=run.started_at,
            rto_objective_minutes=scenario.rto_minutes, rpo_objective_minutes=run.bindings["rpo_minutes"],
            recovery_point=hooks.recovery_point([s.pk for s in servers or []], clock.now()),
        )
    return drill
