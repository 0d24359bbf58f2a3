"""Faults from the issue: a worker SIGKILLed mid-step, two Execute clicks at once, a step completed twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from drportal.lib import clock
from drportal.lib.dburl import current_database_url
from scenarios import engine, jobs, simulated
from scenarios.choices import RunState, StepState
from scenarios.models import Run, StepRun
from tests.scenarios.conftest import drain, scenario

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(settings.BASE_DIR)

BLOCKING = scenario("blocking", """\
- id: provision
  kind: automated
  title: "Provision {server}"
  quote: "provision a replacement server using the most recent, viable system image"
  action: simulated
  for_each: server
  params: {server: "{server}", duration: 0, block: 60}
""")


def _wait_for(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("condition not reached in time")


def _worker_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": current_database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "SCENARIOS_LEASE_SECONDS": "2",
        "PYTHONPATH": str(ROOT),
    })
    return env


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(p) for p in (task / "children").read_text().split()]
    return found


def test_a_worker_killed_mid_step_is_replaced_and_each_step_is_done_once(make_servers, declare, alice):
    run, _ = engine.start_run(declare(servers=make_servers(2)), BLOCKING, alice)
    keys = list(run.steps.values_list("idempotency_key", flat=True))
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "rqworker", "high"], cwd=ROOT, env=_worker_env(),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # Mid-step: both steps claimed in one batch, the provider made the first node, and the work
        # horse is still inside execute().
        _wait_for(lambda: sum(simulated.creations(k) for k in keys) == 1)
        assert set(run.steps.values_list("state", flat=True)) == {StepState.RUNNING}
    finally:
        # SIGKILL the work horse (rq forks it into a process group of its own) and the worker.
        for pid in [*_children(worker.pid), worker.pid]:
            os.kill(pid, signal.SIGKILL)
        worker.wait(timeout=10)
    _wait_for(lambda: not StepRun.objects.filter(run=run, lease_until__gte=clock.now()).exists(), timeout=10)

    assert jobs.reconcile()["requeued"] == 2
    drain()  # the second worker

    rows = list(run.steps.all())
    assert [(r.state, r.attempts) for r in rows] == [(StepState.SUCCEEDED, 2), (StepState.SUCCEEDED, 2)]
    assert [simulated.creations(k) for k in keys] == [1, 1]
    assert all("worker lost" in " ".join(r.log) for r in rows)
    run.refresh_from_db()
    assert run.state == RunState.SUCCEEDED


MANUAL = scenario("manual", """\
- id: ask
  kind: manual
  title: Ask the provider
  quote: "Jivasoft would contact Rackspace to determine the cause of the server outage."
  instructions: "Call them"
""")


def _together(count: int, work) -> list:
    """Run `work(i)` in `count` threads released at the same instant; each has its own DB connection."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def body(i: int) -> None:
        try:
            barrier.wait()
            results[i] = work(i)
        except Exception as exc:  # noqa: BLE001 - the test asserts on whatever each thread raised
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=body, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_two_execute_clicks_at_once_start_one_run(declare, alice, mona):
    incident = declare()
    people = [alice, mona]
    results = _together(2, lambda i: engine.start_run(incident, MANUAL, people[i]))
    assert not any(isinstance(r, Exception) for r in results), results
    assert {run.pk for run, _ in results} == set(Run.objects.values_list("pk", flat=True))
    assert Run.objects.count() == 1
    assert sorted(created for _, created in results) == [False, True]
    assert StepRun.objects.count() == 1


def test_a_step_completed_twice_at_once_is_completed_once(declare, alice, mona):
    run, _ = engine.start_run(declare(), MANUAL, alice)
    step = run.steps.get()
    people = [alice, mona]
    results = _together(2, lambda i: engine.complete_step(step.pk, people[i], notes=f"by {people[i].username}"))
    errors = [r for r in results if isinstance(r, Exception)]
    assert len(errors) == 1
    assert "already succeeded" in str(errors[0])
    step.refresh_from_db()
    assert step.notes == f"by {step.actor.username}"
    from drportal.audit.models import AuditEvent

    assert AuditEvent.objects.filter(action="scenario_step.completed").count() == 1


def test_a_late_result_from_a_replaced_worker_is_dropped(declare, alice):
    incident = declare()
    run, _ = engine.start_run(incident, scenario("late", """\
- id: provision
  kind: automated
  title: "Provision"
  quote: "provision a replacement server using the most recent, viable system image"
  action: simulated
"""), alice)
    step = run.steps.get()
    [claimed] = jobs.claim([step.pk], "job:first")
    StepRun.objects.filter(pk=step.pk).update(lease_until=clock.now() - timedelta(seconds=1))
    jobs.reconcile()  # gives the step to another worker
    late = jobs.perform(claimed)
    jobs.apply_results([late], "job:first")
    step.refresh_from_db()
    assert step.state == StepState.READY  # the first worker's result did not land
