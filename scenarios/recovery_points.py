"""The recovery point is a choice. Before a restore from cloud storage runs, ops may pick any viable copy from
the catalogue (time, location, verified or not, size); the newest viable copy nobody marked suspect is the
default. A copy can be marked suspect (with a reason, audited); a suspect copy is never the default, and
restoring from it needs a manager's approval. Notices then state the data-loss window from the copy actually
used (`points_used`, registered with notifications.losswindow).

The same holds for the image a replacement server is provisioned from (provision_from_image): the catalogue is the
server's system-image records (their key is the provider's image id), the newest viable one nobody marked suspect
is the default, an expired one cannot be chosen, and a suspect one needs a manager's approval."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Q

from drportal.accounts.access import Role, has_role
from drportal.audit import log as audit
from drportal.cloud.actions import provision, storage_restore
from drportal.lib import clock
from scenarios.choices import StepKind, StepState
from scenarios.engine import EngineError
from scenarios.models import StepRun

# A choice can be made until a worker claims the step; a failed step may be re-pointed and retried.
CHOOSABLE = (StepState.PENDING, StepState.READY, StepState.FAILED)


@dataclass
class Candidate:
    record: object
    default: bool
    chosen: bool
    suspect_reason: str


def is_choosable(row: StepRun) -> bool:
    """A restore from cloud storage: restore_database with a database asset and no volume to move first."""
    spec = row.spec
    return (row.kind == StepKind.AUTOMATED and spec.get("action") == "restore_database"
            and bool(row.params.get("asset")) and not row.params.get("volume") and not row.params.get("mode"))


def _records(row: StepRun):
    from backups.choices import Outcome
    from backups.models import BackupRecord

    records = (BackupRecord.objects.filter(asset__name=row.params["asset"], viable=True, outcome=Outcome.SUCCEEDED)
               .exclude(key=""))
    # The same copies the action would look at.
    return storage_restore.copies_in(records, row.params.get("region"))


def _catalogue(records, now: datetime, chosen: int | None, limit: int) -> list[Candidate]:
    """The records still viable at `now`, newest first: the newest nobody marked suspect is the default."""
    records = list(records.select_related("suspect", "zone__region__provider", "region__provider")
                   .order_by("-recovery_point", "-completed_at")[:limit])
    usable = [r for r in records if r.is_viable_at(now)]
    default = next((r for r in usable if not hasattr(r, "suspect")), None)
    return [Candidate(r, r is default and not chosen, r.pk == chosen,
                      r.suspect.reason if hasattr(r, "suspect") else "") for r in usable]


def candidates(row: StepRun, now: datetime, limit: int = 50) -> list[Candidate]:
    """The catalogue for the step, newest first, with the default and the current choice marked."""
    return _catalogue(_records(row), now, row.params.get("record"), limit)


def is_image_choice(row: StepRun) -> bool:
    """A provision from a system image the scenario does not pin (no params.image)."""
    return (row.kind == StepKind.AUTOMATED and row.spec.get("action") == provision.NAME
            and bool(row.params.get("server")) and not row.params.get("image"))


def image_candidates(row: StepRun, now: datetime, limit: int = 50) -> list[Candidate]:
    """The server's catalogued images still viable at `now`, newest first, the default and the choice marked."""
    return _catalogue(provision.image_catalogue(row.params["server"]), now, row.params.get("image_record"), limit)


def choose_image(step_run_id: int, actor, record_id: int) -> StepRun:
    """Provision from the image of backup record `record_id`: one of this server's catalogued images, viable now."""
    if not has_role(actor, Role.OPS):
        raise EngineError("only ops choose the image a server is provisioned from")
    with transaction.atomic():
        row = _open_choice(step_run_id, is_image_choice, "does not provision from a catalogued image", "image")
        server = row.params["server"]
        record = provision.image_catalogue(server).select_related("suspect").filter(pk=record_id).first()
        if record is None:
            raise EngineError({"record": f"backup #{record_id} is not an image of {server}"})
        if not record.is_viable_at(clock.now()):
            raise EngineError({"record": f"image {record.key} of {server} is not viable now"
                                         + (f" (it expired {record.expires_at:%Y-%m-%d %H:%M} UTC)"
                                            if record.expires_at and record.expires_at <= clock.now() else "")})
        suspect = getattr(record, "suspect", None)
        label = f"{record.key}, taken {record.recovery_point or record.completed_at:%Y-%m-%d %H:%M} UTC"
        _set_choice(row, {"image_record": record.pk, "image_label": label}, "image")
        audit.record(actor, "scenario_step.image_chosen", row,
                     before={"image_record": row.params.get("image_record"),
                             "suspect_approved_by": row.params.get("suspect_approved_by")},
                     after={"image_record": record.pk, "image": record.key, "location": record.location_label,
                            "suspect": suspect.reason if suspect else None})
    row.refresh_from_db()
    return row


