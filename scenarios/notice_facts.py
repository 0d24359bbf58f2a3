"""What notifications asks of an incident's run, registered in ScenariosConfig.ready(): the restore facts for
notices (notifications.facts: a customer database counts as restored only when its restore step succeeded, with
the point of the copy it used), and when and by whom the run was started (notifications.actions' export)."""

from __future__ import annotations

from datetime import datetime

from drportal.incidents.models import Incident
from scenarios.choices import StepState
from scenarios.models import Run

RESTORE_ACTIONS = ("restore_database",)


def restores(incident: Incident) -> dict[int, list]:
    from drportal.inventory.models import Asset
    from notifications.facts import RestoreFact

    run = Run.objects.filter(incident=incident).first()
    if run is None:
        return {}
    restore_ids = {s["id"] for s in run.spec.get("steps", []) if s.get("action") in RESTORE_ACTIONS}
    rows = [r for r in run.steps.filter(step_id__in=restore_ids) if r.item]
    owners = dict(Asset.objects.filter(name__in=[r.item for r in rows], customer__isnull=False)
                  .values_list("name", "customer_id"))
    out: dict[int, list] = {}
    for row in rows:
        customer = owners.get(row.item)
        if customer is None:
            continue
        if row.state == StepState.SUCCEEDED:
            point = (row.outputs.get("backup") or {}).get("recovery_point")
            fact = RestoreFact(row.item, True, datetime.fromisoformat(point) if point else None)
        else:
            why = row.skip_reason or row.error or f"its restore is {row.get_state_display().lower()}"
            fact = RestoreFact(row.item, False, None, why)
        out.setdefault(customer, []).append(fact)
    return out


def run_of_incident(incident_id: int | None):
    """(started_at, started_by) of the incident's newest run, or None: the export step's requester and the time
    since which an export of the customer counts as this run's."""
    run = Run.objects.select_related("started_by").filter(incident_id=incident_id).first()
    return None if run is None else (run.started_at, run.started_by)
