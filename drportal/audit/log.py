"""The helper every change of state goes through: `record(actor, action, obj, before, after)`."""

from __future__ import annotations

from typing import Any

from django.db import models

from drportal.audit.models import AuditEvent
from drportal.lib import clock

Actor = Any  # a User, or a string naming a job ("job:run_step#12") or a command


def jsonable(value: Any) -> Any:
    """A value as the audit log stores it in JSON (querysets and objects by their text). Public: the importer and
    the engine's jobs build audit rows in bulk with it."""
    if isinstance(value, models.QuerySet):
        return [str(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, models.Model):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def snapshot(obj: models.Model, fields: list[str]) -> dict[str, Any]:
    """The named fields of obj as JSON-ready values, for before/after pairs."""
    return {f: jsonable(getattr(obj, f)) for f in fields}


def record(
    actor: Actor,
    action: str,
    obj: models.Model | None = None,
    before: dict | None = None,
    after: dict | None = None,
    note: str = "",
) -> AuditEvent:
    event = build(actor, action, obj, before, after, note)
    event.save()
    return event


def record_many(events: list[AuditEvent]) -> None:
    """Write events made by build() in a few multi-row INSERTs: for bulk work (an inventory import of
    thousands of objects) where one INSERT per event would be most of the time spent."""
    AuditEvent.objects.bulk_create(events, batch_size=1000)


def build(
    actor: Actor,
    action: str,
    obj: models.Model | None = None,
    before: dict | None = None,
    after: dict | None = None,
    note: str = "",
) -> AuditEvent:
    """An event not yet written: pass a list of them to record_many()."""
    user = actor if getattr(actor, "is_authenticated", False) else None
    label = getattr(actor, "username", None) or str(actor or "system")
    return AuditEvent(
        at=clock.now(),
        actor=user,
        actor_label=label[:200],
        action=action,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        object_repr=str(obj)[:300] if obj is not None else "",
        before=jsonable(before) if before is not None else None,
        after=jsonable(after) if after is not None else None,
        note=note,
    )


def changes(before: dict, after: dict) -> tuple[dict, dict]:
    """Only the fields that changed, as (before, after)."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}
