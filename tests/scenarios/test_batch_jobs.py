"""One job performs a batch of a fan-out's servers: what one server's failure does to the others."""

from __future__ import annotations

import django_rq
import pytest

from drportal.audit.models import AuditEvent
from scenarios import engine, jobs, simulated
from scenarios.choices import RunState, StepState
from scenarios.models import StepRun
from tests.scenarios.conftest import drain, scenario

pytestmark = pytest.mark.django_db(transaction=True)

FANOUT = scenario("batch", """\
- id: provision
  kind: automated
  title: "Provision {server}"
  quote: "provision a replacement server using the most recent, viable system image"
  action: simulated
  for_each: server
  params: {server: "{server}", duration: 0}
""")


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
