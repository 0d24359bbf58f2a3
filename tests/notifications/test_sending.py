from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from drportal.audit.models import AuditEvent
from notifications import deliveries, notices, sender
from notifications.choices import DeliveryState, NoticeKind
from notifications.models import Delivery
from tests.notifications.factories import crash

NOW = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)


@pytest.fixture
def queued(world, redis_conn):
    incident = crash(world, disaster_class="datacenter_offline", impacted={"regions": [world.dfw]},
                     public_summary="Dallas is offline")
    notice = notices.create_notice(world.users["sam"], incident, NoticeKind.OUTAGE_DECLARED)
    notices.queue_notice(world.users["sam"], notice.pk, NOW)
    return notice


def states(notice) -> dict[str, str]:
    return dict(Delivery.objects.filter(notice=notice).values_list("address", "state"))


def test_it_sends_each_queued_delivery_once_as_html_and_text(queued, smtp):
    report = sender.send_pending(notice_id=queued.pk)
    assert report.counts["sent"] == 3
    assert sorted(smtp.recipients()) == ["it@hooli.example", "ops@acme.example", "ops@globex.example"]
    _, msg = next(m for m in smtp.messages if m[0] == ["ops@acme.example"])
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.get_payload()] == ["text/plain", "text/html"]
    assert msg["Message-ID"].startswith("<delivery-")
    assert set(states(queued).values()) == {"sent"}


def test_a_second_run_or_a_duplicated_job_sends_nothing_again(queued, smtp):
    sender.send_pending(notice_id=queued.pk)
    report = sender.send_pending(notice_id=queued.pk)
    assert sum(report.counts.values()) == 0
    assert len(smtp.recipients()) == 3


def test_a_refused_recipient_and_a_bounced_message_fail_with_the_servers_words(world, queued, smtp):
    Delivery.objects.filter(address="ops@acme.example").update(address="refuse@acme.example")
    Delivery.objects.filter(address="ops@globex.example").update(address="bounce@globex.example")
    report = sender.send_pending(notice_id=queued.pk)
    assert (report.counts["failed"], report.counts["sent"]) == (2, 1)
    refused = Delivery.objects.get(address="refuse@acme.example")
    assert refused.state == "failed"
    assert "550" in refused.error
    assert "no such user" in refused.error
    bounced = Delivery.objects.get(address="bounce@globex.example")
    assert bounced.state == "failed"
    assert "554" in bounced.error
    assert smtp.recipients() == ["it@hooli.example"]
    assert AuditEvent.objects.filter(action="delivery.failed").count() == 2


def test_a_failed_delivery_can_be_retried_by_a_person(world, queued, smtp):
    Delivery.objects.filter(address="ops@acme.example").update(address="refuse@acme.example")
    sender.send_pending(notice_id=queued.pk)
    failed = Delivery.objects.get(address="refuse@acme.example")
    Delivery.objects.filter(pk=failed.pk).update(address="ops@acme.example")
    deliveries.resolve(world.users["sam"], failed.pk, "retry")
    sender.send_pending(notice_id=queued.pk)
    assert sorted(smtp.recipients()).count("ops@acme.example") == 1
    assert Delivery.objects.get(pk=failed.pk).state == "sent"


def test_a_row_left_sending_by_a_dead_worker_becomes_in_doubt_and_is_not_resent(world, queued, smtp):
    orphan = Delivery.objects.get(address="ops@acme.example")
    # What a worker killed between the server's 250 and our update leaves behind: a claim under a lock
    # nobody holds any more.
    Delivery.objects.filter(pk=orphan.pk).update(state="sending", claim_key=123456789, claimed_at=NOW)
    report = sender.send_pending(notice_id=queued.pk)
    assert report.orphaned == 1
    orphan.refresh_from_db()
    assert orphan.state == "in_doubt"
    assert "may have been delivered" in orphan.error
    assert "ops@acme.example" not in smtp.recipients()
    assert AuditEvent.objects.filter(action="delivery.in_doubt").count() == 1


def test_a_row_claimed_by_a_live_run_is_left_alone(world, queued, smtp):
    import psycopg
    from django.db import connection

    params = connection.get_connection_params()
    other = psycopg.connect(**{k: v for k, v in params.items() if k not in ("cursor_factory", "context")},
                            autocommit=True)
    try:
        other.execute("SELECT pg_advisory_lock(424242)")
        Delivery.objects.filter(address="ops@acme.example").update(state="sending", claim_key=424242)
        assert sender.sweep_orphans() == 0
        assert Delivery.objects.get(address="ops@acme.example").state == "sending"
    finally:
        other.close()
    # PostgreSQL releases the lock when it notices the session is gone: a moment after close().
    deadline = time.monotonic() + 5
    while not sender.sweep_orphans() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert Delivery.objects.get(address="ops@acme.example").state == "in_doubt"


