"""A backup turning late reaches the ops Slack channel: the sweep's own alert, through notify_staff, the sender
and Apprise, to the local HTTPS receiver standing in for hooks.slack.com."""

from __future__ import annotations

from datetime import timedelta

from backups import sweep
from notifications import sender
from tests.backups.conftest import at, record, world  # noqa: F401 (the backups world fixture)
from tests.notifications.test_apprise_channels import SLACK, channel, services  # noqa: F401 (receiver fixture)


def test_a_late_backup_alerts_the_ops_slack_channel_once(world, alice, smtp, services, redis_conn):  # noqa: F811
    channel("ops-slack", SLACK)
    record(world.daily, world.acme_db, at("2026-11-21 10:00"), zone=world.dfw1)
    sweep.sweep(at("2026-11-21 15:00"))
    later = at("2026-11-22 12:01")  # past the 04:00 Chicago run and its two hours of grace
    sweep.sweep(later)
    sweep.sweep(later + timedelta(minutes=1))
    sender.send_pending()
    [post] = services.to("hooks.slack.com")
    [attachment] = post.json()["attachments"]
    assert attachment["title"].startswith("Backups: acme-db is late")
    assert "freshness: ok → late" in attachment["text"]
    assert f"/backups/assets/{world.acme_db.pk}/" in attachment["text"]
