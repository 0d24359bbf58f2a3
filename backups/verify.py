"""Restore tests: prove that a backup restores. Checksum of the stored object against the reported one; for
PostgreSQL custom-format dumps also a real pg_restore into a scratch database and a row count."""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
from dataclasses import dataclass

from django.conf import settings
from django.db import connection

from backups.choices import CHECKSUM_KINDS, SourceKind
from backups.models import BackupRecord, BackupSource
from drportal.cloud.adapters.errors import AdapterError
from drportal.lib import pgtools

RESTORE_TIMEOUT = 3600


@dataclass
class Verdict:
    passed: bool
    method: str
    detail: str
    observed_sha256: str = ""
    checksum_ok: bool | None = None
    row_count: int | None = None


def run(record: BackupRecord, scratch_name: str) -> Verdict:
    if record.policy.kind not in CHECKSUM_KINDS:
        return Verdict(False, "none", f"no restore test is implemented for {record.policy.get_kind_display()} "
                                      "backups yet; verify them by hand")
    with tempfile.TemporaryDirectory(prefix="drportal-verify-") as tmp:
        path = os.path.join(tmp, "object")
        fetch(record, path)
        observed = _sha256(path)
        if record.sha256 and observed != record.sha256:
            return Verdict(False, "checksum", f"checksum mismatch: reported {record.sha256}, stored object "
                                              f"{observed}", observed, checksum_ok=False)
        checksum_ok = True if record.sha256 else None
        with open(path, "rb") as fh:
            is_pg_custom = fh.read(5) == b"PGDMP"
        if not is_pg_custom:
            what = "matches the reported checksum" if record.sha256 else "was read back (no checksum was reported)"
            return Verdict(checksum_ok is True, "checksum", f"stored object {what}", observed, checksum_ok)
        rows, tables = restore_postgres_dump(path, scratch_name)
        if tables == 0:
            return Verdict(False, "pg_restore", "pg_restore ran but restored no table", observed, checksum_ok, 0)
        return Verdict(True, "pg_restore", f"restored {tables} tables, {rows} rows, into a scratch database",
                       observed, checksum_ok, rows)


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(record: BackupRecord, path: str) -> None:
    """Download the stored object through the adapter of the poller that knows its container."""
    from drportal.cloud.adapters import objectstore, s3

    source = (BackupSource.objects.filter(container=record.container, kind__in=[SourceKind.S3,
                                                                                SourceKind.OBJECTSTORE])
              .select_related("account").first())
    if source is None or not record.key:
        raise AdapterError(f"no poller is configured for container {record.container!r}: cannot read the object",
                           permanent=True, provider="backups")
    if source.kind == SourceKind.S3:
        s3.download(source.account, record.container, record.key, path)
    else:
        objectstore.download(source.account, record.container, record.key, path)


def _server_args() -> tuple[list[str], dict[str, str]]:
    db = settings.DATABASES["default"]
    host = db.get("OPTIONS", {}).get("host") or db.get("HOST") or ""
    args = [a for a in (["-h", host] if host else []) + (["-p", str(db["PORT"])] if db.get("PORT") else [])
            + (["-U", db["USER"]] if db.get("USER") else [])]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = db["PASSWORD"]  # through the environment: never on a command line or in a log
    return args, env


def server_major() -> int:
    return connection.pg_version // 10000


def restore_postgres_dump(path: str, scratch_name: str) -> tuple[int, int]:
    """pg_restore into a fresh scratch database on drportal's own server, count rows of every table, drop the
    database. The name comes from the restore test's id, so a retried job first removes its own leftovers."""
    from psycopg import sql

    args, env = _server_args()
    _drop(scratch_name)
    with _admin() as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(scratch_name)))
    try:
        tool = pgtools.find("pg_restore", server_major())
        done = subprocess.run(  # noqa: S603
            [tool, "--no-owner", "--no-privileges", "--exit-on-error", *args, "-d", scratch_name, path],
            capture_output=True, text=True, timeout=RESTORE_TIMEOUT, env=env, check=False,
        )
        if done.returncode != 0:
            raise AdapterError(f"pg_restore failed: {done.stderr.strip()[-500:]}", permanent=True,
                               provider="pg_restore")
        with _connect(scratch_name) as scratch, scratch.cursor() as cur:
            cur.execute("SELECT table_schema, table_name FROM information_schema.tables WHERE table_type = "
                        "'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')")
            tables = cur.fetchall()
            rows = 0
            for schema, table in tables:
                cur.execute(sql.SQL("SELECT count(*) FROM {}.{}").format(sql.Identifier(schema), sql.Identifier(table)))
                rows += cur.fetchone()[0]
        return rows, len(tables)
    finally:
        _drop(scratch_name)


def _connect(dbname: str, autocommit: bool = False):
    import psycopg

    db = settings.DATABASES["default"]
    params = {"dbname": dbname, "user": db.get("USER"), "password": db.get("PASSWORD"),
              "host": db.get("OPTIONS", {}).get("host") or db.get("HOST"), "port": db.get("PORT")}
    return psycopg.connect(**{k: v for k, v in params.items() if v}, autocommit=autocommit)


def _admin():
    # CREATE / DROP DATABASE cannot run inside a transaction: a connection of its own, in autocommit.
    return _connect(settings.DATABASES["default"]["NAME"], autocommit=True)


def _drop(name: str) -> None:
    from psycopg import sql

    with _admin() as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
