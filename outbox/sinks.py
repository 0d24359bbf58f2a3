"""Local receivers for the demo's messages: an SMTP server (aiosmtpd) and an HTTP endpoint that speaks the SMS
gateway's JSON protocol (notifications/channels/sms.py) and takes Slack-style webhook posts. Each message
received becomes an OutboxMessage row; nothing is forwarded anywhere."""

from __future__ import annotations

import email
import email.policy
import json
import logging
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from django.db import close_old_connections

from drportal.lib import clock
from outbox.models import OutboxMessage, Received

logger = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024  # a notice is a few kilobytes; anything this large is not one of ours


def record(channel: str, to: str, subject: str, body: str, reference: str = "") -> OutboxMessage:
    from notifications.models import Delivery

    reference = reference.strip()[:100]
    delivery_id = int(reference) if reference.isdigit() and len(reference) < 12 else None
    if delivery_id is not None and not Delivery.objects.filter(pk=delivery_id).exists():
        delivery_id = None
    return OutboxMessage.objects.create(channel=channel, to=to[:500], subject=subject[:500], body=body,
                                        reference=reference, delivery_id=delivery_id, received_at=clock.now())


def record_mail(raw: bytes, recipients: list[str]) -> list[OutboxMessage]:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    part = message.get_body(preferencelist=("plain", "html"))
    try:
        body = part.get_content() if part is not None else ""
    except (LookupError, ValueError):  # an unknown charset or a broken transfer encoding
        body = raw.decode("utf-8", "replace")
    subject = str(message.get("Subject", ""))
    reference = str(message.get("X-Drportal-Delivery", ""))
    return [record(Received.EMAIL, to, subject, body, reference) for to in recipients]


class SmtpHandler:
    """aiosmtpd handler: the ORM is synchronous, so each message is written from a worker thread."""

    async def handle_DATA(self, server, session, envelope) -> str:
        from asgiref.sync import sync_to_async

        def save() -> None:
            close_old_connections()
            try:
                record_mail(envelope.original_content or envelope.content, list(envelope.rcpt_tos))
            finally:
                close_old_connections()

        try:
            await sync_to_async(save, thread_sensitive=False)()
        except Exception as exc:  # noqa: BLE001 - the sender is told "try later", and the log says why
            logger.warning("outbox: could not keep a message for %s: %s", ", ".join(envelope.rcpt_tos), exc)
            return "451 Requested action aborted: the outbox could not store the message, try again later"
        return "250 Message accepted for delivery"


class HttpSinkHandler(BaseHTTPRequestHandler):
    server_version = "drportal-sink"

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            return self.answer(413, "The message is larger than the sink accepts (1 MB).")
        try:
            payload = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            return self.answer(400, "The body is not JSON.")
        if not isinstance(payload, dict):
            return self.answer(400, "The body must be a JSON object.")
        path = self.path.split("?", 1)[0]
        close_old_connections()
        try:
            if path == "/sms":
                if not payload.get("to") or not isinstance(payload.get("text"), str):
                    return self.answer(400, 'An SMS needs "to" and "text".')
                record(Received.SMS, str(payload["to"]), "", payload["text"], str(payload.get("reference", "")))
            else:
                text = str(payload.get("text", ""))
                record(Received.WEBHOOK, f"webhook {path}", text.split("\n", 1)[0], text)
        except Exception as exc:  # noqa: BLE001 - a 503 makes the sender retry; the log says why
            logger.warning("outbox: could not keep a message posted to %s: %s", path, exc)
            return self.answer(503, "The outbox could not store the message; try again later.")
        finally:
            close_old_connections()
        self.answer(200, "accepted")

    def answer(self, status: int, text: str) -> None:
        body = json.dumps({"ok": status == 200, "message": text}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:
        pass  # one line per message would bury the worker's log; the Outbox page is the record


def start_http(host: str, port: int) -> ThreadingHTTPServer:
    import threading

    server = ThreadingHTTPServer((host, port), HttpSinkHandler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="http-sink", daemon=True).start()
    return server


def start_smtp(host: str, port: int):
    from aiosmtpd.controller import Controller

    controller = Controller(SmtpHandler(), hostname=host, port=port, data_size_limit=MAX_BODY * 10)
    controller.start()
    return controller