def _open_choice(step_run_id: int, fits, refusal: str, what: str) -> StepRun:
    """The step, locked, if a choice of `what` applies to it and it has not started."""
    row = StepRun.objects.select_for_update().select_related("run").get(pk=step_run_id)
    if not fits(row):
        raise EngineError(f"“{row.title}” {refusal}")
    if row.state not in CHOOSABLE:
        raise EngineError(f"“{row.title}” is {row.state}: the {what} can only be chosen before it runs")
    return row


def _set_choice(row: StepRun, choice: dict, what: str) -> None:
    """Write the choice (dropping an approval given for the previous one) unless a worker claimed the step:
    the conditional update is the claim race with the worker; once it holds the step, the choice is too late."""
    params = {k: v for k, v in row.params.items() if k != "suspect_approved_by"}
    params.update(choice)
    if not StepRun.objects.filter(pk=row.pk, state__in=CHOOSABLE).update(params=params):
        raise EngineError(f"“{row.title}” started meanwhile: the {what} can no longer change")


def choose(step_run_id: int, actor, record_id: int) -> StepRun:
    if not has_role(actor, Role.OPS):
        raise EngineError("only ops choose a recovery point")
    with transaction.atomic():
        row = _open_choice(step_run_id, is_choosable, "does not restore from a catalogued backup", "recovery point")
        record = _records(row).select_related("suspect").filter(pk=record_id).first()
        if record is None or not record.is_viable_at(clock.now()):
            raise EngineError({"record": f"backup #{record_id} is not a viable copy of {row.params['asset']}"})
        before = {"record": row.params.get("record"), "suspect_approved_by": row.params.get("suspect_approved_by")}
        _set_choice(row, {"record": record.pk}, "recovery point")
        suspect = getattr(record, "suspect", None)
        audit.record(actor, "scenario_step.recovery_point_chosen", row, before=before, after={
            "record": record.pk, "recovery_point": record.recovery_point.isoformat(),
            "location": record.location_label, "suspect": suspect.reason if suspect else None})
    row.refresh_from_db()
    return row


def approve_suspect(step_run_id: int, actor) -> StepRun:
    if not has_role(actor, Role.MANAGER):
        raise EngineError("only a manager approves restoring from a suspect recovery point")
    from backups.models import SuspectPoint

    with transaction.atomic():
        row = StepRun.objects.select_for_update().get(pk=step_run_id)
        # A restore's chosen copy, or a provision's chosen image: both are backup records.
        chosen = row.params.get("record") or row.params.get("image_record")
        mark = SuspectPoint.objects.filter(record_id=chosen).first() if chosen else None
        if mark is None:
            raise EngineError(f"“{row.title}” has no suspect recovery point or image chosen")
        if row.state not in CHOOSABLE:
            raise EngineError(f"“{row.title}” is {row.state}: too late to approve")
        params = {**row.params, "suspect_approved_by": actor.username}
        StepRun.objects.filter(pk=row.pk, state__in=CHOOSABLE).update(params=params)
        audit.record(actor, "scenario_step.suspect_point_approved", row, before={"suspect_approved_by": None},
                     after={"record": mark.record_id, "reason": mark.reason, "suspect_approved_by": actor.username})
    row.refresh_from_db()
    return row


def mark_suspect(record_id: int, actor, reason: str):
    from backups.models import BackupRecord, SuspectPoint

    if not has_role(actor, Role.OPS, Role.MANAGER):
        raise EngineError("only ops and managers mark recovery points suspect")
    if not reason.strip():
        raise EngineError({"reason": "say why the recovery point is suspect"})
    record = BackupRecord.objects.filter(pk=record_id).first()
    if record is None:
        raise EngineError({"record": f"no backup #{record_id}"})
    with transaction.atomic():
        mark, created = SuspectPoint.objects.get_or_create(record=record, defaults={
            "reason": reason.strip(), "marked_by": actor, "marked_at": clock.now()})
        if not created:
            raise EngineError(f"backup #{record_id} is already marked suspect: {mark.reason}")
        audit.record(actor, "backup.marked_suspect", record, after={"reason": mark.reason,
                                                                     "recovery_point": str(record.recovery_point)})
    return mark


def points_used(incident_id: int) -> dict[str, tuple[datetime, str]]:
    """asset name -> (recovery point, location) of the copy each restore of the incident's run used, or is set
    to use: what the customer notices' windows are computed from."""
    from backups.models import BackupRecord

    wanted: dict[str, int] = {}
    rows = StepRun.objects.filter(run__incident_id=incident_id, kind=StepKind.AUTOMATED).exclude(
        state__in=(StepState.SKIPPED, StepState.CANCELLED))
    for params, state in rows.filter(Q(params__has_key="record") | Q(action_state__has_key="record")).values_list(
            "params", "action_state"):
        used = (state.get("record") or {}).get("id") or params.get("record")
        if used and params.get("asset"):
            wanted[params["asset"]] = used
    records = BackupRecord.objects.select_related("zone__region__provider", "region__provider").in_bulk(
        set(wanted.values()))
    return {asset: (records[pk].recovery_point, records[pk].location_label)
            for asset, pk in wanted.items() if pk in records and records[pk].recovery_point}