def test_a_person_resolves_an_in_doubt_delivery_by_resending_or_marking_it_delivered(world, queued, smtp):
    a, b = Delivery.objects.filter(notice=queued).order_by("pk")[:2]
    Delivery.objects.filter(pk__in=[a.pk, b.pk]).update(state="in_doubt")
    sam = world.users["sam"]
    deliveries.resolve(sam, a.pk, "resend")
    deliveries.resolve(sam, b.pk, "mark_delivered")
    sender.send_pending(notice_id=queued.pk)
    assert a.address in smtp.recipients()
    assert b.address not in smtp.recipients()
    assert Delivery.objects.get(pk=b.pk).state == "sent"
    with pytest.raises(Exception, match="cannot resend a delivery that is Sent"):
        deliveries.resolve(sam, b.pk, "resend")


def test_an_unreachable_smtp_server_leaves_everything_queued(queued, settings, smtp):
    from tests.notifications.conftest import free_port

    settings.EMAIL_PORT = free_port()
    report = sender.send_pending(notice_id=queued.pk)
    assert "cannot connect" in report.stopped
    assert set(states(queued).values()) == {DeliveryState.QUEUED}


def test_the_send_job_runs_on_a_real_rq_worker(queued, smtp, redis_conn):
    import django_rq
    from rq import SimpleWorker

    from notifications import jobs

    queue = django_rq.get_queue("high", commit_mode="auto")
    queue.enqueue(jobs.send_notice, queued.pk)
    queue.enqueue(jobs.send_notice, queued.pk)  # a duplicate: must send nothing more
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    assert len(smtp.recipients()) == 3



def test_of_a_dead_runs_chunk_only_the_row_in_flight_is_in_doubt_the_untried_rest_is_sent(world, queued, smtp):
    from django.utils import timezone

    rows = list(Delivery.objects.filter(notice=queued).order_by("pk"))
    Delivery.objects.filter(notice=queued).update(state="sending", claim_key=777, claimed_at=timezone.now())
    sender.send_pending(notice_id=queued.pk)
    assert [Delivery.objects.get(pk=r.pk).state for r in rows] == ["in_doubt", "sent", "sent"]
    assert sorted(smtp.recipients()) == sorted(r.address for r in rows[1:])


def test_if_postgres_restarted_since_the_claim_every_orphan_is_in_doubt(world, queued, smtp):
    # Outcomes are committed asynchronously: after a PostgreSQL restart the latest may be missing, so the
    # sweep cannot tell which orphan was in flight. A claim older than the server's start time stands for that.
    old = datetime(2000, 1, 1, tzinfo=UTC)
    Delivery.objects.filter(notice=queued).update(state="sending", claim_key=778, claimed_at=old)
    assert sender.sweep_orphans() == 3
    assert set(states(queued).values()) == {"in_doubt"}
    assert smtp.recipients() == []


def test_the_scheduled_resume_enqueues_a_send_for_notices_left_waiting(queued, smtp, redis_conn):
    from datetime import timedelta

    import django_rq
    from rq import SimpleWorker

    from notifications import jobs

    later = Delivery.objects.filter(notice=queued).first().created_at + timedelta(minutes=2)
    assert jobs.resume_pending(later - timedelta(minutes=1, seconds=30)) == 0  # too fresh: its job may be running
    queue = django_rq.get_queue("high", commit_mode="auto")
    queue.empty()
    assert jobs.resume_pending(later) == 1
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    assert len(smtp.recipients()) == 3
    assert jobs.resume_pending(later) == 0


def test_without_pipelining_it_sends_one_command_at_a_time_with_the_same_outcomes(world, queued, smtp):
    smtp.pipelining = False
    Delivery.objects.filter(address="ops@acme.example").update(address="refuse@acme.example")
    Delivery.objects.filter(address="ops@globex.example").update(address="bounce@globex.example")
    report = sender.send_pending(notice_id=queued.pk)
    assert (report.counts["failed"], report.counts["sent"]) == (2, 1)
    assert "550" in Delivery.objects.get(address="refuse@acme.example").error
    assert "554" in Delivery.objects.get(address="bounce@globex.example").error
    assert smtp.recipients() == ["it@hooli.example"]


def test_pipelined_envelopes_of_refused_recipients_never_shift_the_replies_of_the_next_messages(world, smtp,
                                                                                                 redis_conn):
    from drportal.inventory.choices import ContactPurpose
    from drportal.inventory.models import CustomerContact

    # Refused, accepted, refused, accepted, ...: each message's envelope is written before the last outcome is
    # recorded, so a reply read for the wrong message would send one to a refused address or fail a good one.
    for i in range(6):
        CustomerContact.objects.create(customer=world.customers["acme"], purpose=ContactPurpose.OUTAGE,
                                       email=f"{'refuse' if i % 2 else 'ok'}{i}@acme.example")
    incident = crash(world, disaster_class="datacenter_offline", impacted={"regions": [world.dfw]})
    notice = notices.create_notice(world.users["sam"], incident, NoticeKind.OUTAGE_DECLARED)
    notices.queue_notice(world.users["sam"], notice.pk, NOW)
    sender.send_pending(notice_id=notice.pk)
    got = states(notice)
    assert {a for a, s in got.items() if s == "failed"} == {"refuse1@acme.example", "refuse3@acme.example",
                                                             "refuse5@acme.example"}
    assert sorted(smtp.recipients()) == sorted(a for a, s in got.items() if s == "sent")
    assert len(smtp.recipients()) == 6  # ok0, ok2, ok4, ops@acme, ops@globex, it@hooli
