"""Status page subscribers, end to end: the public forms, the Delivery rows, the send job on a real RQ queue and
a real SMTP server (aiosmtpd). Double opt-in, an unsubscribe link in every message, public incident updates and
scheduled maintenance."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import django_rq
import pytest
import time_machine
from rq import SimpleWorker

from drportal.audit.models import AuditEvent
from notifications.models import Delivery, StatusSubscriber
from tests.notifications.factories import crash

NOW = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)
PAT = "pat@customer.example"


def drain() -> None:
    SimpleWorker([django_rq.get_queue("high")], connection=django_rq.get_connection("high")).work(burst=True)


def mail_to(smtp, address: str) -> list:
    return [m for rcpts, m in smtp.messages if rcpts == [address]]


def text_of(message) -> str:
    return message.get_body(("plain",)).get_content()


def link(message, kind: str) -> str:
    url = re.search(rf"https?://\S+(/status/{kind}/\S+/)", text_of(message)).group(1)
    return url


@pytest.fixture
def act(django_capture_on_commit_callbacks, redis_conn):
    """Do something as a user would, then let the worker send what it queued."""

    def run(fn, *args, **kwargs):
        with time_machine.travel(NOW, tick=False):
            with django_capture_on_commit_callbacks(execute=True):
                response = fn(*args, **kwargs)
            drain()
        return response

    return run


@pytest.fixture
def subscribed(client, smtp, act) -> str:
    """PAT signed up and confirmed from the link in the confirmation message; returns that message's text."""
    act(client.post, "/status/subscribe/", {"email": "Pat@Customer.example "})
    [request] = mail_to(smtp, PAT)
    assert request["Subject"] == "Confirm your status updates"
    confirm = link(request, "subscribe/confirm")
    assert "Confirm" in act(client.get, confirm).content.decode()
    assert not StatusSubscriber.objects.get(email=PAT).is_active  # opening the link confirmed nothing
    assert "Confirmed" in act(client.post, confirm).content.decode()
    smtp.clear()
    return PAT


def post_update(client_as, incident, body: str, act):
    return act(client_as("alice").post, f"/notifications/incidents/{incident.pk}/status-update/", {"body": body})


def test_a_subscriber_receives_an_incident_update_and_a_maintenance_notice(world, subscribed, client_as, client,
                                                                          smtp, act):
    incident = crash(world, world.app1, public_summary="Jivosoft Cloud is slow")
    post_update(client_as, incident, "We are moving the service to Kansas City.", act)
    [update] = mail_to(smtp, PAT)
    assert update["Subject"] == "[Status] Jivosoft Cloud is slow: Investigating"
    assert "We are moving the service to Kansas City." in text_of(update)
    assert "Affected: Jivosoft Cloud." in text_of(update)
    assert "/status/unsubscribe/" in text_of(update)
    assert "app1" not in text_of(update)  # the internal title names the server; the message never does

    response = act(client_as("sam").post, "/notifications/maintenance/", {
        "title": "Database upgrade", "body": "Jivosoft Cloud will be read-only for up to 30 minutes.",
        "services": [world.saas.pk], "starts_at": "2026-11-28T01:00", "ends_at": "2026-11-28T02:00"})
    assert response.status_code == 302
    [_, notice] = mail_to(smtp, PAT)
    assert notice["Subject"] == "[Scheduled maintenance] Database upgrade"
    # Entered in sam's zone (America/Chicago): 01:00 CST is 07:00 UTC.
    assert "From 2026-11-28 07:00 to 2026-11-28 08:00 UTC." in text_of(notice)
    assert "/status/unsubscribe/" in text_of(notice)
    # The confirmation request, the update and the notice: each a Delivery row the sender sent.
    assert Delivery.objects.filter(address=PAT, state="sent", page__isnull=False).count() == 3

    with time_machine.travel(NOW, tick=False):
        status_page = client.get("/status/").content.decode()
        feed = client.get("/status/feed.atom").content.decode()
    assert "Scheduled maintenance" in status_page
    assert "Database upgrade" in status_page
    assert "Scheduled maintenance: Database upgrade" in feed


def test_one_click_unsubscribes_and_nothing_more_is_sent(world, subscribed, client_as, client, smtp, act):
    incident = crash(world, world.app1, public_summary="Jivosoft Cloud is slow")
    post_update(client_as, incident, "First update.", act)
    [first] = mail_to(smtp, PAT)
    # A mail client's RFC 8058 one-click POST carries no CSRF token.
    client.handler.enforce_csrf_checks = True
    assert "Unsubscribed" in act(client.post, link(first, "unsubscribe")).content.decode()
    post_update(client_as, incident, "Second update.", act)
    assert len(mail_to(smtp, PAT)) == 1


