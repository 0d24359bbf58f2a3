"""Provider faults: a local HTTP server plays the provider answering 500, 503, 429 or 401."""

from __future__ import annotations

import pytest

from drportal.cloud.adapters import compute, dns, rds_recovery, retry
from drportal.cloud.adapters.errors import AdapterError
from drportal.inventory.models import ProviderAccount
from tests.cloud.conftest import ec2_error

pytestmark = pytest.mark.django_db


@pytest.fixture
def faulty_ec2(faulty, aws_location, fast_retries):
    account = ProviderAccount.objects.create(provider=aws_location.region.provider, name="aws-faulty", driver="ec2",
                                             options={"endpoint_url": faulty.endpoint})
    account.set_credentials({"key": "AKID", "secret": "faulty-secret-4711"})
    account.save()
    return account


def test_a_500_is_transient_and_retried_with_backoff(faulty, faulty_ec2):
    faulty.answer(500, ec2_error("InternalError", "An internal error has occurred"))
    with pytest.raises(AdapterError) as caught:
        compute.find_node_by_key(compute.driver_for(faulty_ec2), "k", "ec2:aws-faulty")
    assert not caught.value.permanent
    assert "An internal error has occurred" in str(caught.value)
    assert faulty.requests == 3


def test_throttling_is_transient(faulty, faulty_ec2):
    faulty.answer(503, ec2_error("RequestLimitExceeded", "Request limit exceeded."))
    with pytest.raises(AdapterError) as caught:
        compute.find_node_by_key(compute.driver_for(faulty_ec2), "k")
    assert not caught.value.permanent
    assert faulty.requests == 3


def test_http_429_is_transient(faulty, faulty_ec2):
    faulty.answer(429, ec2_error("Throttling", "Slow down"))
    with pytest.raises(AdapterError) as caught:
        compute.find_node_by_key(compute.driver_for(faulty_ec2), "k")
    assert not caught.value.permanent


def test_wrong_credentials_are_permanent_and_not_retried(faulty, faulty_ec2):
    faulty.answer(401, ec2_error("AuthFailure", "AWS was not able to validate the provided access credentials"))
    with pytest.raises(AdapterError) as caught:
        compute.find_node_by_key(compute.driver_for(faulty_ec2), "k")
    assert caught.value.permanent
    assert caught.value.code == "InvalidCredentials"
    assert faulty.requests == 1


def test_a_transient_error_that_clears_is_absorbed(faulty, faulty_ec2):
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionResetError("reset by peer")
        return "ok"

    slept: list[float] = []
    assert retry.call(flaky, attempts=4, base_delay=0.5, sleep=slept.append) == "ok"
    # Exponential with jitter: the first wait in [0.25, 0.5], the second in [0.5, 1.0].
    assert 0.25 <= slept[0] <= 0.5
    assert 0.5 <= slept[1] <= 1.0


def test_boto_throttling_is_transient_and_boto_does_not_retry_on_its_own(faulty, faulty_ec2):
    faulty_ec2.options = {"endpoint_url": faulty.endpoint}
    faulty.answer(400, "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded"
                       "</Message></Error><RequestId>1</RequestId></ErrorResponse>")
    with pytest.raises(AdapterError) as caught:
        rds_recovery.describe(faulty_ec2, "db1")
    assert not caught.value.permanent
    assert caught.value.code == "Throttling"
    assert faulty.requests == 3  # our three attempts, no hidden botocore retries


def test_boto_5xx_is_transient(faulty, faulty_ec2):
    faulty.answer(503, "<ErrorResponse><Error><Code>ServiceUnavailable</Code><Message>try later</Message></Error>"
                       "</ErrorResponse>")
    with pytest.raises(AdapterError) as caught:
        rds_recovery.describe(faulty_ec2, "db1")
    assert not caught.value.permanent


def test_powerdns_500_is_transient(faulty, pdns_account, fast_retries):
    pdns_account.options = {"host": "127.0.0.1", "port": faulty.port}
    faulty.answer(500, {"error": "Backend error"})
    with pytest.raises(AdapterError) as caught:
        dns.get_zone(dns.driver_for(pdns_account), "example.test.")
    assert not caught.value.permanent
    assert "Backend error" in str(caught.value)


def test_an_unreachable_provider_is_transient(pdns_account, fast_retries):
    from drportal.cloud.devpeers import free_port

    pdns_account.options = {"host": "127.0.0.1", "port": free_port()}
    with pytest.raises(AdapterError) as caught:
        dns.get_zone(dns.driver_for(pdns_account), "example.test.")
    assert not caught.value.permanent


def test_secrets_never_appear_in_the_error(faulty, faulty_ec2):
    faulty.answer(401, ec2_error("AuthFailure", "bad credentials"))
    with pytest.raises(AdapterError) as caught:
        compute.find_node_by_key(compute.driver_for(faulty_ec2), "k")
    assert "faulty-secret-4711" not in str(caught.value)
