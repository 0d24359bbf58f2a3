"""Benchmarks of the backups app on PostgreSQL with 5,000 servers, 50,000 customer databases and 2,000,000
backup records (issue 3):

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/dr_backups_bench BENCH_ONLY=backups_bench python -m bench

- dashboard_p95_ms: the staff dashboard (with the backups panel) rendered 60 times in-process, p95;
- (rpo_api_all_s, GET /api/v1/rpo/ for every database, is measured over HTTP by bench/rpo_api.py);
- ingest_single_eps: one report per POST, under the web server production runs (drportal/serve.py; or gunicorn
  with BENCH_SERVER=gunicorn)
  with the load generator (bench/_loadgen.py) on the same 2 cores;
- ingest_batch_eps: lists of 1,000 reports per POST under the same server.

Seeding uses generate_series inside PostgreSQL (a few minutes once); a marker customer makes later runs reuse
the data. Use a database of its own: the seed refuses a database that already has other customers.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path

from bench import _scale
from drportal.cloud.devpeers import free_port

ROOT = Path(__file__).resolve().parent.parent
DBS_PER_CUSTOMER = 10
DAILY_DAYS, WEEKLY_WEEKS, IMAGE_WEEKS = 36, 3, 10  # 1,800,000 + 150,000 + 50,000 = 2,000,000 records
MARKER = "bench-marker"


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "drportal.settings")
    import django

    django.setup()


SEED_SQL = [
    "SET synchronous_commit = off",
    "INSERT INTO inventory_provider (slug, name, kind) VALUES ('bench', 'Bench cloud', 'other')",
    """INSERT INTO inventory_region (provider_id, slug, name)
       SELECT p.id, 'r' || g, 'Region ' || g FROM inventory_provider p, generate_series(1, 4) g
       WHERE p.slug = 'bench'""",
    """INSERT INTO inventory_zone (region_id, slug, name)
       SELECT r.id, r.slug || 'z' || g, r.name || ' zone ' || g
       FROM inventory_region r JOIN inventory_provider p ON p.id = r.provider_id, generate_series(1, 3) g
       WHERE p.slug = 'bench'""",
    """INSERT INTO inventory_server (name, role, provider_node_id, image, size, public_ips, private_ips, dns_names,
                                     stateless, status, metadata, zone_id)
       SELECT 'bsrv-' || g, 'database', '', '', '', '{}', '{}', '{}', false, 'active', '{}',
              (SELECT array_agg(z.id ORDER BY z.id) FROM inventory_zone z JOIN inventory_region r ON r.id = z.region_id
               JOIN inventory_provider p ON p.id = r.provider_id WHERE p.slug = 'bench')[1 + g %% 12]
       FROM generate_series(1, %(servers)s) g""",
    """INSERT INTO inventory_asset (name, kind, external_id, description, metadata, dumps, restore, server_id)
       SELECT s.name, 'server', '', '', '{}', '[]', '{}', s.id FROM inventory_server s WHERE s.name LIKE 'bsrv-%%'""",
    """INSERT INTO inventory_customer (slug, name, tier, status)
       SELECT 'bcust-' || g, 'Bench customer ' || g, 'standard', 'active' FROM generate_series(1, %(customers)s) g""",
    """INSERT INTO inventory_asset (name, kind, external_id, description, metadata, dumps, restore, server_id,
                                    customer_id)
       SELECT 'bdb-' || c.id || '-' || g, 'database', '', '', '{}', '[]', '{}',
              (SELECT min(id) FROM inventory_server WHERE name LIKE 'bsrv-%%') + (c.id * 10 + g) %% %(servers)s, c.id
       FROM inventory_customer c, generate_series(1, %(per)s) g WHERE c.slug LIKE 'bcust-%%'""",
    """INSERT INTO backups_backuppolicy (name, kind, description, schedule, time_zone, grace, rpo_objective, retention,
                                         location_rule, verify_within, active, created_at) VALUES
       ('bench daily dumps', 'database_dump', '', '0 4 * * *', 'America/Chicago', '2 hours', '26 hours', '40 days',
        'any', NULL, true, now()),
       ('bench weekly copies', 'file_copy', '', '0 6 * * 0', 'America/Chicago', '6 hours', '8 days', '30 days',
        'offsite_region', NULL, true, now()),
       ('bench weekly images', 'system_image', '', '0 5 * * 0', 'America/Chicago', '6 hours', '8 days', '80 days',
        'offsite_region', NULL, true, now())""",
    """INSERT INTO backups_policyassetstatus (policy_id, asset_id, freshness, rpo_status, offsite, verification,
                                              overall, dirty)
       SELECT p.id, a.id, 'never', 'breached', 'not_required', 'not_required', 'bad', true
       FROM backups_backuppolicy p JOIN inventory_asset a
         ON (p.name IN ('bench daily dumps', 'bench weekly copies') AND a.name LIKE 'bdb-%%')
         OR (p.name = 'bench weekly images' AND a.kind = 'server' AND a.name LIKE 'bsrv-%%')""",
    # Daily dumps in the database's own zone; 1 %% of them failed.
    """INSERT INTO backups_backuprecord (policy_id, asset_id, client_id, started_at, completed_at, outcome, error,
           size_bytes, sha256, provider, region_id, zone_id, container, key, provider_state, recovery_point, viable,
           expires_at, source, created_at, observed_sha256, checksum_ok, verified_how)
       SELECT s.policy_id, s.asset_id, 'd-' || d, t, t + interval '20 minutes',
              CASE WHEN (s.asset_id + d) %% 100 = 0 THEN 'failed' ELSE 'succeeded' END,
              CASE WHEN (s.asset_id + d) %% 100 = 0 THEN 'disk full' ELSE '' END,
              1000000, repeat('a', 64), 'bench', z.region_id, z.id, 'dumps', 'd/' || s.asset_id || '/' || d, '',
              CASE WHEN (s.asset_id + d) %% 100 = 0 THEN NULL ELSE t END, (s.asset_id + d) %% 100 <> 0,
              CASE WHEN (s.asset_id + d) %% 100 = 0 THEN NULL ELSE t + interval '40 days' END,
              'agent', now(), '', NULL, ''
       FROM backups_policyassetstatus s
       JOIN backups_backuppolicy p ON p.id = s.policy_id AND p.name = 'bench daily dumps'
       JOIN inventory_asset a ON a.id = s.asset_id JOIN inventory_server sv ON sv.id = a.server_id
       JOIN inventory_zone z ON z.id = sv.zone_id,
       generate_series(0, %(daily)s - 1) d,
       LATERAL (SELECT date_trunc('day', now()) - d * interval '1 day' + interval '10 hours'
                       - CASE WHEN date_trunc('day', now()) + interval '10 hours' > now() THEN interval '1 day'
                              ELSE interval '0' END AS t) tt""",
    # Weekly copies and images in the next region.
    """INSERT INTO backups_backuprecord (policy_id, asset_id, client_id, started_at, completed_at, outcome, error,
           size_bytes, sha256, provider, region_id, zone_id, container, key, provider_state, recovery_point, viable,
           expires_at, source, created_at, observed_sha256, checksum_ok, verified_how)
       SELECT s.policy_id, s.asset_id, 'w-' || w, t, t + interval '1 hour', 'succeeded', '', 1000000,
              repeat('b', 64), 'bench', z2.region_id, z2.id, 'weekly', 'w/' || s.asset_id || '/' || w,
              CASE WHEN p.kind = 'system_image' THEN 'available' ELSE '' END, t, true,
              t + p.retention, 'poller', now(), '', NULL, ''
       FROM backups_policyassetstatus s
       JOIN backups_backuppolicy p ON p.id = s.policy_id AND p.name IN ('bench weekly copies', 'bench weekly images')
       JOIN inventory_asset a ON a.id = s.asset_id JOIN inventory_server sv ON sv.id = a.server_id
       JOIN inventory_zone z ON z.id = sv.zone_id
       JOIN inventory_zone z2 ON z2.id = (SELECT min(id) FROM inventory_zone zz WHERE zz.region_id <> z.region_id
                                          AND zz.slug LIKE 'r%%'),
       generate_series(0, CASE WHEN p.kind = 'system_image' THEN %(images)s ELSE %(weekly)s END - 1) w,
       LATERAL (SELECT date_trunc('week', now()) - w * interval '7 days' - interval '1 day'
                       + interval '12 hours 30 minutes' AS t) tt""",
]


def seed() -> dict:
    """Create the data set once. Returns timings; skips when the marker customer exists."""
    from django.db import connection, transaction

    from backups import sweep
    from drportal.inventory.models import Customer
    from drportal.lib import clock

    if Customer.objects.filter(slug=MARKER).exists():
        return {"seeded": False}
    seeded = 0.0
    if not Customer.objects.filter(slug="bcust-1").exists():
        if Customer.objects.exists():
            raise RuntimeError("refusing to seed the benchmark data set into a database with customers: use its own "
                               "database")
        started = time.monotonic()
        params = {"servers": _scale.servers(), "customers": _scale.customers(), "per": DBS_PER_CUSTOMER,
                  "daily": DAILY_DAYS, "weekly": WEEKLY_WEEKS, "images": IMAGE_WEEKS}
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            if cur.fetchone()[0]:
                # Every row is made by joining the rows just inserted, so its foreign keys hold by construction;
                # checking them (deferred, at COMMIT) took longer than the inserts at 10x. Triggers, the
                # foreign keys' included, do not fire in replica mode; only a superuser may set it.
                cur.execute("SET LOCAL session_replication_role = replica")
            for n, statement in enumerate(SEED_SQL, 1):
                cur.execute(statement, params)
                # A 10x seed runs for many minutes: say where it is.
                print(f"   seed {n}/{len(SEED_SQL)}: {cur.rowcount} rows, {time.monotonic() - started:.0f} s",
                      flush=True)
        print(f"   committed, {time.monotonic() - started:.0f} s", flush=True)
        with connection.cursor() as cur:
            # VACUUM, not only ANALYZE: on a live system autovacuum summarises the BRIN index on the records'
            # created_at as they arrive; 2,000,000 records loaded at once are not, and every query on a recent
            # window (the /metrics ingestion count) would read them all.
            cur.execute("VACUUM (ANALYZE)")
        seeded = time.monotonic() - started
    # The first sweep computes every pair; it commits chunk by chunk, so an interrupted seed resumes here.
    started = time.monotonic()
    totals = sweep.sweep(clock.now(), actor="bench")
    swept = time.monotonic() - started
    with connection.cursor() as cur:
        # The sweep has just filled every pair's location and customer: statistics from before it made the
        # planner expect no pair with a customer, and nested loops over all of them (the RPO API: 2 s, not 0.5).
        # VACUUM too: the first sweep rewrote every pair's row, and with autovacuum off (as on the shared
        # machine) the dead versions stay in the way of every benchmark after it, as they would not on a live
        # system.
        cur.execute("VACUUM (ANALYZE)")
    print(f"   seeded in {seeded:.0f} s, first sweep of {totals['pairs']} pairs in {swept:.0f} s", flush=True)
    Customer.objects.create(slug=MARKER, name="(benchmark data set)")
    return {"seeded": True, "seed_s": round(seeded, 1), "sweep_s": round(swept, 1), "pairs": totals["pairs"]}


def _staff_client():
    from django.contrib.auth.models import User
    from django.test import Client

    from drportal.accounts.roles import grant

    user, created = User.objects.get_or_create(username="bench-manager")
    if created:
        grant(user, "manager")
    client = Client()
    client.force_login(user)
    return client


def dashboard_p95(client, path: str = "/", runs: int = 60) -> tuple[float, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(path)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
    with CaptureQueriesContext(connection) as queries:
        client.get(path)
    return statistics.quantiles(times, n=20)[18], len(queries)




# As production runs it (drportal/serve.py: granian, two workers of 16 threads, no access log). The lean
# ingestion path commits the reports that arrive together in one worker as one group (backups/lean.py), so the
# threads waiting on a commit are what makes groups. BENCH_SERVER=gunicorn measures the same application under
# gunicorn instead (`pip install gunicorn` first; BENCH_GUNICORN's options), as drportal served before issue 17:
# gunicorn's own HTTP handling was the larger part of a single report's web CPU (docs/backups.md).
SERVER = os.environ.get("BENCH_SERVER", "granian")
GUNICORN_ARGS = os.environ.get("BENCH_GUNICORN", "--workers 2 --threads 32").split()
# Keep-alive connections sending single reports: agents at the top of the hour are many more than 8.
SINGLE_CONNECTIONS = int(os.environ.get("BENCH_INGEST_CONNECTIONS", "32"))
SERVER_ARGS = " ".join(GUNICORN_ARGS) if SERVER == "gunicorn" else "as drportal/serve.py (WEB_WORKERS, WEB_THREADS)"


def _server(port: int) -> subprocess.Popen:
    from drportal import serve

    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = os.environ | {"PYTHONPATH": path, "DEBUG": "false", "LOG_LEVEL": "WARNING"}
    command = serve.command("127.0.0.1", port)
    if SERVER == "gunicorn":
        command = [sys.executable, "-m", "gunicorn", "drportal.wsgi:application", "-b", f"127.0.0.1:{port}",
                   *GUNICORN_ARGS, "--log-level", "warning"]
    proc = subprocess.Popen(  # noqa: S603
        command,
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    for _ in range(300):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            break
        except urllib.error.HTTPError:
            break
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"{SERVER} exited at start") from None
            time.sleep(0.1)
    return proc


def bench_report(asset: str, rid: str, when: str) -> dict:
    """One report as the load generator and bench.batch_profile send it."""
    return {"id": rid, "asset": asset, "policy": "bench daily dumps", "outcome": "succeeded", "started_at": when,
            "completed_at": when, "size_bytes": 12345, "sha256": "c" * 64,
            "location": {"zone": "bench/r1/r1z1", "container": "dumps", "key": f"k/{rid}"}}


def _template(when: str) -> str:
    # {id} and {asset} are filled in by the load generator, request by request.
    return json.dumps(bench_report("{asset}", "{id}", when))


def _load(port: int, token: str, cfg: dict) -> dict:
    """One run of bench/_loadgen.py in its own process (so its CPU is not the server's, and not ours)."""
    cfg = {"host": "127.0.0.1", "port": port, "path": "/api/v1/backups/",
           "headers": {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}} | cfg
    done = subprocess.run([sys.executable, "-m", "bench._loadgen"], input=json.dumps(cfg), capture_output=True,
                          text=True, cwd=ROOT, timeout=cfg["seconds"] + 120)
    if done.returncode:
        raise RuntimeError(f"the load generator failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout)


def _rows(prefix: str) -> int:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM backups_backuprecord WHERE client_id LIKE %s", [prefix + "%"])
        return cur.fetchone()[0]


def _loadavg() -> str:
    """The 1, 5 and 15 minute load averages: other processes on the same cores change every number here."""
    path = Path("/proc/loadavg")
    return " ".join(path.read_text().split()[:3]) if path.exists() else "?"


def _cpu_seconds(pids: list[int]) -> float:
    """utime + stime of these processes (Linux), so a result can be read as CPU per event, which the other
    load on the machine changes much less than events per second."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def _server_pids(server: subprocess.Popen) -> tuple[list[int], list[int]]:
    """The web server's workers and the PostgreSQL backends of this database other than ours."""
    from django.db import connection

    children = Path(f"/proc/{server.pid}/task/{server.pid}/children")
    workers = [int(p) for p in children.read_text().split()] if children.exists() else []
    with connection.cursor() as cur:
        cur.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
        return workers, [row[0] for row in cur.fetchall()]


def ingest(server: subprocess.Popen, port: int, token: str, assets: list[str], *, seconds: float = 10.0,
           concurrency: int = 8, batch: int = 0) -> dict:
    """A warm-up, then `seconds` of load: single reports (batch=0) or lists of `batch` reports. Returns the
    load generator's answer plus `rows`, the records written with this run's ids, which must equal the events
    the 2xx answers acknowledged (no write lost, none counted twice)."""
    from drportal.lib import clock

    when = (clock.now() - timedelta(minutes=1)).isoformat()
    run = f"{'b' if batch else 's'}{time.time_ns()}-"
    template = _template(when)
    base = {"template": template, "assets": assets, "concurrency": concurrency, "batch": batch,
            "count_field": "created" if batch else None}
    _load(port, token, base | {"prefix": "w" + run, "seconds": 2})
    load_before = _loadavg()
    workers, backends = _server_pids(server)
    cpu_before = _cpu_seconds(workers), _cpu_seconds(backends)
    result = _load(port, token, base | {"prefix": run, "seconds": seconds})
    per_event = 1000 / max(result["events"], 1)
    result["web_cpu_ms"] = (_cpu_seconds(workers) - cpu_before[0]) * per_event
    result["postgres_cpu_ms"] = (_cpu_seconds(backends) - cpu_before[1]) * per_event
    result["loadavg_before"], result["loadavg_after"] = load_before, _loadavg()
    result["rows"] = _rows(run)
    return result


def _ingest_row(name: str, result: dict, target: int, what: str) -> dict:
    eps = result["eps"]
    exact = result["rows"] == result["events"]
    # What two otherwise idle cores would sustain if CPU were the only limit: an estimate from the CPU the
    # server, its database backends and the load generator spent per event, not a measurement.
    cpu_ms = result["web_cpu_ms"] + result["postgres_cpu_ms"] + result["client_cpu_s"] * 1000 / max(
        result["events"], 1)
    return {"name": name, "value": round(eps, 1), "unit": "events/s", "target": target,
            "met": eps >= target and exact and not result["errors"],
            "note": f"{what}; {SERVER} {SERVER_ARGS}; {result['events']} events in "
                    f"{result['elapsed']:.1f} s, answers {result['statuses']}, rows written {result['rows']}"
                    f"{'' if exact else ' (MISMATCH)'}, CPU per event "
                    f"{result['web_cpu_ms']:.3f} ms in {SERVER}'s workers "
                    f"+ {result['postgres_cpu_ms']:.3f} ms in PostgreSQL backends, "
                    f"load generator CPU {result['client_cpu_s']:.1f} s; "
                    f"loadavg before {result['loadavg_before']}, after {result['loadavg_after']}; "
                    f"CPU-bound estimate for 2 idle cores {2000 / cpu_ms:.0f} events/s"}


def run_ingest() -> list[dict]:
    """Only the two ingestion rows: the web server on a free port against DATABASE_URL, the load generator in its
    own process."""
    from backups.models import BackupPolicy, IngestToken
    from drportal.inventory.models import Asset

    policy = BackupPolicy.objects.get(name="bench daily dumps")
    token = IngestToken.issue(f"bench {time.time():.0f}", policy=policy)[1]
    assets = list(Asset.objects.filter(name__startswith="bdb-").values_list("name", flat=True)[:20000])
    seconds = float(os.environ.get("BENCH_SECONDS", "10"))
    # BENCH_PORT: a port of one's own on a machine shared with other runs.
    port = int(os.environ.get("BENCH_PORT") or 0) or free_port()
    server = _server(port)
    try:
        single = ingest(server, port, token, assets, seconds=seconds, concurrency=SINGLE_CONNECTIONS)
        batch = ingest(server, port, token, assets, seconds=seconds, concurrency=2, batch=1000)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    # Issue 17's targets (issue 3's were 500 and 10,000).
    return [_ingest_row("ingest_single_eps", single, 2_500,
                        f"one report per POST, {SINGLE_CONNECTIONS} keep-alive connections"),
            _ingest_row("ingest_batch_eps", batch, 50_000, "1,000 reports per POST, 2 keep-alive connections")]


def run() -> list[dict]:
    _setup_django()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    info = seed()
    if os.environ.get("BENCH_BACKUPS_PARTS") == "ingest":
        return run_ingest()
    from backups.sweep import store_counts

    store_counts()  # a data set seeded before the counts were stored by the sweep
    client = _staff_client()
    p95, queries = dashboard_p95(client)
    list_p95, list_queries = dashboard_p95(client, "/backups/?status=bad&sort=rpo", runs=30)
    note = f"seed {info}" if info.get("seeded") else "data set reused"
    return [
        {"name": "dashboard_p95_ms", "value": round(p95, 1), "unit": "ms", "target": 150, "met": p95 <= 150,
         "queries": queries,
         "note": f"{queries} queries; /backups/ list p95 {list_p95:.1f} ms with {list_queries} queries; {note}"},
        *run_ingest(),
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
