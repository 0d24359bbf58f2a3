from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine

from drportal.audit.models import AuditEvent
from drportal.lib import clock
from scenarios import engine, jobs, simulated
from scenarios.choices import RunState, StepState
from scenarios.models import StepRun
from tests.scenarios.conftest import drain, scenario

pytestmark = pytest.mark.django_db(transaction=True)

FANOUT = scenario("fanout", """\
- id: provision
  kind: automated
  title: "Provision {server}"
  quote: "provision a replacement server using the most recent, viable system image"
  action: simulated
  for_each: server
  params: {server: "{server}", duration: 0}
- id: tell
  kind: notify
  title: Tell ops
  quote: "Jivasoft staff would notify all impacted customers of the outage"
  after: [provision]
  audience: staff
  role: ops
  subject: "Provisioned for {incident_title}"
  body: "done"
""")


def test_automated_steps_run_once_per_server_and_the_run_finishes(make_servers, declare, alice, staff_notices):
    servers = make_servers(3)
    run, _ = engine.start_run(declare(servers=servers), FANOUT, alice)
    drain()
    rows = list(run.steps.order_by("position", "item"))
    assert [(r.step_id, r.item, r.state) for r in rows] == [
        ("provision", "web0", "succeeded"), ("provision", "web1", "succeeded"), ("provision", "web2", "succeeded"),
        ("tell", "", "succeeded")]
    assert all(simulated.creations(r.idempotency_key) == 1 for r in rows if r.step_id == "provision")
    assert rows[0].outputs["node_id"].startswith("sim-")
    run.refresh_from_db()
    assert run.state == RunState.SUCCEEDED
    assert [(n["role"], n["subject"]) for n in staff_notices] == [("ops", "Provisioned for Server down")]
    assert staff_notices[0]["dedupe_key"] == rows[-1].idempotency_key


def test_a_job_run_twice_does_nothing_the_second_time(make_servers, declare, alice):
    run, _ = engine.start_run(declare(servers=make_servers(1)), FANOUT, alice)
    step = run.steps.get(step_id="provision")
    drain()
    assert jobs.run_steps([step.pk]) == 0
    step.refresh_from_db()
    assert (step.attempts, simulated.creations(step.idempotency_key)) == (1, 1)


SLOW = scenario("slow", """\
- id: provision
  kind: automated
  title: "Provision {server}"
  quote: "provision a replacement server using the most recent, viable system image"
  action: simulated
  for_each: server
  params: {server: "{server}", duration: 120}
""")


def test_a_long_action_waits_without_a_worker_and_is_polled_when_due(make_servers, declare, alice):
    started = clock.now()
    with time_machine.travel(started, tick=False):  # the poll is due 120 s after the step ran, to the second
        run, _ = engine.start_run(declare(servers=make_servers(1)), SLOW, alice)
        drain()
    step = run.steps.get()
    assert step.state == StepState.WAITING
    assert (step.due_at - started).total_seconds() == 120
    assert jobs.process_due(step.due_at - timedelta(seconds=1), "test") == 0
    with time_machine.travel(step.due_at + timedelta(seconds=1), tick=False):
        assert jobs.process_due(clock.now(), "test") == 1
        drain()
    step.refresh_from_db()
    assert (step.state, step.attempts) == (StepState.SUCCEEDED, 2)
    assert simulated.creations(step.idempotency_key) == 1


FLAKY = scenario("flaky", """\
- id: provision
  kind: automated
  title: "Provision"
  quote: "provision a replacement server using the most recent, viable system image"
  action: simulated
  params: {fail: "transient:2"}
""")


def test_transient_errors_retry_with_backoff_served_by_the_poller(declare, alice, settings):
    settings.SCENARIOS_BACKOFF_BASE = 1.2
    run, _ = engine.start_run(declare(), FLAKY, alice)
    drain()  # the step fails twice; the poller job sleeps exactly until each retry is due
    step = StepRun.objects.get(run=run)
    assert (step.state, step.attempts, step.error) == (StepState.SUCCEEDED, 3, "")
    retries = [line.split(" ", 1)[1] for line in step.log if "retrying" in line]
    assert retries == ["retrying in 1.2 s", "retrying in 1.44 s"]


