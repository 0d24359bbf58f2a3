from __future__ import annotations

import time

import pytest

from drportal.cloud.adapters.errors import AdapterError
from drportal.lib.ratelimit import TokenBucket
from notifications.channels.base import IN_DOUBT, REFUSED, TEMPORARY, UNAVAILABLE, Message
from notifications.channels.sms import HttpSmsGateway
from notifications.channels.webhook import WebhookAdapter
from tests.notifications.conftest import free_port

MSG = Message(7, "", "Incident #3 declared", "Dallas is offline")


def test_the_webhook_posts_slack_compatible_json(http_receiver):
    WebhookAdapter().send(Message(7, http_receiver.url("/hook"), "Incident #3 declared", "Dallas is offline"))
    assert http_receiver.bodies("/hook") == [{"text": "*Incident #3 declared*\nDallas is offline"}]


@pytest.mark.parametrize(("path", "code", "permanent"), [("/bad", REFUSED, True), ("/fail", TEMPORARY, False),
                                                          ("/throttled", TEMPORARY, False)])
def test_the_webhook_classifies_http_errors(http_receiver, path, code, permanent):
    with pytest.raises(AdapterError) as exc:
        WebhookAdapter().send(Message(7, http_receiver.url(path), "s", "t"))
    assert (exc.value.code, exc.value.permanent) == (code, permanent)
    assert "HTTP" in str(exc.value)


def test_a_webhook_that_cannot_be_reached_did_not_receive_anything():
    with pytest.raises(AdapterError) as exc:
        WebhookAdapter().send(Message(7, f"http://127.0.0.1:{free_port()}/x", "s", "t"))
    assert exc.value.code == UNAVAILABLE


def test_a_webhook_that_does_not_answer_in_time_is_in_doubt(http_receiver, monkeypatch):
    from notifications.channels import http

    real = http.post_json
    monkeypatch.setattr(http, "post_json", lambda *a, **kw: real(*a, **{**kw, "timeout": 0.5}))
    monkeypatch.setattr("notifications.channels.webhook.post_json", http.post_json)
    with pytest.raises(AdapterError) as exc:
        WebhookAdapter().send(Message(7, http_receiver.url("/hang"), "s", "t"))
    assert exc.value.code == IN_DOUBT


def test_the_sms_gateway_gets_number_text_token_and_an_idempotency_key(http_receiver, settings, monkeypatch):
    settings.SMS_GATEWAY_URL = http_receiver.url("/sms")
    monkeypatch.setenv("SMS_GATEWAY_TOKEN", "tok-123")
    gateway = HttpSmsGateway()
    gateway.open()
    gateway.send(Message(42, "+12105550100", "Outage", "Dallas is offline"))
    [request] = http_receiver.requests
    assert request["json"] == {"to": "+12105550100", "text": "Dallas is offline", "reference": "42"}
    assert request["headers"]["Authorization"] == "Bearer tok-123"
    assert request["headers"]["Idempotency-Key"] == "drportal-delivery-42"


def test_an_unconfigured_sms_gateway_is_unavailable(settings, monkeypatch):
    settings.SMS_GATEWAY_URL = ""
    monkeypatch.delenv("SMS_GATEWAY_URL", raising=False)
    with pytest.raises(AdapterError, match="no SMS gateway configured"):
        HttpSmsGateway().open()


def test_the_token_bucket_lets_a_burst_through_then_paces_to_the_rate(redis_conn):
    bucket = TokenBucket(redis_conn, "test", rate=50, burst=10)
    assert [bucket.reserve() for _ in range(10)] == [0.0] * 10
    wait = bucket.reserve()
    assert 0 < wait <= 0.03
    started = time.monotonic()
    for _ in range(25):
        bucket.take()
    # 25 more tokens at 50/s take about half a second, whoever asks (the bucket lives in Redis).
    assert 0.35 < time.monotonic() - started < 1.5
