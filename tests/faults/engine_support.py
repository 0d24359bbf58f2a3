"""Driving the scenarios engine in fault tests: a real `rq worker` subprocess, a way to freeze it right after
its action acted on the provider, and a second worker that takes the run to its end."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from contextlib import contextmanager
from pathlib import Path

import django_rq
import psycopg
from django.conf import settings
from rq import SimpleWorker

from drportal.lib import clock
from drportal.lib.dburl import current_database_url
from scenarios import jobs, loader
from scenarios.choices import RunState
from scenarios.models import Run, StepRun

ROOT = Path(settings.BASE_DIR)
# A quote from the Jivosoft plan: the validator wants every step tied to the plan's words.
QUOTE = "provision a replacement server using the most recent, viable system image"


def one_step(action: str, params: dict, *, max_attempts: int = 5) -> loader.Scenario:
    """A scenario of one automated step running `action` with `params` (YAML flow mapping via JSON)."""
    import json

    text = textwrap.dedent(f"""\
        id: fault-{action.replace('_', '-')}
        title: Fault test {action}
        disaster_class: server_crash
        trigger: "A test"
        objectives: {{rto_minutes: 30, rpo_minutes: 60}}
        owner: ops
        last_reviewed: 2026-01-01
        steps:
        - id: act
          kind: automated
          title: "{action}"
          quote: "{QUOTE}"
          action: {action}
          max_attempts: {max_attempts}
          params: {json.dumps(params)}
        """)
    scenario, errors = loader.parse(text, "fault.yaml", loader.installed_actions())
    assert errors == [], errors
    return scenario


def wait_for(predicate, timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"{what} not reached in {timeout:g} s")


def _dsn() -> str:
    # The test database, reached the same way as this process (a unix socket when embedded).
    return current_database_url()


def worker_env(redis_url: str | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"DATABASE_URL": _dsn(), "REDIS_URL": redis_url or settings.REDIS_URL,
                "SCENARIOS_LEASE_SECONDS": "2", "PYTHONPATH": str(ROOT)})
    return env


def start_worker(redis_url: str | None = None) -> subprocess.Popen:
    """rq's forking worker, as production runs it (`manage.py rqworker`)."""
    return subprocess.Popen(
        [sys.executable, "manage.py", "rqworker", "high"], cwd=ROOT, env=worker_env(redis_url),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            found += [int(p) for p in (task / "children").read_text().split()]
    except FileNotFoundError:
        pass
    return found


def sigkill(worker: subprocess.Popen) -> None:
    """SIGKILL the work horse (rq forks one per job) and the worker: no cleanup code runs in either."""
    for pid in [*_children(worker.pid), worker.pid]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    worker.wait(timeout=10)


@contextmanager
def run_row_locked(run_id: int):
    """Hold the run's row lock from another connection. A worker can claim and perform the step (neither
    locks the run) but then blocks writing its result (apply_results locks the run first): killing it then
    is the worst moment, the provider has acted and the engine has recorded nothing."""
    with psycopg.connect(_dsn(), autocommit=False) as conn:
        conn.execute("SELECT id FROM scenarios_run WHERE id = %s FOR UPDATE", [run_id])

        def blocked() -> bool:
            with psycopg.connect(_dsn(), autocommit=True) as probe:
                return bool(probe.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' AND query ILIKE %s", ["%scenarios_run%"]).fetchone()[0])

        yield blocked
        conn.rollback()


def drain() -> None:
    conn = django_rq.get_connection("high")
    SimpleWorker([django_rq.get_queue("high")], connection=conn).work(burst=True)


def finish(run: Run, timeout: float = 60.0) -> Run:
    """The second worker: the reconciler once the dead worker's lease lapsed, then jobs and due polls until
    the run ends."""
    wait_for(lambda: not StepRun.objects.filter(run=run, lease_until__gte=clock.now()).exists(), 15,
             "the dead worker's lease to lapse")
    jobs.reconcile()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        drain()
        jobs.process_due(clock.now(), "test")
        drain()
        run.refresh_from_db()
        if run.state != RunState.RUNNING:
            return run
        time.sleep(0.2)
    raise AssertionError(f"run {run.pk} still {run.state}: {list(run.steps.values('state', 'error', 'log'))}")
