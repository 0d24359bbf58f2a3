"""The web server, in one place: `python -m drportal.serve` is what the Dockerfile, docker-compose.yml, `make run`
and the tests that talk HTTP to drportal start.

It is granian (a Rust HTTP server with a WSGI interface), not gunicorn. Why (issue 17, docs/backups.md "How it
stays fast"): of the CPU a single backup report costs, gunicorn's own request handling was the largest part
once the lean ingestion path (backups/lean.py) had taken Django's request cycle out of it; on the same two
cores and the same application, gunicorn answered 2,209 single reports/s and granian 3,158/s. Granian's WSGI
differs from gunicorn's where drportal cares in a few ways, each covered by tests/backups/test_web_server.py: a body
sent chunked carries no Content-Length (the API answers 411, as it did), streamed answers stream, and the
process tree stops on SIGTERM within its kill timeout.

Threads: the lean ingestion path commits the reports that arrive together in one worker as one group, so the
threads waiting on a commit are what makes groups; each keeps its own PostgreSQL connection (workers x threads
connections in all). WEB_WORKERS and WEB_THREADS override the defaults; so do --workers and --threads.
"""

from __future__ import annotations

import argparse
import os
import sys

DEFAULT_WORKERS = 2
DEFAULT_THREADS = 16


def command(host: str, port: int, *, workers: int | None = None, threads: int | None = None,
            access_log: bool = False) -> list[str]:
    """The argv that serves drportal.wsgi on host:port."""
    workers = workers or int(os.environ.get("WEB_WORKERS", DEFAULT_WORKERS))
    threads = threads or int(os.environ.get("WEB_THREADS", DEFAULT_THREADS))
    return [
        sys.executable, "-m", "granian", "--interface", "wsgi", "--host", host, "--port", str(port),
        "--workers", str(workers), "--blocking-threads", str(threads),
        # A worker that dies (out of memory, a crash in an extension) is replaced, as gunicorn's master did.
        "--respawn-failed-workers",
        # SIGTERM: requests in flight get this long, then the workers are killed (docker stop waits 10 s).
        "--workers-kill-timeout", "5",
        "--log-level", "warning", "--access-log" if access_log else "--no-access-log",
        "drportal.wsgi:application",
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m drportal.serve", description="Serve drportal over HTTP.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int)
    parser.add_argument("--threads", type=int)
    parser.add_argument("--access-log", action="store_true")
    args = parser.parse_args(argv)
    argv = command(args.host, args.port, workers=args.workers, threads=args.threads, access_log=args.access_log)
    # exec: the server is this process, so a supervisor's signals (docker stop, make run) reach it directly.
    os.execv(argv[0], argv)  # noqa: S606


if __name__ == "__main__":
    main()
