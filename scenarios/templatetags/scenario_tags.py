from __future__ import annotations

from datetime import timedelta

from django import template

register = template.Library()


@register.inclusion_tag("scenarios/_incident_panel.html", takes_context=True)
def scenario_panel(context, incident):
    from scenarios.views import panel_context

    return panel_context(incident, context["request"].user)


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
def rpo_words(target) -> str:
    from scenarios.plandoc import rpo_words as words

    return words(target)


@register.filter
def get_item(mapping: dict, key: str):
    return mapping.get(key)


