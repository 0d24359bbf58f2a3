"""`make bench`: run every benchmark module in bench/, print one table, write bench/results.json and the
README's table.

Each module `bench/<name>.py` (not starting with "_", not ending with "_profile") has `run() -> list[dict]`
returning rows {"name", "value", "unit", "target", "met"} (and an optional "note", printed, not written to
results.json). Benchmarks measure; they assert nothing.

The benchmarks run on a database of their own, never the one `make run` or the tests use:
BENCH_DATABASE_URL if set, else a database named `drportal_bench` on the server of DATABASE_URL (or of the
embedded PostgreSQL when DATABASE_URL is unset), created and migrated here if needed. Seeding is each module's
job (the backups modules seed once and reuse their data). Redis is REDIS_URL's, or the embedded one.

BENCH_SCALE=1|3|10 (bench/_scale.py) sets the data set's size: 1 is 5,000 servers, 50,000 customer databases
and 2,000,000 backup records, 10 is ten times each. Each scale has its database (`drportal_bench`,
`drportal_bench_3`, `drportal_bench_10`), seeded on its first run and kept. bench/results.json holds one entry
per benchmark and scale (a run replaces only its own scale's), and the README's bench block shows the growth
table built from them: each benchmark's value at 1x, 3x and 10x, with its query count where it has one.

Set BENCH_ONLY to a comma-separated list of module names to run a subset: a subset's table is printed and
written to bench/results-partial.json, leaving bench/results.json and the README to full runs.
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import platform
import re
import subprocess
import sys
import time
import traceback
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from bench import _scale

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
ORDER = ["backups_bench", "rpo_api", "sweep_cost", "region", "fanout", "step_latency", "dns_cutover", "notices",
         "pages", "inventory_import", "memory"]
ROW_KEYS = ("name", "value", "unit", "target", "met")
# Optional keys a row may carry into results.json: its query count (pages, dashboard), shown in the growth table.
EXTRA_KEYS = ("queries",)


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def prepare_database() -> str:
    """Point DATABASE_URL at the benchmark database, creating and migrating it if needed."""
    import psycopg
    from psycopg import sql

    url = os.environ.get("BENCH_DATABASE_URL")
    if not url:
        base = os.environ.get("DATABASE_URL")
        if not base:
            sys.path.insert(0, str(ROOT))
            from drportal.lib import embedded

            base = embedded.postgres_url()
        url = with_database(base, _scale.database_name())
    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(with_database(url, "postgres"), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            print(f"created database {name}", flush=True)
    os.environ["DATABASE_URL"] = url
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, check=True,
                   env=os.environ | {"PYTHONPATH": str(ROOT)})
    with psycopg.connect(url, autocommit=True) as conn:
        # Fresh statistics for every run: autovacuum may be off or behind (it is off on the shared machine),
        # and a plan made on statistics from before the last run's writes measures the planner, not the code.
        conn.execute("ANALYZE")
    return name


def modules() -> list[str]:
    # *_profile modules are tools run by hand (`python -m bench.fanout_profile`): they say where a cost goes and
    # measure nothing against a target.
    found = [m.name for m in pkgutil.iter_modules([str(HERE)])
             if not m.name.startswith("_") and not m.name.endswith("_profile")]
    only = [n for n in os.environ.get("BENCH_ONLY", "").split(",") if n]
    ordered = sorted(found, key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n))
    return [n for n in ordered if not only or n in only]


def machine() -> str:
    cores = os.cpu_count()
    try:
        mem = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30)
    except (ValueError, OSError):
        mem = "?"
    return f"{platform.system()} {platform.machine()}, {cores} cores, {mem} GiB, Python {platform.python_version()}"


def table(rows: list[dict]) -> str:
    lines = ["| name | value | unit | target | met |", "|---|---:|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['name']} | {r['value']} | {r['unit']} | {r['target']} | {'yes' if r['met'] else 'NO'} |")
    return "\n".join(lines)


def merged(previous: list[dict], rows: list[dict], scale: int) -> list[dict]:
    """results.json after a run at `scale`: the other scales' entries kept, this scale's replaced. An entry
    written before scales existed was measured at 1x."""
    kept = [r | {"scale": r.get("scale", 1)} for r in previous if r.get("scale", 1) != scale]
    return sorted(kept + rows, key=lambda r: r["scale"])


def growth(results: list[dict]) -> str:
    """Benchmarks as rows, scales as columns: how each cost grows with the data set. A scale not measured yet
    shows a dash; a page benchmark shows its query count beside its value."""
    names = list(dict.fromkeys(r["name"] for r in results))
    cells: dict[tuple[str, int], str] = {}
    units: dict[str, str] = {}
    for r in results:
        value = "error" if r["value"] is None else f"{r['value']}"
        if r.get("queries") is not None:
            value += f" ({r['queries']} q)"
        cells[(r["name"], r["scale"])] = value + ("" if r["met"] else " NO")
        units.setdefault(r["name"], r["unit"])
    head = " | ".join(f"{s}×" for s in _scale.SCALES)
    lines = [f"| benchmark | unit | {head} |", "|---|---|" + "---:|" * len(_scale.SCALES)]
    for name in names:
        row = " | ".join(cells.get((name, s), "–") for s in _scale.SCALES)
        lines.append(f"| {name} | {units[name]} | {row} |")
    return "\n".join(lines)


def main() -> int:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "drportal.settings")
    database = prepare_database()
    print(f"benchmark database: {database} (BENCH_SCALE={_scale.scale()})", flush=True)
    partial = bool(os.environ.get("BENCH_ONLY"))
    rows: list[dict] = []
    for name in modules():
        started = time.monotonic()
        print(f"== {name}", flush=True)
        try:
            module = importlib.import_module(f"bench.{name}")
            result = module.run()
        except Exception:  # noqa: BLE001 - one broken benchmark must not hide the others' numbers
            traceback.print_exc()
            result = [{"name": name, "value": None, "unit": "error", "target": "runs", "met": False}]
        rows.extend(result)
        print(f"   {time.monotonic() - started:.1f} s", flush=True)
    print("\n" + table(rows))
    for r in rows:
        if r.get("note"):
            print(f"- {r['name']}: {r['note']}")
    scale = _scale.scale()
    clean = [{key: r.get(key) for key in ROW_KEYS} | {k: r[k] for k in EXTRA_KEYS if r.get(k) is not None}
             | {"scale": scale} for r in rows]
    if partial:
        (HERE / "results-partial.json").write_text(json.dumps(clean, indent=2) + "\n")
        return 0 if all(r["met"] for r in rows) else 1
    path = HERE / "results.json"
    results = merged(json.loads(path.read_text()) if path.exists() else [], clean, scale)
    path.write_text(json.dumps(results, indent=2) + "\n")
    readme = ROOT / "README.md"
    text = readme.read_text()
    stamp = time.strftime("%Y-%m-%d")
    block = (f"<!-- bench-table -->\nMachine: {machine()}; run {stamp} at {scale}× (`BENCH_SCALE={scale}`).\n\n"
             f"{table(rows)}\n\nGrowth, from bench/results.json (each scale as last measured; NO: target missed):"
             f"\n\n{growth(results)}\n<!-- /bench-table -->")
    readme.write_text(re.sub(r"<!-- bench-table -->.*<!-- /bench-table -->", block, text, flags=re.S))
    return 0 if all(r["met"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
