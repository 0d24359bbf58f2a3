"""What the sweep (backups.sweep.sweep, run every minute by the scheduler) costs, and how much of a core it needs
to keep up at this scale (issue 17):

    BENCH_SCALE=10 BENCH_ONLY=sweep_cost python -m bench

The sweep runs in a process of its own (so its peak memory is its own), against the benchmark database:
1. a catch-up sweep (whatever came due since the last run), not counted;
2. an idle sweep: nothing dirty, only its fixed work (locating assets, the compliance rollups, the stored
   counts), paid every minute;
3. a sweep after one pair in 50 was marked dirty, as arriving reports mark them: the difference with (2),
   per pair, is what one recomputed pair costs.
CPU is the sweep process's plus its PostgreSQL backend's (read from /proc: both run on this machine), so other
load on the machine changes it much less than the wall time.

- sweep_pair_cpu_ms: CPU per recomputed pair;
- sweep_idle_cpu_s: CPU of a sweep with nothing to recompute;
- sweep_core_share: the share of one core the sweep needs for a day of one report per database plus the
  time-driven rechecks (pairs whose recheck_at falls in the next 24 h) plus 1,440 idle sweeps; target < 0.5;
- sweep_peak_mb: the sweep process's peak resident memory: its VmHWM, not getrusage's ru_maxrss, which Linux
  carries across the fork and exec that start the process, so it was the bench parent's peak: 664 MB at 10x in
  a full `make bench` (the parent had run the page and notice benchmarks in-process) against 139 MB run alone.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DIRTY_ONE_IN = 50
TARGET_SHARE, TARGET_PEAK_MB = 0.5, 300.0


def _backend_cpu_s() -> float:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        pid = cur.fetchone()[0]
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _own_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _timed(now) -> dict:
    from backups import sweep

    cpu, backend, started = _own_cpu_s(), _backend_cpu_s(), time.perf_counter()
    totals = sweep.sweep(now, actor="bench")
    return {"wall_s": time.perf_counter() - started, "cpu_s": _own_cpu_s() - cpu,
            "pg_cpu_s": _backend_cpu_s() - backend, "pairs": totals["pairs"]}


def child() -> dict:
    """Runs in its own process: the three sweeps, and the facts the daily estimate needs."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "drportal.settings")
    import django

    django.setup()
    from datetime import timedelta

    from django.db import connection

    from bench.rpo_api import peak_mb
    from drportal.lib import clock

    now = clock.now()
    catch_up = _timed(now)
    catch_up["peak_mb"] = peak_mb(os.getpid())
    idle = _timed(now)
    with connection.cursor() as cur:
        cur.execute("UPDATE backups_policyassetstatus SET dirty = true WHERE id %% %s = 0", [DIRTY_ONE_IN])
        cur.execute("SELECT count(*), count(DISTINCT asset_id) FILTER (WHERE customer_id IS NOT NULL), "
                    "count(*) FILTER (WHERE recheck_at <= %s) FROM backups_policyassetstatus",
                    [now + timedelta(days=1)])
        pairs, databases, rechecks = cur.fetchone()
    dirty = _timed(now)
    return {"catch_up": catch_up, "idle": idle, "dirty": dirty, "pairs": pairs, "databases": databases,
            "rechecks_per_day": rechecks, "peak_mb": peak_mb(os.getpid()),
            "inherited_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def run() -> list[dict]:
    from bench.backups_bench import seed
    from bench.rpo_api import setup_django

    setup_django()
    seed()
    done = subprocess.run([sys.executable, "-m", "bench.sweep_cost", "child"], cwd=ROOT, capture_output=True,
                          text=True, timeout=3600,
                          # As the scheduler's worker runs it, whatever the caller's environment says.
                          env=os.environ | {"PYTHONPATH": str(ROOT), "DEBUG": "false", "LOG_LEVEL": "WARNING"})
    if done.returncode:
        raise RuntimeError(f"the sweep process failed: {done.stderr[-2000:]}")
    m = json.loads(done.stdout.strip().splitlines()[-1])
    idle, dirty = m["idle"], m["dirty"]
    cpu = lambda part: part["cpu_s"] + part["pg_cpu_s"]  # noqa: E731 - one line, used four times
    recomputed = max(dirty["pairs"] - idle["pairs"], 1)
    per_pair_ms = max(cpu(dirty) - cpu(idle), 0.0) * 1000 / recomputed
    # A day: every database reports once (its pair is recomputed), the rechecks that fall due, and a sweep a
    # minute doing its fixed work.
    daily_s = (m["databases"] + m["rechecks_per_day"]) * per_pair_ms / 1000 + 1440 * cpu(idle)
    share = daily_s / 86400
    where = (f"{recomputed} pairs recomputed in {dirty['wall_s']:.1f} s wall ({dirty['cpu_s']:.1f} s CPU in the "
             f"sweep, {dirty['pg_cpu_s']:.1f} s in PostgreSQL)")
    return [
        {"name": "sweep_pair_cpu_ms", "value": round(per_pair_ms, 3), "unit": "ms CPU", "target": "informational",
         "met": True, "note": where},
        {"name": "sweep_idle_cpu_s", "value": round(cpu(idle), 2), "unit": "s CPU", "target": "informational",
         "met": True, "note": f"{idle['wall_s']:.1f} s wall, {idle['pairs']} pairs due; catch-up sweep before it: "
                              f"{m['catch_up']['pairs']} pairs in {m['catch_up']['wall_s']:.1f} s"},
        {"name": "sweep_core_share", "value": round(share, 3), "unit": "cores", "target": f"< {TARGET_SHARE}",
         "met": share < TARGET_SHARE,
         "note": f"a day: {m['databases']} reports + {m['rechecks_per_day']} rechecks × {per_pair_ms:.3f} ms + "
                 f"1,440 sweeps × {cpu(idle):.2f} s = {daily_s:.0f} s CPU of 86,400 ({m['pairs']} pairs)"},
        {"name": "sweep_peak_mb", "value": round(m["peak_mb"], 1), "unit": "MB", "target": f"<= {TARGET_PEAK_MB:.0f}",
         "met": m["peak_mb"] <= TARGET_PEAK_MB,
         "note": f"VmHWM; {m['catch_up']['peak_mb']:.0f} MB after the catch-up sweep of {m['catch_up']['pairs']} "
                 f"pairs; ru_maxrss {m['inherited_mb']:.0f} MB (the parent's, inherited)"},
    ]


if __name__ == "__main__" and sys.argv[1:] == ["child"]:
    print(json.dumps(child()))
elif __name__ == "__main__":
    for row in run():
        print(row)
