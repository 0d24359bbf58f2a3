"""The "test connection" check: one cheap read call through the account's adapter."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from drportal.audit import log as audit
from drportal.cloud.adapters import compute, dns, objectstore, retry
from drportal.cloud.adapters.errors import AdapterError
from drportal.lib import clock, crypto

DNS_DRIVERS = {"powerdns", "route53"}
STORAGE_DRIVERS = {"local", "cloudfiles"}  # object storage only: no compute to list locations of


@dataclass
class ConnectionResult:
    ok: bool
    message: str


def check(account) -> ConnectionResult:
    try:
        if account.driver in DNS_DRIVERS:
            zones = retry.call(dns.driver_for(account).list_zones, provider=dns.provider_name(account), attempts=1)
            return ConnectionResult(True, f"connected: {len(zones)} zone(s)")
        if account.driver in STORAGE_DRIVERS:
            return ConnectionResult(True, f"connected: {objectstore.container_count(account)} container(s)")
        locations = retry.call(compute.driver_for(account).list_locations, provider=compute.provider_name(account),
                               attempts=1)
        return ConnectionResult(True, f"connected: {len(locations)} location(s)")
    except AdapterError as exc:
        return ConnectionResult(False, str(exc))
    except crypto.SecretUnavailable as exc:
        return ConnectionResult(False, str(exc))
    except ValueError as exc:  # libcloud rejects e.g. an unknown region before any request
        return ConnectionResult(False, f"configuration: {exc}")


def check_and_record(account, actor, now: datetime | None = None) -> ConnectionResult:
    """Check, keep the result on the account, and audit it when the answer changed (a check every quarter
    of an hour that keeps saying "connected" is not news; "refused" after "connected" is)."""
    result = check(account)
    message = result.message[:500]
    before = {"connection_ok": account.connection_ok, "connection_message": account.connection_message}
    account.connection_ok, account.connection_message = result.ok, message
    account.connection_checked_at = now or clock.now()
    account.save(update_fields=["connection_ok", "connection_message", "connection_checked_at"])
    if before["connection_ok"] != result.ok:
        audit.record(actor, "cloud.connection_checked", account, before=before,
                     after={"connection_ok": result.ok, "connection_message": message})
    return result


def check_all(now: datetime) -> str:
    """The scheduler's recurring check of every account (cloud.check_connections)."""
    from drportal.inventory.models import ProviderAccount

    results = [check_and_record(a, "job:check_connections", now)
               for a in ProviderAccount.objects.select_related("provider")]
    return f"{sum(r.ok for r in results)} of {len(results)} account(s) answered"
