"""The development sinks keep what they receive, linked to the delivery it carries, and the Outbox page shows
it newest first to staff; bad input is refused in a sentence and stores nothing."""

from __future__ import annotations

import json
import smtplib
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest
import requests
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from drportal.cloud.devpeers import free_port
from outbox import sinks
from outbox.models import OutboxMessage

NOW = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sink_servers():
    smtp_port, http_port = free_port(), free_port()
    smtp, http = sinks.start_smtp("127.0.0.1", smtp_port), sinks.start_http("127.0.0.1", http_port)
    yield smtp_port, f"http://127.0.0.1:{http_port}"
    http.shutdown()
    smtp.stop()


@pytest.fixture
def delivery(world):
    from notifications import notices
    from notifications.choices import NoticeKind
    from notifications.models import Delivery
    from tests.notifications.factories import crash

    incident = crash(world, disaster_class="datacenter_offline", impacted={"regions": [world.dfw]})
    notice = notices.create_notice(world.users["sam"], incident, NoticeKind.OUTAGE_DECLARED)
    notices.queue_notice(world.users["sam"], notice.pk, NOW)
    return Delivery.objects.filter(notice=notice).order_by("pk").first()


@pytest.fixture
def world(db, users):
    from tests.notifications.factories import build_world

    return build_world(users)


def send_mail(port: int, to: str, subject: str, body: str, delivery_header: str | None) -> None:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "drportal@localhost", to, subject
    if delivery_header is not None:
        mail["X-Drportal-Delivery"] = delivery_header
    mail.set_content(body)
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.send_message(mail)


def test_a_mail_is_kept_with_the_delivery_it_carries(sink_servers, delivery):
    send_mail(sink_servers[0], delivery.address, "Dallas is offline", "We are restoring service.", str(delivery.pk))
    kept = OutboxMessage.objects.get()
    assert (kept.channel, kept.to, kept.subject, kept.delivery_id) == ("email", delivery.address,
                                                                      "Dallas is offline", delivery.pk)
    assert kept.body.strip() == "We are restoring service."


def test_a_forged_delivery_reference_links_nothing(sink_servers, delivery):
    send_mail(sink_servers[0], "x@example.test", "s", "b", "999999999")
    assert OutboxMessage.objects.get().delivery_id is None


def test_an_sms_is_kept_and_bad_posts_are_refused_in_a_sentence(sink_servers, delivery):
    base = sink_servers[1]
    ok = requests.post(f"{base}/sms", json={"to": "+15555550100", "text": "Dallas is offline",
                                            "reference": str(delivery.pk)}, timeout=10)
    assert ok.status_code == 200
    for body, status in ((b"not json", 400), (b"[1, 2]", 400), (json.dumps({"to": "+1"}).encode(), 400)):
        answer = requests.post(f"{base}/sms", data=body, timeout=10)
        assert answer.status_code == status
        assert answer.json()["message"].endswith(".")
    huge = requests.post(f"{base}/sms", data=b"x" * (sinks.MAX_BODY + 1), timeout=10)
    assert huge.status_code == 413
    assert list(OutboxMessage.objects.values_list("channel", "to", "delivery_id")) == [
        ("sms", "+15555550100", delivery.pk)]


def test_the_outbox_shows_staff_what_arrived_newest_first_in_six_queries(client_as, delivery):
    for minute, subject in ((1, "older"), (2, "newer")):
        with time_machine.travel(NOW.replace(minute=minute), tick=False):
            sinks.record("email", delivery.address, subject, "body", str(delivery.pk))
    client = client_as("sam")
    with CaptureQueriesContext(connection) as queries:
        page = client.get("/outbox/").content.decode()
    # session, user, profile (time zone), roles, the paginator's count, the page of messages with their
    # deliveries (one join): the same six however many messages there are
    assert len(queries) == 6, "\n".join(q["sql"][:150] for q in queries)
    assert page.index("newer") < page.index("older")
    assert f"delivery #{delivery.pk} of notice #{delivery.notice_id}" in page
    assert client.get(f"/outbox/?notice={delivery.notice_id + 1}").content.decode().count("<details>") == 0


def test_the_outbox_is_for_staff_only(client, client_as):
    assert client.get("/outbox/").status_code in (302, 403)
    assert client_as("nobody").get("/outbox/").status_code == 403


def test_a_channel_post_is_said_to_be_one_not_shown_as_a_bare_none(client_as, db):
    sinks.record("webhook", "webhook /webhook", "*Backups: db1 is breached*", "{}", "")

    page = client_as("sam").get("/outbox/").content.decode()

    assert "a channel post, not a delivery" in page
    assert '<span class="muted">none</span>' not in page
