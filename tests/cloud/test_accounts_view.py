from __future__ import annotations

import pytest
from django.urls import reverse

from drportal.audit.models import AuditEvent
from drportal.cloud import connection
from drportal.inventory.models import Provider, ProviderAccount
from drportal.lib import clock

pytestmark = pytest.mark.django_db


@pytest.fixture
def accounts(monkeypatch, pdns_account):
    provider = Provider.objects.create(slug="rs", name="Rackspace", kind="rackspace")
    for i in range(3):
        account = ProviderAccount.objects.create(provider=provider, name=f"rs-{i}", driver="simulated",
                                                 credentials_env={"key": "RS_USER", "secret": "RS_KEY"})
        account.set_credentials({"secret": f"stored-secret-{i}"})
        account.save()
    monkeypatch.setenv("RS_KEY", "env-secret-value")
    return pdns_account


def test_it_lists_accounts_with_masked_credentials_in_fixed_queries(client_as, accounts, django_assert_num_queries):
    client = client_as("alice")
    # session, user, profile (time zone), user's groups, accounts with provider and server counts
    with django_assert_num_queries(5):
        response = client.get(reverse("cloud:accounts"))
    body = response.content.decode()
    assert response.status_code == 200
    assert "rs-2" in body
    assert "$RS_KEY" in body
    assert "encrypted" in body
    assert "env-secret-value" not in body
    assert "stored-secret" not in body
    assert accounts.credentials()["key"] not in body


def test_support_cannot_see_accounts(client_as, accounts):
    assert client_as("sam").get(reverse("cloud:accounts")).status_code == 403


def test_test_connection_reports_success_on_a_real_server(client_as, accounts):
    response = client_as("alice").post(reverse("cloud:test-connection", args=[accounts.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "connected: 0 zone(s)" in response.content.decode()
    accounts.refresh_from_db()
    assert (accounts.connection_ok, accounts.connection_message) == (True, "connected: 0 zone(s)")


def test_the_last_answer_is_kept_and_a_change_of_answer_is_audited_once(client_as, accounts):
    url = reverse("cloud:test-connection", args=[accounts.pk])
    client_as("alice").post(url)
    client_as("alice").post(url)
    accounts.set_credentials({"key": "wrong-key-0000"})
    accounts.save()
    client_as("alice").post(url)
    events = AuditEvent.objects.filter(action="cloud.connection_checked", object_id=str(accounts.pk)).order_by("at")
    assert [e.after["connection_ok"] for e in events] == [True, False]
    assert "wrong-key-0000" not in str(list(events.values()))
    body = client_as("alice").get(reverse("cloud:accounts")).content.decode()
    assert "InvalidCredentials" in body


def test_the_scheduled_check_records_every_account(accounts):
    summary = connection.check_all(clock.now())
    assert summary == "4 of 4 account(s) answered"
    assert set(ProviderAccount.objects.values_list("connection_ok", flat=True)) == {True}


def test_test_connection_shows_the_providers_refusal(client_as, accounts):
    accounts.set_credentials({"key": "wrong-key-0000"})
    accounts.save()
    response = client_as("alice").post(reverse("cloud:test-connection", args=[accounts.pk]), HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert "InvalidCredentials" in body
    assert "wrong-key-0000" not in body


def test_test_connection_needs_post(client_as, accounts):
    assert client_as("alice").get(reverse("cloud:test-connection", args=[accounts.pk])).status_code == 405
