"""Benchmark fanout_ratio: a scenario re-provisions 100 servers on the simulated cloud, each taking a fixed
2 s to become ready, with two real rq workers. Ratio = wall time of the run / 2 s; target ≤ 1.5.

    DATABASE_URL=... REDIS_URL=... python -m bench.fanout

Steps are submitted in batches (one job per batch, not per server), then released: the poller sleeps
until they are due, so no worker is held per server and nothing waits on a 1-second scheduler tick.
"""

from __future__ import annotations

import os

SERVERS = 100
READY_AFTER_S = 2.0
TARGET = 1.5

# Non-forking workers by default (BENCH_WORKER_CLASS= "" for rq's forking Worker): a fork of a process with
# Django loaded costs tens of milliseconds per job, more on a busy machine. The engine survives a worker
# dying mid-job either way (leases and the reconciler), which is what a forking worker would protect.
WORKER_CLASS = os.environ.get("BENCH_WORKER_CLASS", "rq.worker.SimpleWorker")


def run() -> list[dict]:
    from scenarios import benchsupport

    benchsupport.setup_django()
    from scenarios import engine

    scenario = benchsupport.bench_scenario("fanout", f"""\
        - id: provision
          kind: automated
          title: "Provision {{server}}"
          quote: "provision a new server with the most recent viable image of the disabled server"
          action: simulated
          for_each: server
          params: {{server: "{{server}}", duration: {READY_AFTER_S}}}
        """)
    user, incident, servers = benchsupport.bench_incident(SERVERS, "bench: fan-out of 100 servers")
    try:
        with benchsupport.rq_workers(2, WORKER_CLASS):
            run, _ = engine.start_run(incident, scenario, user, drill=True)
            done = benchsupport.wait_for_run(run.pk, timeout=60)
        t0 = done.started_at
        claims = sorted((r.started_at - t0).total_seconds() for r in done.steps.all())
        ends = sorted((r.finished_at - t0).total_seconds() for r in done.steps.all())
        detail = (f"first claim {claims[0]:.2f} s, last claim {claims[-1]:.2f} s, first done {ends[0]:.2f} s, "
                  f"last done {ends[-1]:.2f} s")
        wall = (done.finished_at - done.started_at).total_seconds() if done.finished_at else None
        ratio = round(wall / READY_AFTER_S, 3) if wall else None
        return [{"name": "fanout_ratio", "value": ratio, "unit": "× 2 s", "target": f"≤ {TARGET}",
                 "met": ratio is not None and ratio <= TARGET,
                 "note": f"{SERVERS} servers, 2 rq workers ({WORKER_CLASS or 'rq.Worker'}), "
                         f"run state {done.state}, wall {wall:.2f} s; {detail}"
                 if wall else f"run state {done.state}"}]
    finally:
        benchsupport.cleanup(incident, servers)


if __name__ == "__main__":
    for row in run():
        print(row)
