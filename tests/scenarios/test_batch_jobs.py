"""One job performs a batch of a fan-out's servers: what one server's failure does to the others."""

from __future__ import annotations

import time
from datetime import timedelta

import django_rq
import pytest

from drportal.audit.models import AuditEvent
from drportal.lib import clock
from scenarios import engine, jobs, simulated
from scenarios.choices import RunState, StepState
from scenarios.models import StepRun
from tests.scenarios.conftest import drain, scenario

pytestmark = pytest.mark.django_db(transaction=True)

PROVISION_EACH = """\
- id: provision
  kind: automated
  title: "Provision {server}"
  quote: "provision a replacement server using the most recent, viable system image"
  action: simulated
  for_each: server
  params: {server: "{server}", duration: 0}
"""
FANOUT = scenario("batch", PROVISION_EACH)


def test_a_batch_with_one_failing_server_fails_only_that_server(make_servers, declare, alice, staff_notices):
    run, _ = engine.start_run(declare(servers=make_servers(3)), FANOUT, alice)
    # The provider refuses web1 for good (before any worker has seen the rows).
    bad = run.steps.get(item="web1")
    StepRun.objects.filter(pk=bad.pk).update(params={**bad.params, "fail": "permanent"})

    drain()

    rows = {r.item: r for r in run.steps.all()}
    assert len({r.actor_label for r in rows.values()}) == 1  # the three were one job's batch
    assert [(item, rows[item].state) for item in sorted(rows)] == [
        ("web0", StepState.SUCCEEDED), ("web1", StepState.FAILED), ("web2", StepState.SUCCEEDED)]
    assert rows["web1"].error == "simulated: simulated permanent failure (permanent)"
    assert [simulated.creations(rows[i].idempotency_key) for i in ("web0", "web1", "web2")] == [1, 0, 1]
    assert rows["web0"].outputs["node_id"].startswith("sim-")
    events = AuditEvent.objects.filter(object_type="scenarios.steprun").values_list("object_id", "action")
    assert sorted(events) == sorted([(str(rows["web0"].pk), "scenario_step.succeeded"),
                                     (str(rows["web1"].pk), "scenario_step.failed"),
                                     (str(rows["web2"].pk), "scenario_step.succeeded")])
    run.refresh_from_db()
    assert run.state == RunState.FAILED
    assert [n["subject"] for n in staff_notices] == ["Step failed: Provision web1"]


def test_a_batch_of_repeated_finished_and_unknown_ids_performs_each_ready_server_once(make_servers, declare, alice):
    run, _ = engine.start_run(declare(servers=make_servers(3)), FANOUT, alice)
    web0, web1, web2 = run.steps.order_by("item")
    clear_queue()
    jobs.run_steps([web0.pk])

    assert jobs.run_steps([web1.pk, web1.pk, web0.pk, 10**12, web2.pk, web2.pk]) == 2

    assert [simulated.creations(r.idempotency_key) for r in (web0, web1, web2)] == [1, 1, 1]
    assert list(run.steps.order_by("item").values_list("state", "attempts")) == [(StepState.SUCCEEDED, 1)] * 3
    run.refresh_from_db()
    assert run.state == RunState.SUCCEEDED


def clear_queue() -> None:
    """Drop the jobs start_run enqueued: the test hands the ids to run_steps itself."""
    django_rq.get_queue("high").empty()


def step_events(rows) -> list[tuple[str, str]]:
    return sorted(AuditEvent.objects.filter(object_type="scenarios.steprun", object_id__in=[str(r.pk) for r in rows])
                  .values_list("object_id", "action"))


def test_a_crashed_batch_retried_and_duplicated_provisions_each_server_once_with_one_audit_row_per_change(
        make_servers, declare, alice):
    """The batch is claimed and its simulated cloud called in one pipelined round trip (execute_many), then the
    worker dies before writing; the reconciler hands the steps out again and the retried job runs twice at once.
    Each server is created once, the dead worker's late results are dropped by the conditional write, and each
    change of state has its one audit row."""
    run, _ = engine.start_run(declare(servers=make_servers(3)), FANOUT, alice)
    rows = list(run.steps.order_by("item"))
    ids = [r.pk for r in rows]
    clear_queue()
    claimed = jobs.claim(ids, "job:dies")
    late = jobs.perform_batch(claimed)  # nodes created, then the worker is killed before apply_results
    assert [simulated.creations(r.idempotency_key) for r in rows] == [1, 1, 1]
    StepRun.objects.filter(pk__in=ids).update(lease_until=clock.now() - timedelta(seconds=1))
    assert jobs.reconcile()["requeued"] == 3
    clear_queue()

    assert jobs.run_steps(ids) == 3
    assert jobs.run_steps(ids) == 0  # the duplicate finds nothing ready
    jobs.apply_results(late, "job:dies")  # the dead worker's results arrive after all

    assert [simulated.creations(r.idempotency_key) for r in rows] == [1, 1, 1]
    assert list(run.steps.order_by("item").values_list("state", "attempts")) == [(StepState.SUCCEEDED, 2)] * 3
    assert step_events(rows) == sorted([(str(r.pk), a) for r in rows
                                        for a in ("scenario_step.requeued", "scenario_step.succeeded")])
    for row in run.steps.all():
        assert any("already exists" in line for line in row.log)  # the retry followed the node it found
        assert not row.log[-1].startswith("worker lost")


