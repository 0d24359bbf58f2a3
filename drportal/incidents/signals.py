"""Keeps an incident's stored scope true when its relations are changed outside the services (the admin,
a shell, a data fix): any change to what it names resolves the scope again, audited."""

from __future__ import annotations

from drportal.incidents import scope as incident_scope


def relations_changed(sender, instance, action: str, reverse: bool, **kwargs) -> None:
    if action not in ("post_add", "post_remove", "post_clear") or incident_scope.in_batch():
        return
    from drportal.incidents.models import Incident

    incidents = [instance] if not reverse else list(Incident.objects.filter(pk__in=kwargs.get("pk_set") or ()))
    for incident in incidents:
        if isinstance(incident, Incident):
            incident_scope.store(incident, "system:relations-changed", reason=f"impacted relations {action}")
