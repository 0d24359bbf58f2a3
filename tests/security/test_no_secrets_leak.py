"""No secret (cloud credential, stored credential, SECRET_KEY) appears in any page, API answer or log."""

from __future__ import annotations

import logging

import pytest
from django.conf import settings
from django.urls import reverse

from drportal.inventory.models import Provider, ProviderAccount
from tests.accounts.test_role_matrix import ALL_URLS, sample_url

ENV_SECRET = "env-secret-Zq81hT0pLw"
STORED_SECRET = "stored-secret-Mv55xNc3Ra"


@pytest.fixture
def account(db, monkeypatch) -> ProviderAccount:
    monkeypatch.setenv("DRPORTAL_TEST_RACKSPACE_KEY", ENV_SECRET)
    provider = Provider.objects.create(slug="rackspace", name="Rackspace", kind="rackspace")
    account = ProviderAccount(provider=provider, name="jivosoft-rackspace", driver="rackspace",
                              credentials_env={"secret": "DRPORTAL_TEST_RACKSPACE_KEY"})
    account.set_credentials({"api_key": STORED_SECRET})
    account.save()
    return account


def test_the_account_can_read_its_secrets_at_the_moment_of_use(account):
    assert account.credentials() == {"api_key": STORED_SECRET, "secret": ENV_SECRET}
    assert STORED_SECRET not in account.credentials_encrypted
    assert ENV_SECRET not in str(account.masked_credentials())


@pytest.fixture
def apprise_channel(db):
    from notifications.models import AppriseChannel

    channel = AppriseChannel(name="ops-slack", role="ops")
    channel.set_url(f"slack://T000/B000/{APPRISE_SECRET}")
    channel.save()
    return channel


APPRISE_SECRET = "apprise-secret-Kd92mWq4Zt"


def test_no_page_shows_a_secret(client_as, account, apprise_channel, caplog):
    client = client_as("ada")
    client.raise_request_exception = False
    caplog.set_level(logging.DEBUG)
    secrets = [ENV_SECRET, STORED_SECRET, settings.SECRET_KEY, account.credentials_encrypted, APPRISE_SECRET,
               apprise_channel.url_encrypted]
    urls = {sample_url(name, pattern) for name, pattern in ALL_URLS if name not in ("logout", "admin:logout")}
    urls |= {
        reverse("admin:inventory_provideraccount_change", args=[account.pk]),
        reverse("admin:inventory_provideraccount_changelist"),
        reverse("notifications:apprise-channel", args=[apprise_channel.pk]),
    }
    urls |= {url.replace("/1/", f"/{account.pk}/") for url in urls if url and "/1/" in url}
    fetched = 0
    for url in sorted(u for u in urls if u):
        response = client.get(url)
        if response.streaming:
            body = b"".join(response.streaming_content).decode(errors="replace")
        else:
            body = response.content.decode(errors="replace")
        for secret in secrets:
            assert secret not in body, f"a secret appears on {url}"
        fetched += 1
    assert fetched >= 20
    for secret in secrets:
        assert secret not in caplog.text
