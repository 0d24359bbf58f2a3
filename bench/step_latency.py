"""Benchmark step_latency_p95_ms: a step becomes ready → its job starts, on real Redis with two real rq
workers. A chain of 40 automated steps (each waits for the previous), so every measurement includes the
commit, the enqueue, the worker picking the job up and claiming the step. Target p95 ≤ 250 ms.

    DATABASE_URL=... REDIS_URL=... python -m bench.step_latency
"""

from __future__ import annotations

import os
import statistics

STEPS = 40
TARGET_MS = 250

# Non-forking workers by default (BENCH_WORKER_CLASS= "" for rq's forking Worker): a fork of a process with
# Django loaded costs tens of milliseconds per job, more on a busy machine. The engine survives a worker
# dying mid-job either way (leases and the reconciler), which is what a forking worker would protect.
WORKER_CLASS = os.environ.get("BENCH_WORKER_CLASS", "rq.worker.SimpleWorker")


def run() -> list[dict]:
    from scenarios import benchsupport

    benchsupport.setup_django()
    from scenarios import engine

    chain = "".join(f"""\
- id: s{i}
  kind: automated
  title: "Step {i}"
  quote: "benchmark chain of dependent automated steps"
  action: simulated
{'  after: [s' + str(i - 1) + ']' + chr(10) if i else ''}""" for i in range(STEPS))
    scenario = benchsupport.bench_scenario("latency", chain)
    user, incident, servers = benchsupport.bench_incident(0, "bench: step scheduling latency")
    benchsupport.clear_engine_state()
    try:
        with benchsupport.rq_workers(2, WORKER_CLASS):
            run, _ = engine.start_run(incident, scenario, user, drill=True)
            done = benchsupport.wait_for_run(run.pk, timeout=120)
        rows = list(done.steps.values_list("ready_at", "started_at"))
        samples = sorted((started - ready).total_seconds() * 1000 for ready, started in rows if started and ready)
        p95 = round(samples[max(0, int(len(samples) * 0.95) - 1)], 1) if samples else None
        median = round(statistics.median(samples), 1) if samples else None
        return [{"name": "step_latency_p95_ms", "value": p95, "unit": "ms", "target": f"≤ {TARGET_MS}",
                 "met": p95 is not None and p95 <= TARGET_MS,
                 "note": f"2 rq workers ({WORKER_CLASS or 'rq.Worker'}), {len(samples)} steps, "
                         f"median {median} ms, max {round(samples[-1], 1) if samples else None} ms"}]
    finally:
        benchsupport.cleanup(incident, servers)


if __name__ == "__main__":
    for row in run():
        print(row)
