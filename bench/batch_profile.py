"""Where a batched report's CPU goes (issue 17, docs/backups.md), on the benchmark data set (seed it first with
`BENCH_ONLY=backups_bench python -m bench`):

    DATABASE_URL=postgresql://.../drportal_bench_ingest python -m bench.batch_profile [profile|insert]

`profile`: batches of 1,000 through drportal.wsgi.application in this process; CPU per report of this process
(time.process_time) and of its PostgreSQL backend (/proc/<pid>/stat), then the same under cProfile.
`insert`: the backend CPU of the record INSERT alone, per record, with each secondary index or foreign key
removed in turn (each run rolled back).
"""

from __future__ import annotations

import cProfile
import io
import json
import os
import pstats
import sys
import time
from datetime import timedelta
from pathlib import Path

BATCH = 1000


def _backend_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def profile(batches: int = 20) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "drportal.settings")
    import django

    django.setup()
    from django.db import connection

    from backups.models import BackupPolicy, IngestToken
    from bench.backups_bench import bench_report
    from drportal.inventory.models import Asset
    from drportal.lib import clock
    from drportal.wsgi import application

    policy = BackupPolicy.objects.get(name="bench daily dumps")
    token = IngestToken.issue(f"profile {time.time():.0f}", policy=policy)[1]
    assets = list(Asset.objects.filter(name__startswith="bdb-").values_list("name", flat=True)[:20000])
    when = (clock.now() - timedelta(minutes=1)).isoformat()
    run = f"p{time.time_ns()}-"
    bodies = [json.dumps([bench_report(assets[(i * BATCH + j) % len(assets)], f"{run}{i}-{j}", when)
                          for j in range(BATCH)]).encode() for i in range(2 * batches + 2)]

    def post(body: bytes) -> None:
        environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/api/v1/backups/", "SERVER_NAME": "127.0.0.1",
                   "SERVER_PORT": "443", "wsgi.url_scheme": "https", "CONTENT_LENGTH": str(len(body)),
                   "CONTENT_TYPE": "application/json", "HTTP_AUTHORIZATION": f"Bearer {token}",
                   "HTTP_HOST": "127.0.0.1", "wsgi.input": io.BytesIO(body), "wsgi.errors": sys.stderr}
        status: list[str] = []
        out = b"".join(application(environ, lambda s, h, *a: status.append(s)))
        if not status[0].startswith("201"):
            raise RuntimeError(f"{status[0]}: {out[:300]!r}")

    post(bodies.pop()), post(bodies.pop())  # the connection, the prepared statements
    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        pid = cur.fetchone()[0]
    for profiler in (None, cProfile.Profile(time.process_time)):
        backend, own = _backend_cpu(pid), time.process_time()
        if profiler:
            profiler.enable()
        for _ in range(batches):
            post(bodies.pop())
        if profiler:
            profiler.disable()
        n = batches * BATCH
        print(f"{n} reports{' (under cProfile)' if profiler else ''}: "
              f"{1000 * (time.process_time() - own) / n:.4f} ms of this process's CPU, "
              f"{1000 * (_backend_cpu(pid) - backend) / n:.4f} ms of the backend's, per report")
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(40)
    print(out.getvalue())


INSERT_SQL = """
INSERT INTO backups_backuprecord (policy_id, asset_id, client_id, started_at, completed_at, outcome, error,
  size_bytes, sha256, provider, region_id, zone_id, container, key, provider_state, recovery_point, viable,
  expires_at, source, token_id, created_at, observed_sha256, checksum_ok, verified_at, verified_ok, verified_how)
SELECT p, a, %(run)s || g, now(), now(), 'succeeded', '', 12345, repeat('c', 64), 'bench', %(region)s, %(zone)s,
  'dumps', 'k/' || %(run)s || g, '', now(), true, now() + interval '30 days', 'agent', %(token)s, now(), '', NULL,
  NULL, NULL, ''
FROM unnest(%(p)s::bigint[], %(a)s::bigint[], %(g)s::int[]) AS u(p, a, g)
ON CONFLICT DO NOTHING"""


def insert_cost(batches: int = 30) -> None:
    import psycopg

    conn = psycopg.connect(os.environ["DATABASE_URL"])
    cur = conn.cursor()
    pid = cur.execute("SELECT pg_backend_pid()").fetchone()[0]
    pairs = cur.execute("""SELECT s.policy_id, s.asset_id FROM backups_policyassetstatus s
                           JOIN backups_backuppolicy p ON p.id = s.policy_id
                           WHERE p.name = 'bench daily dumps' LIMIT 20000""").fetchall()
    zone, region = cur.execute("SELECT id, region_id FROM inventory_zone WHERE slug = 'r1z1' LIMIT 1").fetchone()
    token = cur.execute("SELECT max(id) FROM backups_ingesttoken").fetchone()[0]
    foreign_keys = [name for (name,) in cur.execute(
        "SELECT conname FROM pg_constraint WHERE conrelid = 'backups_backuprecord'::regclass AND contype = 'f'")]
    conn.commit()

    def run(label: str, setup: list[str]) -> None:
        for statement in setup:
            cur.execute(statement)
        before = _backend_cpu(pid)
        for i in range(batches):
            chosen = [pairs[(i * BATCH + j) % len(pairs)] for j in range(BATCH)]
            cur.execute(INSERT_SQL, {"run": f"x{time.time_ns()}-", "region": region, "zone": zone, "token": token,
                                     "p": [c[0] for c in chosen], "a": [c[1] for c in chosen],
                                     "g": list(range(BATCH))})
            cur.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the deferred foreign-key checks run here
            cur.execute("SET CONSTRAINTS ALL DEFERRED")
        print(f"{label:36s} {1e6 * (_backend_cpu(pid) - before) / (batches * BATCH):5.1f} us per record")
        conn.rollback()

    indexes = ["backup_rec_container_key", "backup_rec_asset_pol_started", "backup_rec_created_brin"]
    for _ in range(3):
        run("as it is", [])
        for index in indexes:
            run(f"without {index}", [f"DROP INDEX {index}"])
        run("without the foreign keys", [f"ALTER TABLE backups_backuprecord DROP CONSTRAINT {fk}"
                                         for fk in foreign_keys])
        run("without both", [f"DROP INDEX {index}" for index in indexes]
            + [f"ALTER TABLE backups_backuprecord DROP CONSTRAINT {fk}" for fk in foreign_keys])


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    insert_cost() if sys.argv[1:] == ["insert"] else profile()
