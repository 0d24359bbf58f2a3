"""The admin page of Apprise channels: the URL is write-only, and "Send test" goes through the real sender."""

from __future__ import annotations

from django.urls import reverse

from notifications import sender
from notifications.models import AppriseChannel
from tests.notifications.test_apprise_channels import SLACK, services  # noqa: F401 (the receiver fixture)

PAGE = reverse("notifications:apprise-channels")


def test_an_admin_adds_a_channel_and_never_sees_its_url_again(world, client_as):
    client = client_as("ada")
    response = client.post(PAGE, {"name": "ops-slack", "url": SLACK, "role": "ops", "active": "on"}, follow=True)
    assert response.status_code == 200
    row = AppriseChannel.objects.get(name="ops-slack")
    assert row.url() == SLACK
    assert row.scheme == "slack"
    for page in (response, client.get(reverse("notifications:apprise-channel", args=[row.pk]))):
        assert b"TIiajkdnlazkcOXrIdevi7" not in page.content
        assert b"slack://" in page.content


def test_saving_without_a_url_keeps_the_stored_one(world, client_as):
    client = client_as("ada")
    client.post(PAGE, {"name": "ops-slack", "url": SLACK, "role": "ops", "active": "on"})
    row = AppriseChannel.objects.get()
    client.post(reverse("notifications:apprise-channel", args=[row.pk]), {"name": "ops-chat", "url": "", "role": ""})
    row.refresh_from_db()
    assert (row.name, row.role, row.active, row.url()) == ("ops-chat", "", False, SLACK)


def test_a_url_apprise_does_not_know_is_refused_with_a_sentence(world, client_as):
    response = client_as("ada").post(PAGE, {"name": "x", "url": "nosuchservice://abc", "role": ""})
    assert b"Apprise does not recognise this URL" in response.content
    assert not AppriseChannel.objects.exists()


def test_send_test_posts_to_the_service_and_shows_the_outcome(world, client_as, smtp, services,  # noqa: F811
                                                             redis_conn):
    client = client_as("ada")
    client.post(PAGE, {"name": "ops-slack", "url": SLACK, "role": "ops", "active": "on"})
    row = AppriseChannel.objects.get()
    client.post(reverse("notifications:apprise-channel-test", args=[row.pk]))
    sender.send_pending()
    [post] = services.to("hooks.slack.com")
    assert post.json()["attachments"][0]["title"] == "drportal test message"
    assert b"<span class=\"ok\">Sent</span>" in client.get(PAGE).content