BROKEN = scenario("broken", """\
- id: provision
  kind: automated
  title: "Provision"
  quote: "provision a replacement server using the most recent, viable system image"
  action: simulated
  params: {fail: "permanent"}
""")


def test_a_permanent_error_fails_the_step_and_the_run_resumes_after_a_fix(declare, alice):
    run, _ = engine.start_run(declare(), BROKEN, alice)
    drain()
    step = run.steps.get()
    run.refresh_from_db()
    assert (step.state, run.state) == (StepState.FAILED, RunState.FAILED)
    assert "simulated permanent failure (permanent)" in step.error
    # The fix: the operator corrects the parameter the provider refused, then retries.
    StepRun.objects.filter(pk=step.pk).update(params={})
    engine.retry_step(step.pk, alice)
    drain()
    step.refresh_from_db()
    run.refresh_from_db()
    assert (step.state, run.state, step.attempts) == (StepState.SUCCEEDED, RunState.SUCCEEDED, 2)
    assert AuditEvent.objects.filter(action="scenario_step.retried").count() == 1


def test_a_paused_run_starts_nothing_until_resumed(make_servers, declare, alice):
    incident = declare(servers=make_servers(2))
    run, _ = engine.start_run(incident, FANOUT, alice)
    engine.pause(run.pk, alice)
    drain()
    assert set(run.steps.filter(step_id="provision").values_list("state", flat=True)) == {"ready"}
    engine.resume(run.pk, alice)
    drain()
    run.refresh_from_db()
    assert run.state == RunState.SUCCEEDED


def test_the_reconciler_requeues_a_step_whose_lease_lapsed(declare, alice):
    run, _ = engine.start_run(declare(), FLAKY.__class__(**{**FLAKY.__dict__}), alice)
    step = run.steps.get()
    # A worker claimed it and died: running, with a lease in the past.
    StepRun.objects.filter(pk=step.pk).update(state=StepState.RUNNING, attempts=1,
                                              lease_until=clock.now() - timedelta(seconds=1))
    result = jobs.reconcile()
    assert result["requeued"] == 1
    step.refresh_from_db()
    assert step.state == StepState.READY
    assert "worker lost" in step.log[-1]
    assert AuditEvent.objects.filter(action="scenario_step.requeued").count() == 1


def test_the_reconciler_reenqueues_ready_steps_whose_job_was_lost(make_servers, declare, alice, clean_redis):
    run, _ = engine.start_run(declare(servers=make_servers(2)), FANOUT, alice)
    clean_redis.flushdb()  # Redis restarted and lost the queue
    with time_machine.travel(clock.now() + timedelta(minutes=5), tick=False):
        assert jobs.reconcile()["reenqueued"] == 2
    drain()
    run.refresh_from_db()
    assert run.state == RunState.SUCCEEDED


WAITING = scenario("waiting", """\
- id: wait
  kind: wait
  title: Wait up to an hour
  quote: "If Rackspace anticipates that the data center will be operational and available within 8 hours"
  duration_minutes: 60
  remind_every_minutes: 20
  condition: "Dallas is back"
- id: after
  kind: manual
  title: Then this
  quote: "no further action would be required."
  after: [wait]
  instructions: "x"
""")


def test_a_wait_reminds_then_ends_on_time(declare, alice, staff_notices):
    run, _ = engine.start_run(declare(), WAITING, alice)
    wait = run.steps.get(step_id="wait")
    start = wait.ready_at
    assert wait.state == StepState.WAITING
    assert wait.due_at == start + timedelta(minutes=20)
    with time_machine.travel(start + timedelta(minutes=21), tick=False):
        assert jobs.process_due(clock.now(), "test") == 1
    wait.refresh_from_db()
    assert (wait.state, wait.reminders_sent, wait.due_at) == (StepState.WAITING, 1, start + timedelta(minutes=40))
    assert [(n["role"], n["subject"]) for n in staff_notices] == [("ops", "Reminder 1: Wait up to an hour")]
    with time_machine.travel(start + timedelta(minutes=61), tick=False):
        jobs.process_due(clock.now(), "test")
    wait.refresh_from_db()
    assert wait.state == StepState.SUCCEEDED
    assert run.steps.get(step_id="after").state == StepState.READY