def one_click_target(message) -> str:
    """The path in the List-Unsubscribe header, once it is checked to be one link in angle brackets."""
    # A header this long is folded onto its own line (RFC 5322 folding): the value starts after the fold.
    [url] = re.fullmatch(r"<(https?://[^>]+)>", message["List-Unsubscribe"].strip()).groups()
    return url[url.index("/status/"):]


def test_every_update_carries_the_one_click_unsubscribe_headers(world, subscribed, client_as, smtp, act):
    incident = crash(world, world.app1, public_summary="Jivosoft Cloud is slow")
    post_update(client_as, incident, "First update.", act)
    [update] = mail_to(smtp, PAT)
    # RFC 2369's link is the one in the text; RFC 8058's second header says a POST to it is enough.
    assert one_click_target(update) == link(update, "unsubscribe")
    assert update["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_a_mail_clients_one_click_post_to_the_header_unsubscribes_and_is_audited(world, subscribed, client_as,
                                                                                client, smtp, act):
    incident = crash(world, world.app1, public_summary="Jivosoft Cloud is slow")
    post_update(client_as, incident, "First update.", act)
    [update] = mail_to(smtp, PAT)
    client.handler.enforce_csrf_checks = True  # the mail provider's POST has no session and no CSRF token
    response = act(client.post, one_click_target(update), "List-Unsubscribe=One-Click",
                   content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    assert not StatusSubscriber.objects.get(email=PAT).is_active
    [event] = AuditEvent.objects.filter(action="status_subscriber.unsubscribed")
    assert event.after == {"email": PAT}
    post_update(client_as, incident, "Second update.", act)
    assert len(mail_to(smtp, PAT)) == 1


def test_a_forged_one_click_token_unsubscribes_nobody(world, subscribed, client_as, client, smtp, act):
    incident = crash(world, world.app1, public_summary="Jivosoft Cloud is slow")
    post_update(client_as, incident, "First update.", act)
    target = one_click_target(mail_to(smtp, PAT)[0])
    token = target.rstrip("/").rsplit("/", 1)[1]
    forged = target.replace(token, token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB"))
    response = act(client.post, forged, "List-Unsubscribe=One-Click",
                   content_type="application/x-www-form-urlencoded")
    assert response.status_code == 410
    assert StatusSubscriber.objects.get(email=PAT).is_active
    assert not AuditEvent.objects.filter(action="status_subscriber.unsubscribed").exists()


def test_the_confirmation_request_has_no_unsubscribe_header(world, client, smtp, act):
    act(client.post, "/status/subscribe/", {"email": PAT})
    [request] = mail_to(smtp, PAT)
    assert request["List-Unsubscribe"] is None  # not subscribed yet: nothing to leave


def test_an_unconfirmed_address_gets_only_the_confirmation_request(world, client, client_as, smtp, act):
    act(client.post, "/status/subscribe/", {"email": PAT})
    post_update(client_as, crash(world, world.app1, public_summary="Slow"), "An update.", act)
    assert [m["Subject"] for m in mail_to(smtp, PAT)] == ["Confirm your status updates"]


def test_signing_up_again_within_the_hour_sends_no_second_request(world, client, smtp, act):
    first = act(client.post, "/status/subscribe/", {"email": PAT})
    again = act(client.post, "/status/subscribe/", {"email": PAT})
    assert len(mail_to(smtp, PAT)) == 1
    assert first.content == again.content  # the page says the same whether the address was known


def test_a_bad_address_is_refused_with_a_reason(world, client, smtp, act):
    response = act(client.post, "/status/subscribe/", {"email": "not an address"})
    assert response.status_code == 400
    assert "Enter a valid email address" in response.content.decode()
    assert not StatusSubscriber.objects.exists()


def test_drill_and_internal_updates_never_reach_subscribers(world, subscribed, client_as, smtp, act):
    post_update(client_as, crash(world, world.db2, is_drill=True, public_summary="A drill"), "Drill update", act)
    post_update(client_as, crash(world, world.app1, severity="sev3", public_summary="Office"), "Internal", act)
    assert mail_to(smtp, PAT) == []


def test_a_tampered_or_expired_confirmation_link_is_refused(world, client, smtp, act):
    act(client.post, "/status/subscribe/", {"email": PAT})
    confirm = link(mail_to(smtp, PAT)[0], "subscribe/confirm")
    assert client.post(confirm[:-4] + "xyz/").status_code == 410
    with time_machine.travel(NOW + timedelta(days=8), tick=False):
        assert client.post(confirm).status_code == 410
    assert not StatusSubscriber.objects.get().is_active


def test_a_maintenance_window_that_ends_before_it_starts_is_refused_and_nothing_is_lost(world, client_as, act):
    response = act(client_as("sam").post, "/notifications/maintenance/", {
        "title": "Backwards", "body": "text", "starts_at": "2026-11-28T02:00", "ends_at": "2026-11-28T01:00"})
    page = response.content.decode()
    assert "the window must end after it starts" in page
    assert 'value="Backwards"' in page
