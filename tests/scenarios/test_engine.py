from __future__ import annotations

import pytest

from drportal.audit.models import AuditEvent
from scenarios import engine
from scenarios.choices import RunState, StepState
from scenarios.models import Run, StepRun
from tests.scenarios.conftest import scenario

BRANCHING = scenario("branching", """\
- id: ask
  kind: manual
  title: Ask the provider
  quote: "Jivasoft would contact Rackspace to determine the cause of the server outage."
  instructions: "Call them"
  requires: notes
- id: recovers
  kind: decision
  title: Can they recover it?
  quote: "If Rackspace is able to recover the server quickly, no further action would be required."
  after: [ask]
  question: "Can they?"
  options:
    - {value: "yes", label: "Yes", next: [confirm]}
    - {value: "no", label: "No", next: [approve]}
- id: confirm
  kind: manual
  title: Confirm it is back
  quote: "If Rackspace is able to recover the server quickly, no further action would be required."
  after: [recovers]
  instructions: "Check"
- id: approve
  kind: approval
  title: Approve a replacement
  quote: "Jivasoft's staff would provision a replacement server"
  after: [recovers]
  reason: "costs money"
- id: rebuild
  kind: manual
  title: Rebuild
  quote: "Jivasoft's staff would provision a replacement server"
  after: [approve]
  instructions: "Rebuild"
- id: review
  kind: manual
  title: Review
  quote: "Jivasoft staff will meet to review what, if any, changes were made"
  after: [confirm, rebuild]
  instructions: "Review"
""")


def states(run: Run) -> dict[str, str]:
    return dict(run.steps.values_list("step_id", "state"))


def row(run: Run, step_id: str) -> StepRun:
    return run.steps.get(step_id=step_id)


def test_it_creates_a_step_run_per_step_and_readies_the_first(declare, alice):
    run, created = engine.start_run(declare(), BRANCHING, alice)
    assert created
    assert states(run) == {"ask": "ready", "recovers": "pending", "confirm": "pending", "approve": "pending",
                           "rebuild": "pending", "review": "pending"}
    assert AuditEvent.objects.filter(action="scenario_run.started", object_id=str(run.pk)).exists()


def test_a_second_start_returns_the_same_run(declare, alice, mona):
    incident = declare()
    first, _ = engine.start_run(incident, BRANCHING, alice)
    second, created = engine.start_run(incident, BRANCHING, mona)
    assert (second.pk, created) == (first.pk, False)
    assert Run.objects.count() == 1


def test_a_manual_step_needs_its_notes(declare, alice):
    run, _ = engine.start_run(declare(), BRANCHING, alice)
    with pytest.raises(engine.EngineError, match="needs notes"):
        engine.complete_step(row(run, "ask").pk, alice, notes=" ")
    assert row(run, "ask").state == StepState.READY


def test_completing_a_step_twice_says_who_did_it(declare, alice, mona):
    run, _ = engine.start_run(declare(), BRANCHING, alice)
    engine.complete_step(row(run, "ask").pk, alice, notes="ticket 42")
    with pytest.raises(engine.EngineError, match="already succeeded \\(by alice"):
        engine.complete_step(row(run, "ask").pk, mona, notes="me too")
    done = row(run, "ask")
    assert (done.actor, done.notes) == (alice, "ticket 42")
    assert AuditEvent.objects.filter(action="scenario_step.completed").count() == 1


def test_a_decision_skips_the_branch_not_taken(declare, alice):
    run, _ = engine.start_run(declare(), BRANCHING, alice)
    engine.complete_step(row(run, "ask").pk, alice, notes="called")
    engine.decide(row(run, "recovers").pk, alice, "yes")
    assert states(run) == {"ask": "succeeded", "recovers": "succeeded", "confirm": "ready", "approve": "skipped",
                           "rebuild": "skipped", "review": "pending"}
    engine.complete_step(row(run, "confirm").pk, alice)
    engine.complete_step(row(run, "review").pk, alice)
    run.refresh_from_db()
    assert run.state == RunState.SUCCEEDED
    assert run.finished_at is not None


def test_an_unknown_option_is_refused(declare, alice):
    run, _ = engine.start_run(declare(), BRANCHING, alice)
    engine.complete_step(row(run, "ask").pk, alice, notes="called")
    with pytest.raises(engine.EngineError, match="choose one of: yes, no"):
        engine.decide(row(run, "recovers").pk, alice, "maybe")


def test_only_a_manager_approves(declare, alice, mona):
    run, _ = engine.start_run(declare(), BRANCHING, alice)
    engine.complete_step(row(run, "ask").pk, alice, notes="called")
    engine.decide(row(run, "recovers").pk, alice, "no")
    with pytest.raises(engine.EngineError, match="only a manager"):
        engine.approve(row(run, "approve").pk, alice, approved=True)
    engine.approve(row(run, "approve").pk, mona, approved=True, notes="go")
    assert states(run)["rebuild"] == "ready"
    assert states(run)["confirm"] == "skipped"


def test_a_refusal_fails_the_step_and_a_retry_asks_again(declare, alice, mona):
    run, _ = engine.start_run(declare(), BRANCHING, alice)
    engine.complete_step(row(run, "ask").pk, alice, notes="called")
    engine.decide(row(run, "recovers").pk, alice, "no")
    engine.approve(row(run, "approve").pk, mona, approved=False, notes="too expensive")
    run.refresh_from_db()
    assert run.state == RunState.FAILED
    engine.retry_step(row(run, "approve").pk, alice)
    run.refresh_from_db()
    assert (run.state, states(run)["approve"]) == (RunState.RUNNING, "ready")


def test_skip_needs_a_reason_and_lets_the_run_go_on(declare, alice):
    run, _ = engine.start_run(declare(), BRANCHING, alice)
    with pytest.raises(engine.EngineError):
        engine.skip_step(row(run, "ask").pk, alice, reason="")
    engine.skip_step(row(run, "ask").pk, alice, reason="provider called us first")
    assert states(run)["recovers"] == "ready"
    assert row(run, "ask").skip_reason == "provider called us first"


def test_abort_cancels_every_open_step(declare, alice):
    run, _ = engine.start_run(declare(), BRANCHING, alice)
    engine.abort(run.pk, alice, reason="false alarm")
    run.refresh_from_db()
    assert run.state == RunState.ABORTED
    assert set(states(run).values()) == {"cancelled"}
    with pytest.raises(engine.EngineError, match="aborted"):
        engine.complete_step(row(run, "ask").pk, alice, notes="x")


def test_a_run_needs_an_open_incident(declare, alice):
    from drportal.incidents import services

    incident = declare()
    services.transition(alice, incident.pk, "closed")
    incident.refresh_from_db()
    with pytest.raises(engine.EngineError, match="needs an open incident"):
        engine.start_run(incident, BRANCHING, alice)