def test_a_wait_can_be_ended_by_hand_with_a_reason(declare, alice):
    run, _ = engine.start_run(declare(), WAITING, alice)
    wait = run.steps.get(step_id="wait")
    with pytest.raises(engine.EngineError):
        engine.end_wait(wait.pk, alice, notes="")
    engine.end_wait(wait.pk, alice, notes="Rackspace says Dallas is back")
    wait.refresh_from_db()
    assert (wait.state, wait.due_at) == (StepState.SUCCEEDED, None)


REAL = scenario("real", """\
- id: provision
  kind: automated
  title: "Provision {server}"
  quote: "provision a replacement server using the most recent, viable system image"
  action: provision_from_image
  for_each: server
  params: {server: "{server}"}
- id: tell-customers
  kind: notify
  title: Tell customers
  quote: "Once the server has been reconstituted, Jivosoft will notify customers"
  after: [provision]
  audience: customers
  subject: "Restored: {incident_title}"
  body: "Back."
""")


def test_a_drill_runs_every_automated_step_on_the_simulated_cloud(make_servers, alice, monkeypatch, client_as):
    from drportal.cloud.actions.base import REGISTRY
    from scenarios import drills

    class Production:
        """The real action, as a spy: a drill may ask what it would do, never make it act."""
        name = "provision_from_image"
        title = "provision"
        executed: list[str] = []

        def plan(self, ctx):
            return [f"provision {ctx.params['server']} from its newest image"]

        def execute(self, ctx):
            self.executed.append(ctx.params["server"])
            raise AssertionError("a drill called the production action")

    monkeypatch.setitem(REGISTRY, "provision_from_image", Production())
    make_servers(2)
    drill = drills.start_drill(REAL, alice)
    drain()
    rows = {(r.step_id, r.item): r for r in drill.run.steps.all()}
    assert rows[("provision", "web0")].state == StepState.SUCCEEDED
    assert rows[("provision", "web0")].outputs["as_action"] == "provision_from_image"
    assert any("would: provision web0 from its newest image" in line for line in rows[("provision", "web0")].log)
    assert Production.executed == []
    # No customer-notice channel yet: the notice waits for a person, who sends it and completes the step.
    notice = rows[("tell-customers", "")]
    assert (notice.state, notice.outputs["handover"]) == (StepState.WAITING, "send by hand")
    engine.complete_step(notice.pk, alice, notes="sent from the support mailbox")
    drill.refresh_from_db()
    assert drill.finished_at is not None
    assert drill.measured_rto is not None
    # provision_from_image only planned, the simulated cloud stood in: the drill cannot claim its RTO.
    assert drill.rto_met is None
    provisions = drill.run.steps.filter(step_id="provision").count()
    assert len(drill.not_exercised) == provisions
    assert "only planned (provision_from_image checked its plan" in drill.not_exercised[0]
    page = client_as("mona").get("/scenarios/drills/").content.decode()
    assert "not measured" in page
    assert f"{provisions} recovery step{'s' if provisions > 1 else ''} not exercised" in page
    assert '<span class="badge s-ok">met</span>' not in page


def test_outside_a_drill_a_missing_action_fails_the_step_with_a_clear_message(make_servers, declare, alice,
                                                                              monkeypatch):
    from drportal.cloud.actions.base import REGISTRY

    monkeypatch.delitem(REGISTRY, "provision_from_image", raising=False)
    run, _ = engine.start_run(declare(servers=make_servers(1)), REAL, alice)
    drain()
    step = run.steps.get(step_id="provision")
    assert step.state == StepState.FAILED
    assert step.error.startswith("action 'provision_from_image' is not installed")


def test_the_reconciler_runs_every_minute_through_the_shared_scheduler(declare, alice):
    from django.utils.module_loading import import_string

    from backups.scheduler import EXTRA

    schedule, path = EXTRA["scenarios.reconcile"]
    assert schedule == "* * * * *"
    run, _ = engine.start_run(declare(), FLAKY, alice)
    step = run.steps.get()
    StepRun.objects.filter(pk=step.pk).update(state=StepState.RUNNING, attempts=1,
                                              lease_until=clock.now() - timedelta(seconds=1))
    assert import_string(path)(clock.now())["requeued"] == 1
