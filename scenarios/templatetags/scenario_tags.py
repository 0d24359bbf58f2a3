from __future__ import annotations

from datetime import timedelta

from django import template

register = template.Library()


@register.inclusion_tag("scenarios/_incident_panel.html", takes_context=True)
def scenario_panel(context, incident):
    from scenarios.views import panel_context

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
    """1 d 02:03:04 style; negative durations get a minus sign."""
    if value is None:
        return "—"
    seconds = int(value.total_seconds())
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{sign}{days} d {text}" if days else f"{sign}{text}"


@register.filter
def minutes(value: int) -> str:
    value = int(value)
    if value >= 1440 and value % 1440 == 0:
        return f"{value // 1440} d"
    if value >= 60 and value % 60 == 0:
        return f"{value // 60} h"
    return f"{value} min"


@register.filter
def get_item(mapping: dict, key: str):
    return mapping.get(key)


