"""Real receivers for the notification channels: an aiosmtpd SMTP server recording what it accepted, and a
local HTTP server recording webhook and SMS gateway calls. Both bind 127.0.0.1 on a free port."""

from __future__ import annotations

import json
import threading
import time
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from drportal.cloud.devpeers import free_port
from tests.backups.conftest import moto_url  # noqa: F401 - the moto server fixture, for S3-kept dumps


class RecordingHandler:
    """Accepts mail (offering PIPELINING unless told not to), except: RCPT to an address starting "refuse"
    gets 550, a message to "bounce..." is refused at the end of DATA with 554, and one to "slow..." is
    recorded, then answered `delay` seconds later."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.messages: list = []
        self.senders: dict[str, str] = {}  # recipient -> the envelope sender (MAIL FROM) of its message
        self.delay = 0.0
        # Offer PIPELINING (RFC 2920) as production relays do; a test turns it off for the one-command path.
        self.pipelining = True

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if self.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("refuse"):
            return "550 5.1.1 no such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if any(r.startswith("bounce") for r in envelope.rcpt_tos):
            return "554 5.6.0 message content rejected"
        msg = message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.messages.append((list(envelope.rcpt_tos), msg))
            self.senders.update(dict.fromkeys(envelope.rcpt_tos, envelope.mail_from))
        if self.delay and any(r.startswith("slow") for r in envelope.rcpt_tos):
            import asyncio

            # The message is in (counted above); the sender waits for our 250: the in-doubt window, held open.
            await asyncio.sleep(self.delay)
        return "250 Message accepted for delivery"

    def recipients(self) -> list[str]:
        with self.lock:
            return [r for rcpts, _ in self.messages for r in rcpts]

    def clear(self) -> None:
        with self.lock:
            self.messages.clear()
            self.senders.clear()
        self.delay = 0.0
        self.pipelining = True


class Smtp:
    def __init__(self, handler: RecordingHandler, port: int):
        self.handler, self.port = handler, port


@pytest.fixture(scope="session")
def smtp_server():
    import logging

    logging.getLogger("mail.log").setLevel(logging.WARNING)
    try:
        from aiosmtpd.controller import Controller
    except ImportError:
        from tests.conftest import peer_missing

        peer_missing("aiosmtpd")
    handler = RecordingHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, ready_timeout=10)
    controller.start()
    yield Smtp(handler, port)
    controller.stop()


@pytest.fixture
def smtp(smtp_server, settings):
    smtp_server.handler.clear()
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp_server.port
    settings.EMAIL_USE_TLS, settings.EMAIL_HOST_USER, settings.EMAIL_HOST_PASSWORD = False, "", ""
    return smtp_server.handler


class HttpReceiver:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: list[dict] = []
        self.port = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def bodies(self, path: str | None = None) -> list[dict]:
        with self.lock:
            return [r["json"] for r in self.requests if path is None or r["path"] == path]

    def clear(self) -> None:
        with self.lock:
            self.requests.clear()


def _make_handler(receiver: HttpReceiver):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            codes = {"/fail": 500, "/bad": 400, "/throttled": 429}
            status = next((code for prefix, code in codes.items() if self.path.startswith(prefix)), 200)
            if self.path == "/hang":
                time.sleep(3)
            with receiver.lock:
                receiver.requests.append({"path": self.path, "json": json.loads(body or b"{}"),
                                          "headers": dict(self.headers), "status": status})
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"ok": %s}' % (b"true" if status == 200 else b"false"))

        def log_message(self, *args):
            pass

    return Handler


@pytest.fixture
def bounce_server(settings):
    """The bounce address's own aiosmtpd server (notifications.bounces.BounceHandler), as
    `manage.py notify_bounces --listen` runs it."""
    from aiosmtpd.controller import Controller

    from notifications.bounces import BounceHandler

    settings.NOTIFY_BOUNCE_ADDRESS = "bounces@drportal.example"
    port = free_port()
    controller = Controller(BounceHandler(), hostname="127.0.0.1", port=port, ready_timeout=10)
    controller.start()
    yield port
    controller.stop()


@pytest.fixture(scope="session")
def http_receiver_server():
    receiver = HttpReceiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(receiver))
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    server.shutdown()
    server.server_close()


@pytest.fixture
def http_receiver(http_receiver_server):
    http_receiver_server.clear()
    return http_receiver_server


@pytest.fixture
def redis_conn():
    import django_rq

    conn = django_rq.get_connection("high")
    # Our own db number only (REDIS_URL), never FLUSHALL.
    conn.flushdb()
    return conn


@pytest.fixture
def world(db, users):
    from tests.notifications.factories import build_world

    return build_world(users)
