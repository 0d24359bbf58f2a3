"""Incident state changes: each one in a transaction, each one audited."""

from __future__ import annotations

from django.db import transaction
from django.dispatch import Signal

from drportal.audit import log as audit
from drportal.incidents.choices import IncidentStatus
from drportal.incidents.models import Incident
from drportal.lib import clock

# Sent after the declaration commits, with incident_id. Notifications pages key personnel and sends
# check-in links from it; the core app does not need to know who listens.
incident_declared = Signal()

_STAMP = {
    IncidentStatus.RESPONDING: "responding_at",
    IncidentStatus.RECOVERED: "recovered_at",
    IncidentStatus.CLOSED: "closed_at",
}


def declare(actor, *, impacted: dict | None = None, **fields) -> Incident:
    with transaction.atomic():
        incident = Incident.objects.create(declared_by=actor, declared_at=clock.now(), **fields)
        for relation, objects in (impacted or {}).items():
            getattr(incident, f"impacted_{relation}").set(objects)
        audit.record(
            actor, "incident.declared", incident,
            after={"title": incident.title, "severity": incident.severity,
                   "disaster_class": incident.disaster_class, "impacted": impacted or {}},
        )
        transaction.on_commit(lambda: incident_declared.send(sender=Incident, incident_id=incident.pk))
    return incident


def transition(actor, incident_id: int, to: str) -> Incident:
    with transaction.atomic():
        incident = Incident.objects.select_for_update().get(pk=incident_id)
        incident.check_transition(to)
        before = incident.status
        incident.status = to
        stamp = _STAMP.get(to)
        if stamp:
            setattr(incident, stamp, clock.now())
        incident.save(update_fields=["status", *([stamp] if stamp else [])])
        audit.record(actor, f"incident.{to}", incident, before={"status": before}, after={"status": to})
    return incident
