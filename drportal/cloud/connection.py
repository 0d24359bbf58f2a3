"""The "test connection" check: one cheap read call through the account's adapter."""

from __future__ import annotations

from dataclasses import dataclass

from drportal.cloud.adapters import compute, dns, retry
from drportal.cloud.adapters.errors import AdapterError
from drportal.lib import crypto

DNS_DRIVERS = {"powerdns", "route53"}


@dataclass
class ConnectionResult:
    ok: bool
    message: str


def check(account) -> ConnectionResult:
    try:
        if account.driver in DNS_DRIVERS:
            zones = retry.call(dns.driver_for(account).list_zones, provider=dns.provider_name(account), attempts=1)
            return ConnectionResult(True, f"connected: {len(zones)} zone(s)")
        locations = retry.call(compute.driver_for(account).list_locations, provider=compute.provider_name(account),
                               attempts=1)
        return ConnectionResult(True, f"connected: {len(locations)} location(s)")
    except AdapterError as exc:
        return ConnectionResult(False, str(exc))
    except crypto.SecretUnavailable as exc:
        return ConnectionResult(False, str(exc))
    except ValueError as exc:  # libcloud rejects e.g. an unknown region before any request
        return ConnectionResult(False, f"configuration: {exc}")
