"""PostgreSQL on the server a database is restored to: the target database made ready, a dump's own row
counts, and the restored tables counted, so "restored" is a claim the rows prove.

Connections are built from keyword arguments (host may be a unix-socket directory); the password comes from
the environment variable the inventory names and is never put on a command line or in a log.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass

from drportal.cloud.adapters.errors import AdapterError
from drportal.lib import pgtools

PROVIDER = "postgresql"
DRILL_PASSWORD_VARIABLE = "DRILL_POSTGRES_PASSWORD"  # noqa: S105 - the name of a variable, not a password


@dataclass
class Target:
    host: str
    port: int
    user: str
    database: str
    password_env: str = ""

    @property
    def password(self) -> str:
        return os.environ.get(self.password_env, "") if self.password_env else ""

    def env(self) -> dict[str, str]:
        return {"PGPASSWORD": self.password} if self.password else {}

    def args(self) -> list[str]:
        return ["-h", self.host, "-p", str(self.port), "-U", self.user]

    def connect(self, dbname: str | None = None, autocommit: bool = True):
        import psycopg

        params = {"host": self.host, "port": self.port, "user": self.user, "dbname": dbname or self.database,
                  "password": self.password or None, "connect_timeout": 10}
        try:
            return psycopg.connect(**{k: v for k, v in params.items() if v is not None}, autocommit=autocommit)
        except psycopg.OperationalError as exc:
            # A server that does not answer may be booting still: transient. The message names no password.
            raise AdapterError(f"cannot reach PostgreSQL at {self.host}:{self.port}: {str(exc).strip()[:300]}",
                               permanent=False, provider=PROVIDER, code="Unreachable") from exc


def drill_target(database: str = "postgres") -> Target | None:
    """The sandbox PostgreSQL of drills in a bubble (settings DRILL_POSTGRES_*), or None when there is none."""
    from django.conf import settings

    host = getattr(settings, "DRILL_POSTGRES_HOST", "")
    if not host:
        return None
    return Target(host=host, port=int(getattr(settings, "DRILL_POSTGRES_PORT", 5432)),
                  user=getattr(settings, "DRILL_POSTGRES_USER", "postgres"), database=database,
                  password_env=DRILL_PASSWORD_VARIABLE)


def prepare(target: Target) -> int:
    """Create the target database if it is not there; refuse one that already has tables (a restore never
    overwrites data it did not put there). The server's major version (for a matching pg_restore)."""
    from psycopg import sql

    with target.connect("postgres") as admin:
        major = admin.info.server_version // 10000
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [target.database]).fetchone()
        if not exists:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(target.database)))
            return major
    with target.connect() as conn:
        tables = conn.execute("SELECT count(*) FROM information_schema.tables WHERE table_type = 'BASE TABLE' "
                              "AND table_schema NOT IN ('pg_catalog', 'information_schema')").fetchone()[0]
    if tables:
        raise AdapterError(f"database {target.database} on {target.host}:{target.port} already has {tables} "
                           "table(s); refusing to restore over it", permanent=True, provider=PROVIDER,
                           code="TargetNotEmpty")
    return major


def table_count(target: Target) -> int | None:
    """Tables in the target database (None: there is no such database on the server)."""
    with target.connect("postgres") as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [target.database]).fetchone():
            return None
    with target.connect() as conn:
        return conn.execute("SELECT count(*) FROM information_schema.tables WHERE table_type = 'BASE TABLE' "
                            "AND table_schema NOT IN ('pg_catalog', 'information_schema')").fetchone()[0]


def dump_row_counts(path: str, server_major: int) -> dict[str, int]:
    """Rows per table as the dump itself holds them: pg_restore prints its data section as COPY blocks, one
    line per row (newlines inside values are escaped in COPY's text format)."""
    tool = pgtools.find("pg_restore", server_major)
    process = subprocess.Popen([tool, "--data-only", "-f", "-", path], stdout=subprocess.PIPE,  # noqa: S603
                               stderr=subprocess.PIPE, text=True, errors="replace")
    counts: dict[str, int] = {}
    table = None
    for line in process.stdout or ():
        if table is None:
            if line.startswith("COPY ") and line.rstrip().endswith("FROM stdin;"):
                table = line[5:].split(" (", 1)[0].split(" FROM", 1)[0]
                counts[table] = 0
        elif line.rstrip("\n") == "\\.":
            table = None
        else:
            counts[table] += 1
    error = process.stderr.read() if process.stderr else ""
    if process.wait() != 0:
        raise AdapterError(f"pg_restore cannot read the dump: {error.strip()[-300:]}", permanent=True,
                           provider=PROVIDER, code="BadDump")
    return counts


def restore_argv(target: Target, path: str, server_major: int) -> list[str]:
    tool = pgtools.find("pg_restore", server_major)
    return [tool, "--no-owner", "--no-privileges", "--exit-on-error", *target.args(), "-d", target.database, path]


def row_counts(target: Target, tables: list[str]) -> dict[str, int | None]:
    """Rows now in each of the dump's tables (None: the table is not there)."""
    from psycopg import sql

    found: dict[str, int | None] = {}
    with target.connect() as conn:
        for name in tables:
            schema, _, table = name.rpartition(".")
            ident = sql.Identifier(schema.strip('"'), table.strip('"')) if schema else sql.Identifier(table.strip('"'))
            exists = conn.execute("SELECT to_regclass(%s)", [name]).fetchone()[0]
            found[name] = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(ident)).fetchone()[0] \
                if exists else None
    return found
