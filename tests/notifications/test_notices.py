from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine

from drportal.audit.models import AuditEvent
from drportal.inventory.models import CustomerContact
from notifications import notices
from notifications.choices import Channel, DeliveryState, NoticeKind
from notifications.models import Delivery, NoticeRecipient
from tests.notifications.factories import crash

NOW = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)


@pytest.fixture
def notice(world):
    with time_machine.travel(NOW, tick=False):
        incident = crash(world, world.db1, world.db2, public_summary="Some customer databases are unavailable")
        return notices.create_notice(world.users["sam"], incident, NoticeKind.OUTAGE_DECLARED,
                                     timeline="back by 17:00 UTC")


def test_a_new_notice_starts_from_the_default_template_with_the_computed_audience(notice):
    assert notice.subject.startswith("[{{ incident.reference }}]")
    assert sorted(r.customer.slug for r in notice.recipients.all()) == ["acme", "globex"]
    assert AuditEvent.objects.filter(action="notice.created").count() == 1


def test_support_can_remove_and_add_customers_and_a_recompute_keeps_the_removal(world, notice):
    sam = world.users["sam"]
    notices.set_recipient(sam, notice, world.customers["globex"], included=False)
    notices.set_recipient(sam, notice, world.customers["initech"], included=True)
    assert notices.recompute_audience(sam, notice) == 0
    kept = NoticeRecipient.objects.filter(notice=notice, excluded=False)
    assert sorted(r.customer.slug for r in kept) == ["acme", "initech"]
    assert AuditEvent.objects.filter(action="notice.recipient_removed").count() == 1


def test_a_recompute_adds_the_whole_audience_in_one_statement_plus_its_audit(world, notice,
                                                                                django_assert_num_queries):
    NoticeRecipient.objects.filter(notice=notice).delete()
    # The INSERT ... SELECT of the scope's customers, and the audit event: whatever the audience's size.
    with django_assert_num_queries(2):
        assert notices.recompute_audience(world.users["sam"], notice) == 2
    assert sorted(r.customer.slug for r in notice.recipients.all()) == ["acme", "globex"]
    assert AuditEvent.objects.filter(action="notice.audience_computed").count() == 2


def test_a_stored_scope_naming_a_customer_that_no_longer_exists_adds_only_the_real_ones(world, notice):
    from drportal.incidents.models import Incident

    incident = notice.incident
    scope = dict(incident.scope, customers=[*incident.scope["customers"], 987654321])
    Incident.objects.filter(pk=incident.pk).update(scope=scope)
    NoticeRecipient.objects.filter(notice=notice).delete()
    notice.refresh_from_db()
    assert notices.recompute_audience(world.users["sam"], notice) == 2
    assert not NoticeRecipient.objects.filter(customer_id=987654321).exists()


def test_the_preview_is_personal_and_never_shows_the_internal_title(world, notice):
    rendered = notices.preview(notice, world.customers["acme"], NOW)
    assert rendered.subject == f"[INC-{notice.incident.pk}] Service disruption affecting Acme"
    assert "Dear Acme" in rendered.text
    assert "back by 17:00 UTC" in rendered.text
    assert "db1" not in rendered.text + rendered.html
    assert "<p>Dear Acme," in rendered.html


def test_queuing_writes_one_delivery_per_address_and_channel_and_never_twice(world, notice):
    notice.channels = [Channel.EMAIL, Channel.SMS]
    notice.save()
    first = notices.queue_notice(world.users["sam"], notice.pk, NOW)
    assert first.queued == 4
    again = notices.queue_notice(world.users["sam"], notice.pk, NOW)
    assert (again.queued, again.already) == (0, 4)
    rows = Delivery.objects.filter(notice=notice).order_by("channel", "address")
    assert [(d.channel, d.address, d.state) for d in rows] == [
        ("email", "ops@acme.example", "queued"), ("email", "ops@globex.example", "queued"),
        ("sms", "+12105550100", "queued"), ("sms", "+12105550101", "queued"),
    ]
    assert "Dear Acme" in rows[0].body_text
    assert "<p>Dear Acme" in rows[0].body_html


def test_it_reports_customers_without_contacts_and_records_invalid_addresses_as_failed(world, notice):
    CustomerContact.objects.filter(customer=world.customers["globex"]).delete()
    CustomerContact.objects.filter(customer=world.customers["acme"], purpose="outage").update(email="not-an-address")
    result = notices.queue_notice(world.users["sam"], notice.pk, NOW)
    assert result.without_contacts == ["Globex"]
    assert result.invalid == ["Acme: invalid e-mail address 'not-an-address'"]
    failed = Delivery.objects.get(notice=notice)
    assert failed.state == DeliveryState.FAILED
    assert "invalid e-mail address" in failed.error
    event = AuditEvent.objects.get(action="notice.queued")
    assert event.after["customers_without_contacts"] == ["Globex"]


def test_queuing_enqueues_the_sending_job_after_commit(world, notice, redis_conn, django_capture_on_commit_callbacks):
    import django_rq

    with django_capture_on_commit_callbacks(execute=True):
        notices.queue_notice(world.users["sam"], notice.pk, NOW)
    jobs = django_rq.get_queue("high").jobs
    assert [(j.func_name, j.args) for j in jobs] == [("notifications.jobs.send_notice", (notice.pk,))]
