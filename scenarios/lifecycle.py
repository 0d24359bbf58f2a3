"""One incident lifecycle: the incident's state follows its run, so the incident page, the run page, the public
status page and the dashboard never disagree.

The rules (each transition goes through incidents.services.transition, so it is checked and audited):
- a run starts: a declared incident is now being responded to;
- a run succeeds: the incident is recovered (the status page then reads "Resolved");
- a run fails, is aborted or ends incomplete (a recovery step had no target or a person skipped it): the
  incident stays open, and the incident page proposes what to do next;
- a drill's incident is closed when its run ends, whatever the outcome: a drill is never an open incident.
"""

from __future__ import annotations

from drportal.incidents import services as incidents
from drportal.incidents.choices import TRANSITIONS, IncidentStatus
from drportal.incidents.models import Incident
from scenarios.choices import FINAL_RUN_STATES, RunState
from scenarios.models import Run


def _move(actor, incident: Incident, to: str) -> None:
    # `actor` is a person or a job's label: the audit log names either.
    if incident.status != to and to in TRANSITIONS.get(incident.status, ()):
        incidents.transition(actor, incident.pk, to)
        incident.refresh_from_db(fields=["status", "responding_at", "recovered_at", "closed_at"])


def run_started(run: Run, actor) -> None:
    incident = run.incident
    if not run.drill and incident.status == IncidentStatus.DECLARED:
        _move(actor, incident, IncidentStatus.RESPONDING)


def run_ended(run: Run, actor) -> None:
    """Called when a run reaches an end state (succeeded, incomplete, aborted) or fails."""
    incident = Incident.objects.get(pk=run.incident_id)
    if run.drill or incident.is_drill:
        if run.state in FINAL_RUN_STATES:
            _move(actor, incident, IncidentStatus.CLOSED)
        return
    if run.state == RunState.SUCCEEDED:
        _move(actor, incident, IncidentStatus.RECOVERED)


def proposal(run: Run | None, incident: Incident) -> str:
    """What the incident page proposes after its run, in a sentence ("" when the rules already moved it)."""
    if run is None or run.drill:
        return ""
    if run.state == RunState.FAILED and incident.is_open:
        return ("The run has a failed step: the incident stays open. Retry or skip the step on the run page; "
                "mark the incident recovered only once the service is back.")
    if run.state == RunState.INCOMPLETE and incident.is_open:
        return ("The run finished without recovering everything (see what was not recovered): the incident "
                "stays open until that is done by hand; then mark it recovered.")
    if run.state == RunState.ABORTED and incident.is_open:
        return ("The run was aborted: the incident stays open. Recover by hand and mark it recovered, "
                "or close it if the outage is over.")
    if run.state == RunState.SUCCEEDED and incident.status == IncidentStatus.RECOVERED:
        return "The run succeeded: the incident was marked recovered. Close it after the post-incident review."
    return ""
