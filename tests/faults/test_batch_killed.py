"""A worker SIGKILLed in the middle of a batch (one job carrying several servers of a fan-out): the servers it
had created are followed, the ones it had not reached are created, and none is created twice."""

from __future__ import annotations

import django_rq
import pytest

from scenarios import engine, simulated
from scenarios.choices import RunState, StepState
from tests.faults.engine_support import finish, sigkill, start_worker, wait_for
from tests.scenarios.conftest import scenario

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("clean_redis")]

# `block` holds the worker for a second inside each server's creation, after the simulated cloud recorded it.
FANOUT = scenario("batch-killed", """\
- id: provision
  kind: automated
  title: "Provision {server}"
  quote: "provision a replacement server using the most recent, viable system image"
  action: simulated
  for_each: server
  params: {server: "{server}", duration: 0, block: 1}
""")


def servers_on_the_simulated_cloud(run) -> int:
    return len(list(django_rq.get_connection("default").scan_iter(f"{simulated.PREFIX}node:r{run.pk}-*")))


def test_a_batch_killed_after_its_first_server_creates_each_server_exactly_once(make_servers, declare, alice):
    # No worker listens yet, so the engine hands the three servers over as one job.
    run, _ = engine.start_run(declare(servers=make_servers(3)), FANOUT, alice)
    keys = list(run.steps.order_by("item").values_list("idempotency_key", flat=True))
    worker = start_worker()
    try:
        wait_for(lambda: simulated.creations(keys[0]) == 1, 60, "the worker to create the first server")
        sigkill(worker)
    finally:
        if worker.poll() is None:
            sigkill(worker)
    assert [simulated.creations(k) for k in keys] == [1, 0, 0]
    assert set(run.steps.values_list("state", "attempts")) == {(StepState.RUNNING, 1)}  # all three in one claim

    run = finish(run)

    assert run.state == RunState.SUCCEEDED
    assert [simulated.creations(k) for k in keys] == [1, 1, 1]
    assert servers_on_the_simulated_cloud(run) == 3
    assert set(run.steps.values_list("state", "attempts")) == {(StepState.SUCCEEDED, 2)}
