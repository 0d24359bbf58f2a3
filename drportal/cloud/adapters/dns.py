"""DNS zones and records through libcloud (PowerDNS, Route 53, Rackspace, ...) and our simulated DNS.

Everything is expressed as record *sets* (name, type, values, ttl) because that is what a cutover
changes; libcloud's one-value-per-Record model is adapted here, per driver.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from django.conf import settings
from libcloud.dns.base import DNSDriver, Zone
from libcloud.dns.drivers.powerdns import PowerDNSDriver
from libcloud.dns.providers import get_driver
from libcloud.dns.types import Provider

from drportal.cloud.adapters import retry
from drportal.cloud.adapters.errors import AdapterError


@dataclass
class RRSet:
    name: str  # fully qualified, trailing dot
    type: str
    values: list[str] = field(default_factory=list)
    ttl: int = 300

    def as_dict(self) -> dict:
        return {"name": self.name, "type": self.type, "values": list(self.values), "ttl": self.ttl}


class DrPowerDNSDriver(PowerDNSDriver):
    """libcloud's PowerDNS driver plus one PATCH for many record sets.

    libcloud's update_record replaces a name's whole rrset with a single value (two A records become
    one) and costs one request per record; PowerDNS applies one PATCH atomically, so a cutover of 200
    records is one request and is never half-applied."""

    def ex_replace_rrsets(self, zone: Zone, rrsets: list[dict]) -> None:
        payload = {"rrsets": [
            {"name": r["name"], "type": r["type"], "changetype": "REPLACE", "ttl": int(r["ttl"]),
             "records": [{"content": v, "disabled": False} for v in r["values"]]}
            if r["values"] else {"name": r["name"], "type": r["type"], "changetype": "DELETE"}
            for r in rrsets
        ]}
        action = f"{self.api_root}/servers/{self.ex_server}/zones/{zone.id}"
        self.connection.request(action=action, data=json.dumps(payload), method="PATCH")


def driver_for(account) -> DNSDriver:
    options = account.options or {}
    creds = account.credentials()
    if account.driver == "simulated":
        from drportal.cloud.adapters.simulated import SimulatedDNSDriver

        return SimulatedDNSDriver(account)
    if account.driver == "powerdns":
        return DrPowerDNSDriver(
            key=creds.get("key", ""), host=options.get("host", "127.0.0.1"), port=int(options.get("port", 8081)),
            secure=bool(options.get("secure", False)), api_version="v1", timeout=settings.CLOUD_REQUEST_TIMEOUT,
        )
    cls = get_driver(account.driver)
    return cls(creds.get("key", ""), creds.get("secret", ""), timeout=settings.CLOUD_REQUEST_TIMEOUT)


def provider_name(account) -> str:
    return f"{account.driver}:{account.name}"


def fqdn(name: str, zone_domain: str) -> str:
    """"www" or "www.example.test" or "www.example.test." → "www.example.test." (zone with trailing dot)."""
    zone_domain = zone_domain if zone_domain.endswith(".") else zone_domain + "."
    if name in ("@", ""):
        return zone_domain
    if name.endswith("."):
        return name
    if name == zone_domain[:-1] or name.endswith("." + zone_domain[:-1]):
        return name + "."
    return f"{name}.{zone_domain}"


def _driver_name(driver: DNSDriver, name: str, zone: Zone) -> str:
    # Route 53 and Rackspace name records relative to the zone; PowerDNS and ours use full names.
    if getattr(driver, "type", None) in (Provider.ROUTE53, Provider.RACKSPACE):
        base = zone.domain.rstrip(".")
        bare = name.rstrip(".")
        return "" if bare == base else bare[: -len(base) - 1]
    return name


def get_zone(driver: DNSDriver, domain: str, provider: str = "") -> Zone:
    domain = domain if domain.endswith(".") else domain + "."
    try:
        return retry.call(driver.get_zone, domain, provider=provider)
    except AdapterError as exc:
        # PowerDNS answers a missing zone with a bare 404 (libcloud does not turn it into
        # ZoneDoesNotExistError): name the zone so the step fails with a message that says what is wrong.
        if exc.permanent and (exc.code in ("404", "NoSuchZone", "422")):
            raise AdapterError(f"zone {domain} does not exist", permanent=True, provider=provider,
                               code="NoSuchZone") from exc
        raise


def read_rrsets(driver: DNSDriver, zone: Zone, provider: str = "") -> dict[tuple[str, str], RRSet]:
    """All record sets of the zone keyed by (full name, type)."""
    sets: dict[tuple[str, str], RRSet] = {}
    for record in retry.call(driver.list_records, zone, provider=provider):
        name = fqdn(record.name or "@", zone.domain)
        key = (name, record.type)
        rrset = sets.setdefault(key, RRSet(name=name, type=record.type, ttl=int(record.ttl or 0)))
        rrset.values.append(record.data)
    return sets


def replace_rrsets(driver: DNSDriver, zone: Zone, rrsets: list[RRSet], provider: str = "") -> None:
    if not rrsets:
        return
    if hasattr(driver, "ex_replace_rrsets"):
        retry.call(driver.ex_replace_rrsets, zone, [r.as_dict() for r in rrsets], provider=provider)
        return
    # Generic libcloud drivers: replace each set record by record (not atomic across sets; the action
    # records which sets were done in ctx.state so a retry resumes where it stopped).
    existing = retry.call(driver.list_records, zone, provider=provider)
    for rrset in rrsets:
        name = _driver_name(driver, rrset.name, zone)
        for record in existing:
            if record.type == rrset.type and fqdn(record.name or "@", zone.domain) == rrset.name:
                retry.call(driver.delete_record, record, provider=provider)
        for value in rrset.values:
            retry.call(driver.create_record, name, zone, rrset.type, value, {"ttl": rrset.ttl}, provider=provider)


def nameservers(account) -> list[tuple[str, int]]:
    """The authoritative servers to ask for this account's zones: options.nameservers ["host:port"], else
    (PowerDNS) the API host on options.dns_port."""
    options = account.options or {}
    servers = []
    for item in options.get("nameservers", []):
        host, _, port = str(item).rpartition(":")
        servers.append((host, int(port)) if host else (str(item), 53))
    if not servers and account.driver == "powerdns":
        servers.append((options.get("host", "127.0.0.1"), int(options.get("dns_port", 53))))
    return servers
