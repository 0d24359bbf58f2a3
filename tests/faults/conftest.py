"""Fault tests reuse the real peers of the cloud, scenarios and notifications tests (PowerDNS, moto, a faulty
provider, aiosmtpd)."""

from __future__ import annotations

import django_rq
import pytest

from tests.cloud.conftest import (  # noqa: F401 - fixtures by name
    aws_location,
    fast_retries,
    faulty,
    moto,
    moto_account,
    moto_server,
    pdns_account,
    pdns_zone,
    powerdns,
    redis_pair,
    sim_account,
    sim_location,
)
from tests.notifications.conftest import smtp, smtp_server, world  # noqa: F401 - fixtures by name
from tests.scenarios.conftest import declare, make_servers  # noqa: F401 - fixtures by name


@pytest.fixture
def clean_redis():
    """An empty RQ database before and after: a killed worker leaves its job registries behind."""
    conn = django_rq.get_connection("high")
    conn.flushdb()
    yield
    conn.flushdb()
