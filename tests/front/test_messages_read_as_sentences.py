"""Every failure a person reads says what failed in words: the adapters' error translations, the notification
channels' failures and every readiness check of the demo, rendered as the pages render them. The main text may
not hold a traceback, an exception class name, an errno or a signed URL; the raw error, scrubbed, is behind the
"details" disclosure."""

from __future__ import annotations

import re
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.template import Context, Template

from drportal.cloud.adapters import retry
from drportal.lib import clock, messages

SIGNED_URL = ("https://ec2.us-east-1.amazonaws.com/?Action=DescribeAvailabilityZones&SignatureVersion=2"
              "&AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Signature=X6W%2BsEOyCYGvrd8%2FfIgch")
# Written independently of drportal.lib.messages, so a rule that lets raw text through is caught here.
RAW = re.compile(r"Traceback|\b\w+(?:Error|Exception)\b|HTTPSConnectionPool|\[Errno|Signature=|AWSAccessKeyId|"
                 r"AKIA[0-9A-Z]{12,}|\?Action=|0x[0-9a-f]{8}")
SECRET = re.compile(r"AKIAIOSFODNN7EXAMPLE|X6W%2BsEOy|hunter2")


def rendered(text: str) -> tuple[str, str]:
    """(main text, details) as a page shows them through the readable filter."""
    html = Template("{{ text|readable }}").render(Context({"text": text}))
    details = re.search(r"<details.*?</details>", html, re.S)
    main = html.replace(details.group(0), "") if details else html
    return main, details.group(0) if details else ""


def assert_reads_as_words(text: str) -> None:
    main, details = rendered(text)
    assert main.strip(), text
    assert not RAW.search(main), f"raw error in the main text: {main!r}"
    assert not SECRET.search(main + details), f"a secret is shown: {main + details!r}"


def provider_errors() -> list[BaseException]:
    import requests
    from botocore.exceptions import ClientError, ConnectTimeoutError, NoCredentialsError
    from libcloud.common.exceptions import BaseHTTPError, RateLimitReachedError
    from libcloud.common.types import InvalidCredsError, MalformedResponseError

    return [
        requests.exceptions.ConnectionError(
            f"HTTPSConnectionPool(host='ec2.us-east-1.amazonaws.com', port=443): Max retries exceeded with url: "
            f"{SIGNED_URL} (Caused by NameResolutionError(\"<urllib3.connection.HTTPSConnection object at "
            f"0x7f3a2b1c0d90>: Failed to resolve 'ec2.us-east-1.amazonaws.com' ([Errno -2] Name or service not "
            f"known)\"))"),
        requests.exceptions.ConnectionError("HTTPConnectionPool(host='127.0.0.1', port=9): Max retries exceeded "
                                            "with url: /?token=hunter2 (Caused by NewConnectionError('[Errno 111] "
                                            "Connection refused'))"),
        ConnectTimeoutError(endpoint_url=SIGNED_URL),
        NoCredentialsError(),
        ClientError({"Error": {"Code": "AuthFailure", "Message": "AWS was not able to validate the provided access "
                                                                 "credentials"}}, "DescribeInstances"),
        ClientError({"Error": {"Code": "Throttling", "Message": "Rate exceeded"},
                     "ResponseMetadata": {"HTTPStatusCode": 400}}, "DescribeInstances"),
        InvalidCredsError("Invalid credentials with the provider"),
        BaseHTTPError(503, "Service Unavailable"),
        BaseHTTPError(404, "InvalidAMIID.NotFound: The image id '[ami-1]' does not exist"),
        RateLimitReachedError(),
        MalformedResponseError("<html>bad gateway</html>"),
        TimeoutError("timed out"),
        ConnectionRefusedError(111, "Connection refused"),
        TimeoutError(),
        RuntimeError("Traceback (most recent call last):\n  File \"x.py\", line 1\nKeyError: 'x'"),
    ]


