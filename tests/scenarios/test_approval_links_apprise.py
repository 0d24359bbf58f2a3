"""Approve from the message, in chat and on-call tools: when a runbook waits for a manager, each of the
managers' Apprise channels (Slack, PagerDuty...) gets the signed approval link as something to open (Slack's
link, PagerDuty's event link), sent through the real Apprise library to the local HTTPS receiver that stands
in for the services. Opening it still asks for a sign-in with the role and one confirmation by POST."""

from __future__ import annotations

import re

import pytest

from drportal.audit.models import AuditEvent
from notifications import sender
from notifications.models import Delivery
from scenarios.models import ApprovalLink
from tests.notifications import conftest as mail
from tests.notifications.test_apprise_channels import (
    PAGERDUTY,
    SLACK,
    channel,
    services,  # noqa: F401 - the HTTPS receiver, by fixture name
)
from tests.scenarios.test_approval_links import approval_step  # noqa: F401 - the run waiting for approval

smtp, smtp_server = mail.smtp, mail.smtp_server  # the real aiosmtpd receiver, by fixture name
# Slack's own link syntax, which Apprise writes for a Markdown link: <url|label>.
SLACK_LINK = re.compile(r"<(https?://[^|>]+/scenarios/approve/[^/|>]+/)\|Open to approve>")


@pytest.fixture
def posted(db, services, smtp, request):  # noqa: F811
    """The managers' Slack and PagerDuty channels, and the approval message sent to them."""
    channel("managers-slack", SLACK, role="manager")
    channel("managers-pagerduty", PAGERDUTY, role="manager")
    channel("ops-slack", SLACK.replace("T1JJ3T3L2", "T9OPS0000"), role="ops")
    request.getfixturevalue("approval_step")
    sender.send_pending()
    return services


def path_of(url: str) -> str:
    return url[url.index("/scenarios/"):]


def slack_link(received) -> str:
    [post] = [p for p in received.to("hooks.slack.com") if "T1JJ3T3L2" in p.path]
    [attachment] = post.json()["attachments"]
    assert attachment["title"] == "Approval needed: Approve provisioning a replacement server"
    [url] = SLACK_LINK.findall(attachment["text"])
    return url


def test_slack_shows_the_approval_link_as_a_link(posted):
    url = slack_link(posted)
    link = ApprovalLink.objects.get(channel="managers-slack")
    assert link.user is None
    assert url.endswith(f"/scenarios/approve/{url.rstrip('/').rsplit('/', 1)[1]}/")
    assert Delivery.objects.get(address__startswith="apprise:", action_url=url).state == "sent"


def test_pagerduty_carries_the_approval_link_as_the_events_link(posted):
    [post] = posted.to("events.pagerduty.com")
    event = post.json()
    [link] = event["links"]
    assert "/scenarios/approve/" in link["href"]
    assert link["href"] != slack_link(posted)  # a link per channel: one channel's use never spends another's
    assert event["payload"]["summary"].startswith("Approval needed: Approve provisioning a replacement server")


def test_only_the_roles_channels_get_a_link(posted):
    ops_posts = [p for p in posted.to("hooks.slack.com") if "T9OPS0000" in p.path]
    assert ops_posts  # ops heard of the incident itself...
    assert not any(b"/scenarios/approve/" in p.body for p in ops_posts)  # ...but not of the managers' approval
    assert sorted(ApprovalLink.objects.filter(user=None).values_list("channel", flat=True)) == [
        "managers-pagerduty", "managers-slack"]


def test_a_manager_approves_from_the_slack_link_with_one_post(posted, approval_step, client_as):  # noqa: F811
    url = path_of(slack_link(posted))
    client = client_as("mona")
    page = client.get(url).content.decode()
    assert "Approve: Approve provisioning a replacement server" in page
    assert "any manager in managers-slack" in page
    approval_step.refresh_from_db()
    assert approval_step.state == "ready"  # opening it changed nothing
    client.post(url)
    approval_step.refresh_from_db()
    assert (approval_step.state, approval_step.actor.username) == ("succeeded", "mona")
    used = AuditEvent.objects.get(action="approval_link.used")
    assert used.actor.username == "mona"
    assert client.post(url).status_code == 410  # single use


def test_someone_in_the_channel_without_the_role_cannot_approve(posted, approval_step, client_as):  # noqa: F811
    response = client_as("alice").post(path_of(slack_link(posted)))
    assert response.status_code == 410
    assert "Only a manager can approve" in response.content.decode()
    approval_step.refresh_from_db()
    assert approval_step.state == "ready"


def test_an_anonymous_click_from_the_channel_is_sent_to_sign_in(posted, client):
    response = client.get(path_of(slack_link(posted)))
    assert response.status_code == 302
    assert "/login" in response.url or "/accounts/" in response.url
