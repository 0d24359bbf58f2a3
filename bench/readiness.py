"""The readiness refresh and the plan page at bench scale (issue 18):

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/drportal_bench_plan BENCH_ONLY=readiness python -m bench

- readiness_refresh_s: `scenarios.readiness.refresh()`, the job that assesses every scenario of the library and
  stores the snapshot the scenario list, the dashboard and the plan page read; the median of RUNS runs after a
  first, untimed one.
- plan_page_p95_ms: the plan page (/scenarios/plan/), the objective of every scenario computed from live data,
  rendered RUNS times in-process by an admin.

Data: the backups benchmark's data set (5,000 servers, 50,000 customer databases, 2,000,000 backup records; seeded
once by `bench.backups_bench.seed`). Its servers belong to a provider of their own, so no library scenario has them
in scope: what is measured is the cost of reading the inventory and the catalogue, not of a scope of 5,000.
"""

from __future__ import annotations

import os
import statistics
import time

from bench.backups_bench import _setup_django, seed

RUNS = int(os.environ.get("BENCH_READINESS_RUNS", "10"))
REFRESH_TARGET_S, PAGE_TARGET_MS = 2.0, 150


def run() -> list[dict]:
    _setup_django()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    seed()
    from bench.pages import _admin_client
    from scenarios import readiness

    readiness.refresh()
    took = []
    for _ in range(RUNS):
        started = time.perf_counter()
        readiness.refresh()
        took.append(time.perf_counter() - started)
    client = _admin_client()
    client.get("/scenarios/plan/")
    page = []
    for _ in range(RUNS):
        started = time.perf_counter()
        assert client.get("/scenarios/plan/").status_code == 200
        page.append((time.perf_counter() - started) * 1000)
    refresh_s = statistics.median(took)
    p95 = statistics.quantiles(page, n=20)[18] if RUNS > 1 else page[0]
    return [
        {"name": "readiness_refresh_s", "value": round(refresh_s, 2), "unit": "s", "target": f"<= {REFRESH_TARGET_S}",
         "met": refresh_s <= REFRESH_TARGET_S, "note": f"{RUNS} refreshes, slowest {max(took):.2f} s"},
        {"name": "plan_page_p95_ms", "value": round(p95, 1), "unit": "ms", "target": f"<= {PAGE_TARGET_MS}",
         "met": p95 <= PAGE_TARGET_MS, "note": f"median {statistics.median(page):.1f} ms"},
    ]
