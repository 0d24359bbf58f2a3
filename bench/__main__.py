"""`make bench`: run every benchmark module in bench/, print one table, write bench/results.json and the
README's table.

Each module `bench/<name>.py` (not starting with "_") has `run() -> list[dict]` returning rows
{"name", "value", "unit", "target", "met"} (and an optional "note", printed, not written to results.json).
Benchmarks measure; they assert nothing.

The benchmarks run on a database of their own, never the one `make run` or the tests use:
BENCH_DATABASE_URL if set, else a database named `drportal_bench` on the server of DATABASE_URL (or of the
embedded PostgreSQL when DATABASE_URL is unset), created and migrated here if needed. Seeding is each module's
job (the backups modules seed once and reuse their data). Redis is REDIS_URL's, or the embedded one.

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

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
ORDER = ["backups_bench", "fanout", "step_latency", "dns_cutover", "notices", "pages", "inventory_import", "memory"]
BENCH_DB = "drportal_bench"
ROW_KEYS = ("name", "value", "unit", "target", "met")


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
        url = with_database(base, BENCH_DB)
    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(with_database(url, "postgres"), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            print(f"created database {name}", flush=True)
    os.environ["DATABASE_URL"] = url
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, check=True,
                   env=os.environ | {"PYTHONPATH": str(ROOT)})
    return name


def modules() -> list[str]:
    found = [m.name for m in pkgutil.iter_modules([str(HERE)]) if not m.name.startswith("_")]
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


def main() -> int:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "drportal.settings")
    database = prepare_database()
    print(f"benchmark database: {database}", flush=True)
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
    clean = [{key: r.get(key) for key in ROW_KEYS} for r in rows]
    if partial:
        (HERE / "results-partial.json").write_text(json.dumps(clean, indent=2) + "\n")
        return 0 if all(r["met"] for r in rows) else 1
    (HERE / "results.json").write_text(json.dumps(clean, indent=2) + "\n")
    readme = ROOT / "README.md"
    text = readme.read_text()
    stamp = time.strftime("%Y-%m-%d")
    block = f"<!-- bench-table -->\nMachine: {machine()}; run {stamp}.\n\n{table(rows)}\n<!-- /bench-table -->"
    readme.write_text(re.sub(r"<!-- bench-table -->.*<!-- /bench-table -->", block, text, flags=re.S))
    return 0 if all(r["met"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
