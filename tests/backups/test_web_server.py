"""The web server production runs (drportal/serve.py: granian) where its WSGI differs from gunicorn's, over a
real socket: a report posted the ordinary way is stored once; a chunked body (no Content-Length) or an oversized
one is refused with the API's own answer and stores nothing; the RPO answer streams; static files keep their
type; SIGTERM stops the whole process tree."""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from datetime import timedelta
from pathlib import Path

import pytest
import requests

from backups import sweep
from backups.models import BackupRecord, IngestToken
from drportal.lib import clock
from tests.support.served import served

URL = "/api/v1/backups/"


def report(**over) -> dict:
    base = {"id": "acme-db-over-http", "asset": "acme-db", "outcome": "succeeded",
            "started_at": "2026-11-21T10:00:00Z", "completed_at": "2026-11-21T10:20:00Z", "size_bytes": 123456,
            "sha256": "ab" * 32, "location": {"zone": "rackspace/dfw/dfw1", "container": "dumps",
                                               "key": "acme-db/over-http.dump"}}
    return base | over


@pytest.fixture
def server(transactional_db, world, tmp_path):
    with served(tmp_path / "web.log") as (base, process):
        yield base, process


@pytest.fixture
def token(world) -> str:
    return IngestToken.issue("jivosoft agent", policy=world.daily)[1]


def raw_request(base: str, head: str, body: bytes) -> bytes:
    """Bytes on the wire, for what requests would not send (a chunked body, a lying Content-Length)."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head.encode() + b"\r\n" + body)
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    return answer


def test_a_report_posted_over_http_is_stored_once_and_its_retry_stores_nothing(server, token):
    base, _ = server
    headers = {"Authorization": f"Bearer {token}"}
    first = requests.post(base + URL, json=report(), headers=headers, timeout=10)
    again = requests.post(base + URL, json=report(), headers=headers, timeout=10)
    assert first.status_code == 201, first.text
    assert first.json()["status"] == "created"
    assert again.status_code == 200, again.text
    assert BackupRecord.objects.filter(client_id="acme-db-over-http").count() == 1


def test_a_chunked_report_is_refused_with_411_and_nothing_is_stored(server, token):
    base, _ = server
    body = json.dumps(report(id="acme-db-chunked")).encode()
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    answer = raw_request(base, f"POST {URL} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
                               "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n",
                         chunked)
    assert answer.startswith(b"HTTP/1.1 411"), answer[:200]
    assert b"Content-Length header is required" in answer
    assert not BackupRecord.objects.filter(client_id="acme-db-chunked").exists()


def test_a_body_announced_larger_than_the_limit_is_refused_with_413_unread(server, token):
    base, _ = server
    answer = raw_request(base, f"POST {URL} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
                               "Content-Type: application/json\r\nContent-Length: 999999999\r\nConnection: close\r\n",
                         b"[")
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert BackupRecord.objects.count() == 0


def test_the_rpo_answer_arrives_streamed_and_whole(server, token):
    base, _ = server
    headers = {"Authorization": f"Bearer {token}"}
    # The server runs on the wall clock, so the report is an hour old by it (a 14-day retention keeps it).
    finished = (clock.now() - timedelta(hours=1)).replace(microsecond=0)
    fresh = report(started_at=(finished - timedelta(minutes=20)).isoformat(), completed_at=finished.isoformat())
    assert requests.post(base + URL, json=fresh, headers=headers, timeout=10).status_code == 201
    sweep.sweep(clock.now())
    with requests.get(base + "/api/v1/rpo/", headers=headers, stream=True, timeout=10) as answer:
        assert answer.status_code == 200
        assert "Content-Length" not in answer.headers, "a streamed answer has no length known in advance"
        document = json.loads(b"".join(answer.iter_content(4096)))
    points = {row["asset"]: row["last_recovery_point"] for row in document["databases"]}
    assert points == {"acme-db": fresh["started_at"], "zeta-db": None}  # a dump holds what was there when it began


def test_static_files_are_served_with_their_type(server):
    base, _ = server
    answer = requests.get(base + "/static/css/drportal.css", timeout=10)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/css")


def test_sigterm_stops_the_server_and_every_worker(server):
    base, process = server
    workers = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
    assert workers, "granian serves from worker processes"
    process.send_signal(signal.SIGTERM)
    assert process.wait(15) is not None
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists() and _alive(int(pid))]
    with pytest.raises(requests.ConnectionError):
        requests.get(base + "/healthz", timeout=2)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z" and os.path.exists(f"/proc/{pid}")
