"""Late bounces. Our relay accepting a message (the delivery is "sent") is not the end: the recipient's
server can still return it, as a delivery status notification (DSN, RFC 3464) to the envelope sender.

Each e-mail delivery leaves with an envelope sender of its own (VERP): with
NOTIFY_BOUNCE_ADDRESS="bounces@drportal.example", delivery 42 is sent from
bounces+42-<signature>@drportal.example, so a DSN names its delivery by the address it is sent to, whatever
the returning server did to the message. The signature (an HMAC of the id under SECRET_KEY) means a forged
bounce cannot mark other deliveries. Without NOTIFY_BOUNCE_ADDRESS mail leaves from DEFAULT_FROM_EMAIL as
before and bounces go wherever that address goes.

The bounce address's domain routes to `manage.py notify_bounces --listen HOST:PORT` (a small aiosmtpd
server: BounceHandler below), or an MTA pipes each message to `manage.py notify_bounces --recipient ADDR`.
A DSN whose action is "failed" marks its delivery "bounced" with the status and the remote server's words;
"delayed" and other reports, and auto-replies, are accepted and change nothing.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from email import message_from_bytes, policy

from django.conf import settings
from django.db import transaction
from django.utils.crypto import constant_time_compare, salted_hmac

from drportal.audit import log as audit
from notifications.choices import Channel, DeliveryState
from notifications.models import Delivery

logger = logging.getLogger(__name__)

_SALT = "notifications.bounces.verp"


def bounce_address() -> str:
    return (getattr(settings, "NOTIFY_BOUNCE_ADDRESS", "") or os.environ.get("NOTIFY_BOUNCE_ADDRESS", "")).strip()


def _signature(delivery_id: int) -> str:
    return salted_hmac(_SALT, str(delivery_id)).hexdigest()[:12]


def verp_address(delivery_id: int) -> str | None:
    """The envelope sender of this delivery's message; None when bounces are not collected."""
    base = bounce_address()
    if "@" not in base:
        return None
    local, _, domain = base.rpartition("@")
    return f"{local}+{delivery_id}-{_signature(delivery_id)}@{domain}"


def delivery_for(address: str) -> int | None:
    """The delivery a bounce address stands for; None for any other address or a wrong signature."""
    base = bounce_address()
    if "@" not in base or "@" not in address:
        return None
    base_local, _, base_domain = base.rpartition("@")
    local, _, domain = address.strip().strip("<>").rpartition("@")
    prefix = f"{base_local}+"
    if domain.lower() != base_domain.lower() or not local.startswith(prefix):
        return None
    number, _, signature = local[len(prefix):].partition("-")
    if not number.isdigit() or not constant_time_compare(signature, _signature(int(number))):
        return None
    return int(number)


@dataclass(frozen=True)
class Report:
    action: str  # failed, delayed, delivered, relayed, expanded (RFC 3464)
    status: str  # e.g. 5.1.1
    diagnostic: str
    recipient: str


def parse_dsn(raw: bytes) -> Report | None:
    """The first per-recipient report of a DSN; None when the message is not one (an auto-reply, say)."""
    message = message_from_bytes(raw, policy=policy.default)
    if message.get_content_type() != "multipart/report":
        return None
    for part in message.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        blocks = part.get_payload()
        # The first block is about the message (Reporting-MTA), the next ones about each recipient.
        for block in blocks if isinstance(blocks, list) else []:
            if block.get("Action"):
                return Report(
                    action=str(block.get("Action", "")).strip().lower(),
                    status=str(block.get("Status", "")).strip(),
                    diagnostic=" ".join(str(block.get("Diagnostic-Code", "")).split()),
                    recipient=str(block.get("Final-Recipient", "")).partition(";")[2].strip(),
                )
    return None


def record(delivery_id: int, raw: bytes, actor: str = "job:notify.bounce") -> str:
    """Act on a message that arrived at the delivery's bounce address. Returns what happened: "bounced",
    "ignored" (not a failure report) or "unchanged" (the delivery was not one that left)."""
    report = parse_dsn(raw)
    if report is None or report.action != "failed":
        logger.info("message to the bounce address of delivery %s ignored: %s", delivery_id,
                    "not a DSN" if report is None else f"action {report.action}")
        return "ignored"
    with transaction.atomic():
        delivery = Delivery.objects.select_for_update().filter(pk=delivery_id, channel=Channel.EMAIL).first()
        # In doubt included: a bounce proves the message left, and that it did not arrive.
        if delivery is None or delivery.state not in (DeliveryState.SENT, DeliveryState.IN_DOUBT):
            return "unchanged"
        before = {"state": delivery.state}
        delivery.state = DeliveryState.BOUNCED
        delivery.error = f"bounced by the recipient's server: {report.status} {report.diagnostic}".strip()[:2000]
        delivery.save(update_fields=["state", "error"])
        audit.record(actor, "delivery.bounced", delivery, before=before,
                     after={"state": DeliveryState.BOUNCED, "status": report.status,
                            "diagnostic": report.diagnostic})
    return "bounced"


class BounceHandler:
    """aiosmtpd handler for the bounce address's domain: refuses any recipient that is not a valid bounce
    address (so it is no open mail drop), records DSNs, accepts and drops everything else."""

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if delivery_for(address) is None:
            return "550 5.1.1 not a bounce address here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        from asgiref.sync import sync_to_async

        for address in envelope.rcpt_tos:
            delivery_id = delivery_for(address)
            if delivery_id is not None:
                await sync_to_async(_record_in_thread, thread_sensitive=True)(delivery_id, envelope.content)
        return "250 OK"


def _record_in_thread(delivery_id: int, raw: bytes) -> str:
    from django.db import connection

    try:
        return record(delivery_id, raw)
    finally:
        connection.close()  # bounces are rare: no connection is kept open between them
