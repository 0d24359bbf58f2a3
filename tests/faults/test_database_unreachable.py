"""PostgreSQL unreachable: pages answer 503 with a clear message, /healthz names the database, and
everything recovers by itself when it returns. The database sits behind a TCP proxy that the test cuts;
the machine's own server is never touched."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.db import connection

from drportal.cloud.devpeers import free_port
from tests.support.proxy import CuttableProxy

ROOT = Path(__file__).resolve().parents[2]



def database_target() -> tuple[str, int] | str:
    db = settings.DATABASES["default"]
    host = db.get("HOST") or db["OPTIONS"].get("host", "")
    port = int(db.get("PORT") or db["OPTIONS"].get("port") or 5432)
    return f"{host}/.s.PGSQL.{port}" if host.startswith("/") else (host or "127.0.0.1", port)


@pytest.fixture
def proxied_server(transactional_db):
    proxy = CuttableProxy(database_target())
    port = free_port()
    db = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DATABASE_URL": f"postgresql://{db['USER']}@127.0.0.1:{proxy.port}/{connection.settings_dict['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "DB_CONNECT_TIMEOUT": "2",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "drportal.wsgi:application", "--bind", f"127.0.0.1:{port}",
         "--workers", "1", "--timeout", "30"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, server)
        yield base, proxy
    finally:
        server.terminate()
        server.wait(10)
        proxy.close()


def wait_until_up(base: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and server.poll() is None:
        try:
            requests.get(base + "/healthz", timeout=10)
            return
        except requests.RequestException:
            time.sleep(0.2)
    pytest.fail("gunicorn did not start")


def test_pages_answer_503_and_recover_when_the_database_returns(proxied_server, client, alice):
    base, proxy = proxied_server
    client.force_login(alice)
    cookies = {"sessionid": client.cookies["sessionid"].value}
    assert requests.get(base + "/incidents/", cookies=cookies, timeout=10).status_code == 200

    proxy.cut()
    page = requests.get(base + "/incidents/", cookies=cookies, timeout=10)
    health = requests.get(base + "/healthz", timeout=10)
    assert page.status_code == 503
    assert "database cannot be reached" in page.text
    assert health.status_code == 503
    assert health.json()["database"] == "OperationalError"
    assert health.json()["queue"] == "ok"

    proxy.restore()
    assert requests.get(base + "/healthz", timeout=10).status_code == 200
    assert requests.get(base + "/incidents/", cookies=cookies, timeout=10).status_code == 200
