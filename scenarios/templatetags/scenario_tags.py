from __future__ import annotations

from datetime import timedelta

from django import template

from drportal.lib import timefmt

register = template.Library()


@register.inclusion_tag("scenarios/_incident_panel.html", takes_context=True)
def scenario_panel(context, incident):
    from scenarios.panels import panel_context

    return panel_context(incident, context["request"].user)


@register.inclusion_tag("scenarios/_declare_preview.html")
def scenario_preview(scope, disaster_class: str, chosen):
    """The declare page's preview, for the scenarios' part: the worst data-loss window of what is named, and
    the scenarios that would match with their readiness (from the readiness snapshot)."""
    from drportal.lib import clock
    from scenarios import hooks, loader, loss, readiness

    now = clock.now()
    scenarios = list(loader.library().scenarios.values())
    proposals = readiness.propose_for(disaster_class, scope, set(chosen), scenarios) if disaster_class else []
    by_id = {r.scenario.id: r for r in readiness.current(scenarios, now).rows} if proposals else {}
    zones, customers = loss.lost_of(scope)
    worst = None
    if zones and customers:
        from drportal.inventory.models import Customer

        rows = hooks.customer_exposure(zones, now, Customer.objects.filter(pk__in=customers), limit=1)
        worst = rows[0] if rows else None
    return {"proposals": [(s, why, by_id.get(s.id)) for s, why in proposals], "worst": worst,
            "has_class": bool(disaster_class)}


@register.filter
def duration(value: timedelta | None) -> str:
    """drportal.lib.timefmt.duration: the one way durations are written."""
    return timefmt.duration(value)


@register.filter
def minutes(value: int) -> str:
    """drportal.lib.timefmt.minutes: an objective in minutes, written as every other duration."""
    return timefmt.minutes(value)


@register.filter
def log_line(line: str) -> str:
    """A step's log line with its UTC stamp in the reader's zone."""
    return timefmt.log_line(str(line))


@register.filter
def rpo_words(target) -> str:
    from scenarios.promise import rpo_words as words

    return words(target)


@register.filter
def get_item(mapping: dict, key: str):
    return mapping.get(key)


@register.filter
def plan_steps(steps: list[dict]) -> list[dict]:
    """The steps as the plan shows them (scenarios.plandoc.plan_step): placeholders said in words."""
    from scenarios.plandoc import plan_step

    return [plan_step(step) for step in steps]
