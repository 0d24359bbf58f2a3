from __future__ import annotations

from django import template

register = template.Library()


@register.inclusion_tag("notifications/incident_panel.html", takes_context=True)
def incident_notifications_panel(context, incident) -> dict:
    """Notices, public updates and the employees' roll call on an incident's page."""
    from notifications import staff
    from notifications.choices import NoticeKind
    from notifications.forms import NewNoticeForm, StatusUpdateForm

    office = staff.is_office_incident(incident)
    return {
        "request": context.get("request"),
        "incident": incident,
        "notices": incident.notices.order_by("-created_at"),
        "kinds": NoticeKind.choices,
        "new_form": NewNoticeForm(),
        "update_form": StatusUpdateForm(),
        "updates": incident.status_updates.order_by("-posted_at"),
        "office": office,
        "roll": staff.roll_call(incident) if office else None,
        "is_ops": context.get("is_ops"), "is_support": context.get("is_support"),
        "is_manager": context.get("is_manager"), "csrf_token": context.get("csrf_token"),
    }