@pytest.mark.parametrize("exc", provider_errors(), ids=lambda e: type(e).__name__)
def test_every_adapter_error_translation_reads_as_words(exc):
    assert_reads_as_words(str(retry.translate(exc, "aws:cybernance-aws")))


def test_the_details_keep_the_raw_error_without_its_signature():
    main, details = rendered(str(retry.translate(provider_errors()[0], "aws:cybernance-aws")))
    assert "could not be found" in main
    assert "NameResolutionError" in details
    assert "ec2.us-east-1.amazonaws.com" in details
    assert "Signature" not in details
    assert "AKIA" not in details


def test_an_account_without_credentials_says_where_they_go():
    from botocore.exceptions import NoCredentialsError

    main, _ = rendered(str(retry.translate(NoCredentialsError(), "rds:cybernance-aws")))
    assert "cybernance-aws" in main
    assert "no credentials" in main
    assert "Cloud accounts" in main


def test_a_deployment_whose_command_is_missing_says_so():
    raw = ("deployment failed (exit 127): could not start 'ansible-playbook': [Errno 2] No such file or directory: "
           "'ansible-playbook'\n (permanent, DeploymentFailed)")
    main, details = rendered(raw)
    assert "command is not installed where the worker runs" in main
    assert "ansible-playbook" in details


def test_an_error_already_in_words_is_shown_as_it_is():
    text = "timed out after 600 s waiting for the server to boot"
    assert rendered(text) == (text, "")


@pytest.mark.django_db
def test_the_channels_failures_read_as_words(settings):
    from drportal.cloud.adapters.errors import AdapterError
    from drportal.cloud.devpeers import free_port
    from notifications.channels.base import Message
    from notifications.channels.email import EmailAdapter
    from notifications.channels.http import post_json
    from notifications.channels.sms import HttpSmsGateway

    closed = free_port()  # nothing listens there
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.SMS_GATEWAY_URL = "127.0.0.1", closed, ""
    failures = []
    for attempt in (lambda: EmailAdapter().send(Message(1, "ops@example.test", "s", "t")),
                    HttpSmsGateway().open,
                    lambda: post_json("webhook", f"http://127.0.0.1:{closed}/hook?token=hunter2", {"text": "x"})):
        with pytest.raises(AdapterError) as caught:
            attempt()
        failures.append(str(caught.value))
    for text in failures:
        assert_reads_as_words(text)


@pytest.mark.django_db
def test_every_readiness_check_of_the_demo_reads_as_words_even_when_every_account_fails(settings, tmp_path):
    from drportal.cloud import connection
    from drportal.cloud.devpeers import free_port
    from drportal.inventory.models import ProviderAccount
    from scenarios import loader, readiness

    settings.VAR_DIR = tmp_path
    call_command("load_demo", stdout=StringIO())
    # Every account pointed at real AWS through a port where nothing listens: real refusals, real messages.
    ProviderAccount.objects.update(driver="aws", options={"endpoint_url": f"http://127.0.0.1:{free_port()}"})
    settings.CLOUD_RETRY_ATTEMPTS = 1
    for account in ProviderAccount.objects.all():
        connection.check_and_record(account, "test", clock.now())
    assert ProviderAccount.objects.filter(connection_ok=True).count() == 0
    now = clock.now() + timedelta(minutes=1)
    rows = readiness.assess_all(list(loader.library().scenarios.values()), now)
    details = [c.detail for r in rows for c in r.checks]
    assert any("refused" in d for d in details)
    for detail in details:
        assert_reads_as_words(detail)


def test_messages_stored_with_details_show_the_sentence_and_scrub_the_rest():
    stored = messages.with_details("The mail server could not be reached.", f"connect to {SIGNED_URL} failed")
    main, details = rendered(stored)
    assert main.strip() == "The mail server could not be reached."
    assert "ec2.us-east-1.amazonaws.com" in details
    assert "Signature" not in details
