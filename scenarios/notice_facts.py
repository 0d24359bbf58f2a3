"""What notifications asks of an incident's run, registered in ScenariosConfig.ready(): the restore facts for
notices (notifications.facts: a customer database counts as restored only when its restore step succeeded, with
the point of the copy it used), and when and by whom the run was started (notifications.actions' export)."""

from __future__ import annotations

from datetime import datetime

from drportal.incidents.models import Incident
from notifications.facts import RestoreFact
from scenarios.choices import StepState
from scenarios.models import Run

RESTORE_ACTIONS = ("restore_database",)


def restores(incident: Incident) -> dict[int, list]:
    from drportal.inventory.models import Asset

    run = Run.objects.filter(incident=incident).first()
    if run is None:
        return {}
    restore_ids = {s["id"] for s in run.spec.get("steps", []) if s.get("action") in RESTORE_ACTIONS}
    by_item: dict[str, list] = {}
    for row in run.steps.filter(step_id__in=restore_ids).order_by("position"):
        if row.item:
            by_item.setdefault(row.item, []).append(row)
    owners = dict(Asset.objects.filter(name__in=list(by_item), customer__isnull=False)
                  .values_list("name", "customer_id"))
    out: dict[int, list] = {}
    for item, rows in by_item.items():
        if item in owners:
            out.setdefault(owners[item], []).append(restore_fact(item, rows))
    return out


def restore_fact(item: str, rows: list) -> RestoreFact:
    """One database's fact from every restore row the run has for it (a restore that hands a database over to
    a Cloud Storage restore gives it two): restored when one of them did the work, not when it handed it over;
    otherwise the reason of the row that says most (not a follow-up's branch not taken)."""
    for row in reversed(rows):
        if row.state == StepState.SUCCEEDED and not row.outputs.get("handover"):
            # A restore from a backup record says it under "backup"; one from the inventory's dumps at the top.
            point = (row.outputs.get("backup") or {}).get("recovery_point") or row.outputs.get("recovery_point")
            return RestoreFact(item, True, datetime.fromisoformat(point) if point else None)
    telling = [r for r in rows if not r.outputs.get("not_taken") and not r.skip_reason.startswith("branch not taken")
               and not (r.state == StepState.SUCCEEDED and r.outputs.get("handover"))]
    row = (telling or rows)[-1]
    if row.state == StepState.SUCCEEDED:  # handed over, and no step has taken it up yet
        why = "handed over to another restore, not yet done"
    else:
        why = row.skip_reason or row.error or f"its restore is {row.get_state_display().lower()}"
    return RestoreFact(item, False, None, why)


def run_of_incident(incident_id: int | None):
    """(started_at, started_by) of the incident's newest run, or None: the export step's requester and the time
    since which an export of the customer counts as this run's."""
    run = Run.objects.select_related("started_by").filter(incident_id=incident_id).first()
    return None if run is None else (run.started_at, run.started_by)
