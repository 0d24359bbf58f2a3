"""Where a fan-out's CPU goes (issue 17, bench/fanout.py): the fan-out of BENCH_FANOUT_SERVERS servers played in
this one process, phase by phase, each phase's CPU (this process's and its PostgreSQL backend's) per server,
then the same under cProfile:

    DATABASE_URL=postgresql://.../drportal_bench_fanout3 REDIS_URL=... python -m bench.fanout_profile [top]

Phases: start (start_run), submit (the run_steps jobs start_run queued, run here instead of by a worker),
complete (the poller's process_due once every node is due, and the run_steps jobs it queued). Nothing here is
timed against a target: bench/fanout.py measures the real thing with real workers.
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import sys
import time
from collections.abc import Callable
from pathlib import Path

SERVERS = int(os.environ.get("BENCH_FANOUT_SERVERS", "1000"))


def _backend_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _queued_batches() -> list[list[int]]:
    """The step ids of the run_steps jobs waiting in the queue, taken out of it (no worker runs here)."""
    import django_rq

    from scenarios import queueing

    queue = django_rq.get_queue(queueing.QUEUE)
    batches = [job.args[0] for job in queue.jobs if job.func_name == queueing.RUN_STEPS]
    queue.empty()
    return batches


def _phases(run_id: int) -> list[tuple[str, Callable[[], object]]]:
    from drportal.lib import clock
    from scenarios import jobs

    def submit() -> None:
        for batch in _queued_batches():
            jobs.run_steps(batch)

    def complete() -> None:
        jobs.process_due(clock.now(), "job:profile")
        submit()

    return [("submit", submit), ("complete", complete)]


def _measure(name: str, work: Callable[[], object], profiler: cProfile.Profile | None) -> None:
    from django.db import connection

    connection.ensure_connection()
    backend = connection.connection.info.backend_pid
    cpu0, pg0 = time.process_time(), _backend_cpu(backend)
    if profiler:
        profiler.enable()
    work()
    if profiler:
        profiler.disable()
    cpu, pg = time.process_time() - cpu0, _backend_cpu(backend) - pg0
    print(f"{name:9} python {cpu * 1000 / SERVERS:.3f} ms/server, postgres {pg * 1000 / SERVERS:.3f} ms/server"
          f"{' (under cProfile)' if profiler else ''}", flush=True)


def trial(profiler: cProfile.Profile | None) -> None:
    from scenarios import benchsupport, engine
    from scenarios.models import Run

    scenario = benchsupport.bench_scenario("fanout", """\
        - id: provision
          kind: automated
          title: "Provision {server}"
          quote: "provision a new server"
          action: simulated
          for_each: server
          params: {server: "{server}", duration: 2.0}
        """)
    benchsupport.clear_engine_state()
    user, incident, servers = benchsupport.bench_incident(SERVERS, f"bench: fan-out profile of {SERVERS}")
    try:
        holder: dict[str, Run] = {}

        def start() -> None:
            holder["run"] = engine.start_run(incident, scenario, user, drill=True)[0]

        _measure("start", start, profiler)
        for name, work in _phases(holder["run"].pk):
            if name == "complete":
                time.sleep(2.2)  # every node due
            _measure(name, work, profiler)
        print("run", Run.objects.get(pk=holder["run"].pk).state)
    finally:
        benchsupport.clear_engine_state()
        benchsupport.cleanup(incident, servers)


def main() -> None:
    from scenarios import benchsupport

    benchsupport.setup_django()
    trial(None)
    if "top" in sys.argv[1:]:
        # CPU time, not wall: waiting on PostgreSQL shows up in the backend's figure above.
        profiler = cProfile.Profile(time.process_time)
        trial(profiler)
        for order in ("tottime", "cumulative"):
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out).sort_stats(order)
            stats.print_stats(45)
            if order == "cumulative":
                stats.print_callees("run_steps|apply_results|claim|perform|start_run|advance|process_due")
            print(out.getvalue())


if __name__ == "__main__":
    main()
