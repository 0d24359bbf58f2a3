"""drportal served over HTTP as production serves it (drportal/serve.py: granian), for the tests that must cross
a real socket: a subprocess on a free port against the test database, stopped with SIGTERM as docker stop does."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
import requests
from django.conf import settings
from django.db import connection

from drportal import serve
from drportal.cloud.devpeers import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_database_url() -> str:
    """The test database (its name is the test run's, not the settings') as a URL a subprocess can use."""
    db = settings.DATABASES["default"]
    # host as a parameter: the embedded server's is a unix socket's directory, not a name for the URL's host part.
    host = db.get("HOST") or db["OPTIONS"].get("host", "") or "127.0.0.1"
    query = urlencode({"host": host, "port": db.get("PORT") or db["OPTIONS"].get("port") or 5432})
    return f"postgresql://{db['USER']}@/{connection.settings_dict['NAME']}?{query}"


@contextlib.contextmanager
def served(log: Path, *, env: dict | None = None, workers: int = 1,
           threads: int = 4) -> Iterator[tuple[str, subprocess.Popen]]:
    """(base URL, server process) while the server runs; its output goes to `log` (a file: a pipe nobody reads
    fills up and blocks the server)."""
    port = free_port()
    environment = {**os.environ, "DATABASE_URL": test_database_url(), "REDIS_URL": settings.REDIS_URL, **(env or {})}
    server = subprocess.Popen(
        serve.command("127.0.0.1", port, workers=workers, threads=threads),
        cwd=ROOT, env=environment, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(base + "/healthz", timeout=10)
                break
            except requests.RequestException:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the web server did not start: {log.read_text()[-2000:]}")
                time.sleep(0.2)
        yield base, server
    finally:
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, 9)
                server.wait(10)