def test_a_batch_the_action_cannot_answer_as_a_whole_is_executed_one_by_one(make_servers, declare, alice,
                                                                          monkeypatch):
    """execute_many raising after acting on part of the batch: the engine executes each step again alone, which
    finds what was created (actions are idempotent) and creates the rest, once each."""
    run, _ = engine.start_run(declare(servers=make_servers(3)), FANOUT, alice)
    rows = list(run.steps.order_by("item"))
    clear_queue()
    real = simulated.SIMULATED.execute_many

    def half_then_crash(ctxs):
        real(ctxs[:1])
        raise ConnectionError("pipeline lost")

    monkeypatch.setattr(simulated.SIMULATED, "execute_many", half_then_crash)

    assert jobs.run_steps([r.pk for r in rows]) == 3

    assert [simulated.creations(r.idempotency_key) for r in rows] == [1, 1, 1]
    assert list(run.steps.values_list("state", flat=True)) == [StepState.SUCCEEDED] * 3
    assert step_events(rows) == sorted((str(r.pk), "scenario_step.succeeded") for r in rows)


def test_a_batch_of_pipelined_and_failing_steps_answers_each_step_as_execute_alone_would(make_servers, declare,
                                                                                        alice):
    """One batch: a node created (ready at once), one throttled (transient: retried later), one refused for good.
    The pipelined batch says what execute said for each."""
    run, _ = engine.start_run(declare(servers=make_servers(3)), FANOUT, alice)
    web0, web1, web2 = run.steps.order_by("item")
    StepRun.objects.filter(pk=web1.pk).update(params={**web1.params, "fail": "transient:1"})
    StepRun.objects.filter(pk=web2.pk).update(params={**web2.params, "fail": "permanent"})
    clear_queue()

    jobs.run_steps([web0.pk, web1.pk, web2.pk])

    rows = {r.item: r for r in run.steps.all()}
    assert [(rows[i].state, rows[i].attempts) for i in ("web0", "web1", "web2")] == [
        (StepState.SUCCEEDED, 1), (StepState.WAITING, 1), (StepState.FAILED, 1)]
    assert rows["web1"].due_at is not None
    assert rows["web1"].error.startswith("simulated: simulated throttling")
    assert rows["web0"].finished_at is not None
    assert rows["web0"].lease_until is None
    assert [simulated.creations(rows[i].idempotency_key) for i in ("web0", "web1", "web2")] == [1, 0, 0]
    actions = dict(AuditEvent.objects.filter(object_type="scenarios.steprun").values_list("object_id", "action"))
    assert actions == {str(web0.pk): "scenario_step.succeeded", str(web1.pk): "scenario_step.waiting",
                       str(web2.pk): "scenario_step.failed"}
    failed = AuditEvent.objects.get(object_id=str(web2.pk))
    assert failed.before == {"state": StepState.RUNNING}
    assert failed.after["state"] == StepState.FAILED


# The same fan-out, each simulated node ready half a second after its creation.
SLOW = scenario("batch-slow", PROVISION_EACH.replace("duration: 0}", "duration: 0.5}"))


def created_and_waiting(make_servers, declare, alice) -> list[StepRun]:
    """A fan-out of three whose nodes were created and are not ready yet; the queue emptied."""
    run, _ = engine.start_run(declare(servers=make_servers(3)), SLOW, alice)
    rows = list(run.steps.order_by("item"))
    clear_queue()
    jobs.run_steps([r.pk for r in rows])
    assert set(run.steps.values_list("state", flat=True)) == {StepState.WAITING}
    return rows


def test_the_poller_completes_the_servers_it_keeps_without_a_worker(make_servers, declare, alice):
    rows = created_and_waiting(make_servers, declare, alice)
    time.sleep(0.6)  # the simulated nodes become ready

    assert jobs.process_due(clock.now(), "job:poller", keep=1000) == 3

    # Nothing was handed to a worker (the one job queued is the poller, woken when the nodes were created).
    assert [j.func_name for j in django_rq.get_queue("high").jobs] == ["scenarios.jobs.poll_due"]
    done = StepRun.objects.filter(pk__in=[r.pk for r in rows]).order_by("item")
    assert list(done.values_list("state", "due_at")) == [(StepState.SUCCEEDED, None)] * 3
    assert [simulated.creations(r.idempotency_key) for r in rows] == [1, 1, 1]
    assert step_events(rows) == sorted((str(r.pk), "scenario_step.succeeded") for r in rows)


def test_the_poller_claims_only_its_kept_servers_still_waiting_and_due(make_servers, declare, alice):
    """Between the poller's round and its claim, another poller released web0 to the workers, and web2's deadline
    moved on: the claim takes web1 alone, and web0 is the workers' to run, once."""
    web0, web1, web2 = created_and_waiting(make_servers, declare, alice)
    time.sleep(0.6)
    StepRun.objects.filter(pk=web0.pk).update(state=StepState.READY, due_at=None)
    StepRun.objects.filter(pk=web2.pk).update(due_at=clock.now() + timedelta(minutes=5))

    claimed = jobs.claim([web0.pk, web1.pk, web2.pk], "job:poller", due_by=clock.now())

    assert [r.item for r in claimed] == ["web1"]
    states = dict(StepRun.objects.filter(pk__in=[web0.pk, web1.pk, web2.pk]).values_list("item", "state"))
    assert states == {"web0": StepState.READY, "web1": StepState.RUNNING, "web2": StepState.WAITING}
    assert jobs.run_steps([web0.pk]) == 1
    assert simulated.creations(web0.idempotency_key) == 1


def test_the_poller_waits_longer_than_its_redis_connections_read_timeout_without_dying():
    import time

    from scenarios import jobs

    conn = jobs._redis()
    limit = jobs.read_timeout(conn)
    assert limit, "the connection has a read timeout: this test is about outlasting it"
    started = time.monotonic()
    jobs.block(conn, limit + 1.5)  # a BLPOP this long, unguarded, raised redis's TimeoutError
    assert time.monotonic() - started < limit + 1
