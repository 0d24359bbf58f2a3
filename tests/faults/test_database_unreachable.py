"""PostgreSQL unreachable: pages answer 503 with a clear message, /healthz names the database, and
everything recovers by itself when it returns. The database sits behind a TCP proxy that the test cuts;
the machine's own server is never touched."""

from __future__ import annotations

import pytest
import requests
from django.conf import settings
from django.db import connection

from tests.support.proxy import CuttableProxy
from tests.support.served import served


def database_target() -> tuple[str, int] | str:
    db = settings.DATABASES["default"]
    host = db.get("HOST") or db["OPTIONS"].get("host", "")
    port = int(db.get("PORT") or db["OPTIONS"].get("port") or 5432)
    return f"{host}/.s.PGSQL.{port}" if host.startswith("/") else (host or "127.0.0.1", port)


@pytest.fixture
def proxied_server(transactional_db, tmp_path):
    proxy = CuttableProxy(database_target())
    db = settings.DATABASES["default"]
    env = {
        "DATABASE_URL": f"postgresql://{db['USER']}@127.0.0.1:{proxy.port}/{connection.settings_dict['NAME']}",
        "DB_CONNECT_TIMEOUT": "2",
    }
    try:
        with served(tmp_path / "web.log", env=env) as (base, _):
            yield base, proxy
    finally:
        proxy.close()


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
