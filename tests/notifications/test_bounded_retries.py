"""A channel that is not configured fails its deliveries at once; one that cannot be reached is tried again with
back-off up to a limit, then fails with the reason and a Retry button; the worker logs one line per failed
round, not a traceback."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
import time_machine

from notifications import deliveries, notices, sender
from notifications.choices import DeliveryState, NoticeKind
from notifications.models import Delivery
from tests.notifications.conftest import free_port
from tests.notifications.factories import crash

NOW = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)


@pytest.fixture
def queued(world, redis_conn):
    incident = crash(world, disaster_class="datacenter_offline", impacted={"regions": [world.dfw]},
                     public_summary="Dallas is offline")
    notice = notices.create_notice(world.users["sam"], incident, NoticeKind.OUTAGE_DECLARED)
    with time_machine.travel(NOW, tick=False):
        notices.queue_notice(world.users["sam"], notice.pk, NOW)
    return notice


@pytest.fixture
def mail_down(settings):
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()  # nothing listens there


def rows(notice) -> list[Delivery]:
    return list(Delivery.objects.filter(notice=notice).order_by("pk"))


def test_an_sms_without_a_gateway_fails_at_once_with_the_reason(queued, settings, monkeypatch, smtp, client_as):
    settings.SMS_GATEWAY_URL = ""
    monkeypatch.delenv("SMS_GATEWAY_URL", raising=False)
    first = rows(queued)[0]
    sms = Delivery.objects.create(notice=queued, customer=first.customer, channel="sms", address="+15555550100",
                                  subject="s", body_text="Dallas is offline", created_at=NOW)
    sender.send_pending(notice_id=queued.pk)
    sms.refresh_from_db()
    assert (sms.state, sms.attempts, sms.retry_at) == (DeliveryState.FAILED, 0, None)
    assert sms.error.startswith("No SMS gateway is configured")
    assert {d.state for d in rows(queued) if d.channel == "email"} == {DeliveryState.SENT}
    page = client_as("sam").get(f"/notifications/notices/{queued.pk}/").content.decode()
    assert "No SMS gateway is configured" in page
    assert f"/notifications/deliveries/{sms.pk}/retry/" in page


def test_an_unreachable_mail_server_is_tried_with_back_off_then_fails_with_the_reason(queued, mail_down):
    waits = []
    now = NOW
    for attempt in range(1, sender.max_attempts() + 1):
        with time_machine.travel(now, tick=False):
            sender.send_pending(notice_id=queued.pk)
            # Before its back-off has passed, a send run leaves the rows alone and counts nothing.
            sender.send_pending(notice_id=queued.pk)
        assert {d.attempts for d in rows(queued)} == {attempt}
        retry_at = rows(queued)[0].retry_at
        if retry_at is not None:
            waits.append((retry_at - now).total_seconds())
            now = retry_at
    assert waits == [10, 30, 60, 120]
    assert {d.state for d in rows(queued)} == {DeliveryState.FAILED}
    error = rows(queued)[0].error
    assert error.startswith("The mail server could not be reached")
    assert "Gave up after 5 attempts" in error


def test_a_person_retries_a_delivery_that_gave_up_and_it_is_sent(queued, mail_down, settings, smtp):
    Delivery.objects.filter(notice=queued).update(state=DeliveryState.FAILED, attempts=5, error="gave up")
    target = rows(queued)[0]
    deliveries.resolve(queued.created_by, target.pk, "retry")
    target.refresh_from_db()
    assert (target.state, target.attempts) == (DeliveryState.QUEUED, 0)
    sender.send_pending(notice_id=queued.pk)
    target.refresh_from_db()
    assert target.state == DeliveryState.SENT
    assert smtp.recipients() == [target.address]


def test_the_worker_logs_one_line_per_failed_round_and_schedules_the_next(queued, mail_down, caplog):
    import django_rq
    from rq import SimpleWorker
    from rq.registry import ScheduledJobRegistry

    from notifications import jobs

    queue = django_rq.get_queue("high", commit_mode="auto")
    job = queue.enqueue(jobs.send_notice, queued.pk)
    with caplog.at_level(logging.INFO):
        SimpleWorker([queue], connection=queue.connection).work(burst=True)
    job.refresh()
    assert job.get_status() == "finished"
    lines = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.name for r in lines] == ["notifications.sender"]
    assert "email unavailable" in lines[0].getMessage()
    assert "Traceback" not in caplog.text
    assert len(ScheduledJobRegistry(queue=queue)) == 1
