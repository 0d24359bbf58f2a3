"""The scenarios panel on the incident page: what would run, or what is running.

Not in views.py: the template tag that renders it (templatetags/scenario_tags.py) would import the views, which
import the plan document, which uses the tags' filters: a cycle.
"""

from __future__ import annotations

from drportal.accounts.access import Role, has_role
from drportal.incidents.models import Incident
from scenarios import engine, lifecycle, loader, readiness
from scenarios.models import Review, Run


def panel_context(incident: Incident, user) -> dict:
    """For the incident page's panel (templatetags/scenario_tags.py's scenario_panel)."""
    run = Run.objects.filter(incident=incident).first()
    lib = loader.library()
    proposals = [] if run else readiness.propose(incident, list(lib.scenarios.values()))
    # What Execute would do, step by step, shown before the click: each automated step's targets, or why it
    # has none.
    plans = [(scenario, why, engine.plan(incident, scenario)) for scenario, why in proposals]
    return {"incident": incident, "run": run, "proposals": plans, "next": lifecycle.proposal(run, incident),
            "can_execute": has_role(user, Role.OPS) and incident.is_open,
            "has_review": Review.objects.filter(incident=incident).exists()}
