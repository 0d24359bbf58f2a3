from __future__ import annotations

from django import template

from notifications.choices import DeliveryState

register = template.Library()
TROUBLED = (DeliveryState.FAILED, DeliveryState.IN_DOUBT, DeliveryState.BOUNCED)  # a person must look


@register.inclusion_tag("notifications/incident_panel.html", takes_context=True)
def incident_notifications_panel(context, incident) -> dict:
    """Notices, public updates and the employees' roll call on an incident's page."""
    from django.db.models import Count, Q

    from notifications import staff
    from notifications.choices import NoticeKind
    from notifications.forms import NewNoticeForm, StatusUpdateForm

    office = staff.is_office_incident(incident)
    return {
        "request": context.get("request"),
        "incident": incident,
        # What became of each notice's messages, counted from its deliveries: "queued" alone said nothing of it.
        "notices": incident.notices.annotate(
            messages=Count("deliveries"), sent=Count("deliveries", filter=Q(deliveries__state=DeliveryState.SENT)),
            troubled=Count("deliveries", filter=Q(deliveries__state__in=TROUBLED)),
        ).order_by("-created_at"),
        "kinds": NoticeKind.choices,
        "new_form": NewNoticeForm(),
        "update_form": StatusUpdateForm(),
        "updates": incident.status_updates.order_by("-posted_at"),
        "office": office,
        "roll": staff.roll_call(incident) if office else None,
        "is_ops": context.get("is_ops"), "is_support": context.get("is_support"),
        "is_manager": context.get("is_manager"), "csrf_token": context.get("csrf_token"),
    }
