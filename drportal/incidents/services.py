"""Incident state changes: each one in a transaction, each one audited."""

from __future__ import annotations

from django.db import transaction
from django.dispatch import Signal

from drportal.audit import log as audit
from drportal.incidents import scope as incident_scope
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
    with transaction.atomic(), incident_scope.batch():
        incident = Incident.objects.create(declared_by=actor, declared_at=clock.now(), **fields)
        for relation, objects in (impacted or {}).items():
            getattr(incident, f"impacted_{relation}").set(objects)
        audit.record(
            actor, "incident.declared", incident,
            after={"title": incident.title, "severity": incident.severity,
                   "disaster_class": incident.disaster_class, "impacted": impacted or {}},
        )
        incident_scope.store(incident, actor, reason="declared")
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


def widen(actor, incident_id: int, *, impacted: dict) -> incident_scope.Scope:
    """Add what else is down (a second zone fails) to an open incident, and resolve its scope again. A
    running run's pending steps follow through scope.scope_changed (scenarios.engine.widen)."""
    from django.core.exceptions import ValidationError

    with transaction.atomic(), incident_scope.batch():
        incident = Incident.objects.select_for_update().get(pk=incident_id)
        if not incident.is_open:
            raise ValidationError(f"incident #{incident.pk} is {incident.status}; only an open incident's scope "
                                  "can change")
        added = {}
        for relation, objects in impacted.items():
            if relation not in incident_scope.CHOSEN or not objects:
                continue
            getattr(incident, f"impacted_{relation}").add(*objects)
            added[relation] = sorted(getattr(o, "pk", o) for o in objects)
        if not added:
            raise ValidationError("choose at least one region, zone, server, office, service or asset to add")
        audit.record(actor, "incident.widened", incident, after={"added": added})
        return incident_scope.store(incident, actor, reason="widened")
