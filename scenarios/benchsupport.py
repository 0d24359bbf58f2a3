"""What bench/fanout.py and bench/step_latency.py share: real `rq worker` processes on the configured Redis
and database, bench-only inventory rows, and clean-up afterwards (the audit log keeps its rows: it is
append-only by design)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROVIDER = "bench-simulated"


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "drportal.settings")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def database_url() -> str:
    from drportal.lib.dburl import current_database_url

    return current_database_url()


def clear_engine_state() -> None:
    """Start from a quiet queue: jobs and a poller lock left by an interrupted earlier run (a lock held by a
    killed poller blocks the next poller for up to a minute) must not slow this one. Only while no worker of
    ours runs, and only on the bench's own Redis database."""
    import django_rq

    from scenarios import jobs

    conn = django_rq.get_connection(jobs.QUEUE)
    conn.delete(jobs.POLLER_LOCK, jobs.WAKE_KEY)
    queue = django_rq.get_queue(jobs.QUEUE)
    queue.empty()
    queue.scheduled_job_registry.remove_jobs()  # type: ignore[attr-defined]


@contextmanager
def rq_workers(count: int, worker_class: str = "", timeout: float = 180):
    """Start `count` real `manage.py rqworker high` processes and yield once each has registered with Redis
    (found by its PID, so stale registrations of dead workers neither help nor hinder); stop them by PID."""
    import django_rq
    from django.conf import settings
    from rq import Worker

    conn = django_rq.get_connection("high")
    env = {**os.environ, "DATABASE_URL": database_url(), "REDIS_URL": settings.REDIS_URL,
           "PYTHONPATH": str(ROOT), "RQ_LOG_LEVEL": "WARNING"}
    args = [sys.executable, "manage.py", "rqworker", "high"]
    if worker_class:
        args += ["--worker-class", worker_class]
    # Our own interpreter running our own manage.py: no outside input reaches the command line.
    procs = [
        subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
        for _ in range(count)
    ]
    pids = {proc.pid for proc in procs}
    try:
        deadline = time.monotonic() + timeout
        while len(pids & {w.pid for w in Worker.all(connection=conn)}) < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"rq workers did not start within {timeout:g} s")
            if any(proc.poll() is not None for proc in procs):
                raise RuntimeError("an rq worker exited while starting")
            time.sleep(0.05)
        yield procs
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


def bench_scenario(name: str, steps: str):
    from scenarios import loader

    text = textwrap.dedent(f"""\
        id: bench-{name}
        title: Benchmark {name}
        disaster_class: server_crash
        trigger: "benchmark"
        objectives: {{rto_minutes: 60, rpo_minutes: 60}}
        owner: bench
        last_reviewed: 2026-01-01
        steps:
        """) + textwrap.dedent(steps)
    scenario, errors = loader.parse(text, f"bench-{name}.yaml", loader.installed_actions())
    if errors:
        raise RuntimeError("; ".join(map(str, errors)))
    return scenario


def bench_incident(servers: int, title: str):
    """A drill incident over `servers` fresh bench servers, declared by a bench user."""
    from django.contrib.auth.models import User

    from drportal.incidents import services
    from drportal.inventory.models import Provider, Region, Server, Zone

    user, _ = User.objects.get_or_create(username="bench-runner", defaults={"is_active": False})
    prov, _ = Provider.objects.get_or_create(slug=PROVIDER, defaults={"name": "Bench simulated", "kind": "simulated"})
    region, _ = Region.objects.get_or_create(provider=prov, slug="bench", defaults={"name": "Bench"})
    zone, _ = Zone.objects.get_or_create(region=region, slug="bench1", defaults={"name": "Bench 1"})
    stamp = int(time.time() * 1000) % 10**9
    made = Server.objects.bulk_create(
        [Server(name=f"bench-{stamp}-{i}", role="application", zone=zone) for i in range(servers)])
    incident = services.declare(user, title=title, disaster_class="server_crash", is_drill=True,
                                impacted={"servers": made} if made else None)
    return user, incident, made


def cleanup(incident, servers) -> None:
    from django.db.models import ProtectedError

    from scenarios.models import Run

    Run.objects.filter(incident=incident).delete()
    incident.impacted_servers.clear()
    try:
        incident.delete()
    except ProtectedError as exc:
        # Rows other apps made for this bench incident (e.g. the staff page sent when it was declared).
        for obj in exc.protected_objects:
            obj.delete()
        incident.delete()
    for server in servers:
        server.delete()


def wait_for_run(run_id: int, timeout: float):
    from scenarios.choices import RunState
    from scenarios.models import Run

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # The state alone: the whole row's bindings list every server, decoded 50 times a second on the cores the
        # workers being measured need.
        state = Run.objects.filter(pk=run_id).values_list("state", flat=True).get()
        if state in (RunState.SUCCEEDED, RunState.INCOMPLETE, RunState.FAILED, RunState.ABORTED):
            return Run.objects.get(pk=run_id)
        time.sleep(0.02)
    return Run.objects.get(pk=run_id)
