from __future__ import annotations

from notifications import api, sender, staff
from notifications.models import Delivery, StaffPage, WebhookTarget
from tests.notifications.factories import crash


def test_notify_staff_emails_the_role_and_posts_to_its_webhook_once_per_dedupe_key(world, smtp, http_receiver,
                                                                                    redis_conn):
    WebhookTarget.objects.create(name="ops-channel", url=http_receiver.url("/ops"), role="ops")
    WebhookTarget.objects.create(name="support-channel", url=http_receiver.url("/support"), role="support")
    for _ in range(2):
        api.notify_staff(role="ops", subject="Backups late", body="3 policies late", link="/backups/",
                         dedupe_key="late:1")
    assert StaffPage.objects.count() == 1
    sender.send_pending()
    assert smtp.recipients() == ["alice@example.test"]
    assert http_receiver.bodies("/ops") == [{"text": "*Backups late*\n3 policies late\n\n/backups/"}]
    assert http_receiver.bodies("/support") == []


def test_declaring_an_incident_pages_key_personnel_by_email_and_sms(world, smtp, http_receiver, settings,
                                                                    redis_conn):
    settings.SMS_GATEWAY_URL = http_receiver.url("/sms")
    incident = crash(world, world.db1)
    staff.on_incident_declared(incident.pk)
    staff.on_incident_declared(incident.pk)  # the hook called twice pages once
    sender.send_pending()
    assert sorted(smtp.recipients()) == ["alice@example.test", "kim@jivo.example", "lee@jivo.example"]
    assert sorted(b["to"] for b in http_receiver.bodies("/sms")) == ["+12105550001", "+12105550002"]
    assert Delivery.objects.filter(state="sent").count() == 5
    # Not an office incident: no check-in links.
    assert not StaffPage.objects.filter(dedupe_key__endswith=":checkin").exists()


def test_a_webhook_url_never_reaches_the_audit_log(world, http_receiver, redis_conn):
    from drportal.audit.models import AuditEvent

    secret = http_receiver.url("/services/T000/B000/secret-token")
    WebhookTarget.objects.create(name="ops-channel", url=secret.replace("/services", "/bad/services"), role="ops")
    api.notify_staff(role="ops", subject="x", body="y", dedupe_key="k")
    sender.send_pending()
    assert Delivery.objects.get(channel="webhook").state == "failed"
    dump = " ".join(str(e.after) + e.object_repr for e in AuditEvent.objects.all())
    assert "secret-token" not in dump
    assert "webhook at 127.0.0.1" in dump
