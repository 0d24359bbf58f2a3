"""Apprise channels: staff alerts reach Slack, Microsoft Teams (workflows) and PagerDuty Events v2 in the
shapes those services document, through the real Apprise library and the real sender, recorded by a local
HTTPS receiver that stands in for the services (tests/notifications/https_receiver.py)."""

from __future__ import annotations

import pytest

from drportal.audit.models import AuditEvent
from notifications import api, deliveries, sender
from notifications.models import AppriseChannel, Delivery
from tests.notifications import https_receiver

SLACK = "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7/?verify=no"
TEAMS = "workflows://prod-161.westeurope.logic.azure.com:443/ab12cd34ef56/SIGsecretSIG/?verify=no"
PAGERDUTY = "pagerduty://pdintegrationkey0001@pdapikey0002/?verify=no"
SECRETS = ("TIiajkdnlazkcOXrIdevi7", "SIGsecretSIG", "pdintegrationkey0001", "pdapikey0002")


@pytest.fixture
def services(tmp_path, monkeypatch):
    """The receiver, and Apprise's HTTPS requests sent to it (as a proxy would carry them)."""
    server, recorder = https_receiver.start(tmp_path)
    proxy = f"http://127.0.0.1:{server.server_address[1]}"
    for name in ("HTTPS_PROXY", "https_proxy"):
        monkeypatch.setenv(name, proxy)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    yield recorder
    server.shutdown()


def channel(name: str, url: str, role: str = "ops") -> AppriseChannel:
    row = AppriseChannel(name=name, role=role)
    row.set_url(url)
    row.save()
    return row


def alert(key: str = "late:1") -> None:
    api.notify_staff(role="ops", subject="Backups: acme-db is late", body="Daily dumps missed 04:00.",
                     link="https://drportal.example/backups/", dedupe_key=key)


def test_a_slack_channel_gets_an_incoming_webhook_post(world, smtp, services, redis_conn):
    channel("ops-slack", SLACK)
    alert()
    sender.send_pending()
    [post] = services.to("hooks.slack.com")
    assert post.path == "/services/T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7"
    assert post.headers["Content-Type"].startswith("application/json")
    body = post.json()
    # Slack's incoming-webhook message: attachments (title, text) and/or blocks, posted as JSON.
    [attachment] = body["attachments"]
    assert attachment["title"] == "Backups: acme-db is late"
    assert "Daily dumps missed 04:00." in attachment["text"]
    assert Delivery.objects.get(channel="apprise").state == "sent"


def test_a_teams_workflow_gets_an_adaptive_card(world, smtp, services, redis_conn):
    channel("ops-teams", TEAMS)
    alert()
    sender.send_pending()
    [post] = services.to("prod-161.westeurope.logic.azure.com")
    assert post.path.startswith("/workflows/ab12cd34ef56/triggers/manual/paths/invoke?")
    assert "sig=SIGsecretSIG" in post.path
    body = post.json()
    # Teams workflows (Power Automate) "post to a channel when a webhook request is received": a message
    # whose attachment is an Adaptive Card.
    assert body["type"] == "message"
    [card] = body["attachments"]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    text = str(card["content"]["body"])
    assert "Backups: acme-db is late" in text
    assert "Daily dumps missed 04:00." in text


def test_pagerduty_gets_an_events_v2_trigger(world, smtp, services, redis_conn):
    channel("ops-pagerduty", PAGERDUTY)
    alert()
    sender.send_pending()
    [post] = services.to("events.pagerduty.com")
    assert post.path == "/v2/enqueue"
    event = post.json()
    assert event["routing_key"] == "pdintegrationkey0001"
    assert event["event_action"] == "trigger"
    # Apprise puts the title before the body in the one summary line PagerDuty shows.
    assert event["payload"]["summary"].startswith("Backups: acme-db is late")
    assert "Daily dumps missed 04:00." in event["payload"]["summary"]
    assert event["payload"]["severity"] in ("critical", "error", "warning", "info")
    assert event["payload"]["source"]
    # One key per delivery: resending a delivery that was in doubt cannot open a second incident.
    assert event["dedup_key"] == f"drportal-delivery-{Delivery.objects.get(channel='apprise').pk}"


def test_one_alert_posts_once_to_each_channel_of_its_role_only(world, smtp, services, redis_conn):
    channel("ops-slack", SLACK)
    channel("support-pagerduty", PAGERDUTY, role="support")
    alert()
    alert()  # the same dedupe key: the sweep or a retried step calling twice
    sender.send_pending()
    sender.send_pending()
    assert len(services.to("hooks.slack.com")) == 1
    assert services.to("events.pagerduty.com") == []


def test_a_refused_post_fails_with_a_reason_and_a_retry_delivers_it(world, smtp, services, redis_conn, ada):
    channel("ops-slack", SLACK)
    services.failures["hooks.slack.com"] = [500]
    alert()
    sender.send_pending()
    failed = Delivery.objects.get(channel="apprise")
    assert failed.state == "failed"
    assert "500" in failed.error
    assert not any(s in failed.error for s in SECRETS)
    deliveries.resolve(ada, failed.pk, "retry")
    sender.send_pending()
    failed.refresh_from_db()
    assert failed.state == "sent"
    assert len(services.to("hooks.slack.com")) == 2
    assert AuditEvent.objects.filter(action="delivery.retry", object_id=str(failed.pk)).exists()


def test_an_unreachable_service_is_a_failure_not_a_success(world, smtp, monkeypatch, redis_conn):
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")  # nothing listens on the discard port
    channel("ops-slack", SLACK)
    alert()
    sender.send_pending()
    assert Delivery.objects.get(channel="apprise").state == "failed"


def test_the_url_is_stored_encrypted_and_never_copied_into_deliveries_or_the_audit_log(world, smtp, services,
                                                                                        redis_conn):
    row = channel("ops-pagerduty", PAGERDUTY)
    alert()
    sender.send_pending()
    assert not any(s in row.url_encrypted for s in SECRETS)
    assert row.url() == PAGERDUTY
    assert Delivery.objects.get(channel="apprise").address == f"apprise:{row.pk}"
    dump = " ".join(f"{e.before} {e.after} {e.object_repr} {e.note}" for e in AuditEvent.objects.all())
    assert not any(s in dump for s in SECRETS)
