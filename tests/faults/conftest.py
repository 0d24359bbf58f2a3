"""Fault tests reuse the real peers of the cloud and scenarios tests (PowerDNS, moto, a faulty provider)."""

from __future__ import annotations

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
    sim_account,
    sim_location,
)
from tests.scenarios.conftest import declare, make_servers  # noqa: F401 - fixtures by name
