from __future__ import annotations

from datetime import timedelta

from django import template

from drportal.lib import timefmt

register = template.Library()


@register.inclusion_tag("scenarios/_incident_panel.html", takes_context=True)
def scenario_panel(context, incident):
    from scenarios.views import panel_context

    return panel_context(incident, context["request"].user)


@register.filter
def duration(value: timedelta | None) -> str:
    """drportal.lib.timefmt.duration: the one way durations are written."""
    return timefmt.duration(value)


@register.filter
def minutes(value: int) -> str:
    """An objective in minutes, written as every other duration."""
    return timefmt.duration(int(value) * 60)


@register.filter
def log_line(line: str) -> str:
    """A step's log line with its UTC stamp in the reader's zone."""
    return timefmt.log_line(str(line))


@register.filter
def get_item(mapping: dict, key: str):
    return mapping.get(key)


