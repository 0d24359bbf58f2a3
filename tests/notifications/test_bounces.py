"""Late bounces: each message leaves with its own signed bounce address (VERP); a delivery status notification
sent there, over SMTP to the bounce server, marks that delivery bounced with the remote server's words."""

from __future__ import annotations

import smtplib

import pytest

from drportal.audit.models import AuditEvent
from notifications import bounces, notices, sender
from notifications.choices import DeliveryState, NoticeKind
from notifications.models import Delivery
from tests.notifications.factories import crash

# The bounce server records from its own thread and connection: it sees committed rows only.
pytestmark = pytest.mark.django_db(transaction=True)

DSN = """\
From: MAILER-DAEMON@mx.acme.example
To: {to}
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b1"

--b1
Content-Type: text/plain

I'm sorry to have to inform you that your message could not be delivered.

--b1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.acme.example

Final-Recipient: rfc822; ops@acme.example
Action: {action}
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <ops@acme.example>: Recipient address rejected:
 User unknown in virtual mailbox table

--b1
Content-Type: text/rfc822-headers

Subject: Service disruption

--b1--
"""

AUTO_REPLY = """\
From: ops@acme.example
To: {to}
Subject: Out of office

I am away until Monday.
"""


@pytest.fixture
def sent(world, smtp, bounce_server, redis_conn):
    incident = crash(world, disaster_class="datacenter_offline", impacted={"regions": [world.dfw]},
                     public_summary="Dallas is offline")
    notice = notices.create_notice(world.users["sam"], incident, NoticeKind.OUTAGE_DECLARED)
    notices.queue_notice(world.users["sam"], notice.pk)
    sender.send_pending(notice_id=notice.pk)
    return Delivery.objects.get(notice=notice, address="ops@acme.example")


def post(port: int, to: str, text: str) -> None:
    with smtplib.SMTP("127.0.0.1", port) as conn:
        conn.sendmail("", [to], text.format(to=to).encode())


def test_each_message_leaves_with_its_own_bounce_address(sent, smtp):
    assert sent.state == DeliveryState.SENT
    assert smtp.senders["ops@acme.example"] == bounces.verp_address(sent.pk)
    assert smtp.senders["ops@acme.example"].startswith(f"bounces+{sent.pk}-")
    assert len(set(smtp.senders.values())) == len(smtp.senders)  # one per delivery


def test_a_dsn_to_the_bounce_address_marks_the_delivery_bounced(sent, smtp, bounce_server):
    post(bounce_server, smtp.senders["ops@acme.example"], DSN.replace("{action}", "failed"))
    sent.refresh_from_db()
    assert sent.state == DeliveryState.BOUNCED
    assert "5.1.1" in sent.error
    assert "User unknown in virtual mailbox table" in sent.error
    assert AuditEvent.objects.filter(action="delivery.bounced", object_id=str(sent.pk)).count() == 1
    others = Delivery.objects.filter(notice=sent.notice).exclude(pk=sent.pk)
    assert set(others.values_list("state", flat=True)) == {DeliveryState.SENT}


def test_a_delay_report_or_an_auto_reply_changes_nothing(sent, smtp, bounce_server):
    post(bounce_server, smtp.senders["ops@acme.example"], DSN.replace("{action}", "delayed"))
    post(bounce_server, smtp.senders["ops@acme.example"], AUTO_REPLY)
    sent.refresh_from_db()
    assert (sent.state, sent.error) == (DeliveryState.SENT, "")


def test_a_forged_bounce_address_is_refused_and_marks_nothing(sent, bounce_server):
    forged = f"bounces+{sent.pk}-000000000000@drportal.example"
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        post(bounce_server, forged, DSN.replace("{action}", "failed"))
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        post(bounce_server, "postmaster@drportal.example", DSN.replace("{action}", "failed"))
    sent.refresh_from_db()
    assert sent.state == DeliveryState.SENT


def test_an_mta_can_pipe_a_bounce_to_the_command(sent, smtp, monkeypatch, capsys):
    import io
    import sys

    from django.core.management import call_command

    to = smtp.senders["ops@acme.example"]
    stdin = io.TextIOWrapper(io.BytesIO(DSN.replace("{action}", "failed").format(to=to).encode()))
    monkeypatch.setattr(sys, "stdin", stdin)
    call_command("notify_bounces", recipient=to)
    assert f"delivery {sent.pk}: bounced" in capsys.readouterr().out
    sent.refresh_from_db()
    assert sent.state == DeliveryState.BOUNCED
