"""What an incident hits, resolved once: regions → zones → servers → assets → services → customers, plus
offices and people. The only place that knows the disaster class's rule (a region or zone class takes
everything in it; a single-server class takes only the chosen servers).

The resolved ids are stored on the incident (Incident.scope) when it is declared and whenever what it names
changes (each change audited), and runbook bindings, notice audience, data-loss windows, exposure, the
public status page, readiness and the dashboard all read that stored set, so they cannot disagree."""

from __future__ import annotations

import contextvars
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.dispatch import Signal

from drportal.incidents.choices import DisasterClass

# In these classes a server is lost, not the data center it runs in: its zone's other servers are fine.
SERVER_ONLY_CLASSES = frozenset({
    DisasterClass.SERVER_CRASH,
    DisasterClass.APP_SERVER_LOST,
    DisasterClass.DATABASE_PRIMARY_FAILURE,
    DisasterClass.DATABASE_TOTAL_LOSS,
    DisasterClass.CACHE_FAILOVER,
    DisasterClass.CACHE_TOTAL_LOSS,
})

# Classes whose scenario, drilled or assessed before any incident, loses the whole region of its servers
# (readiness's "what would customers lose" for a scenario names servers, not a region).
REGION_WIDE_CLASSES = frozenset({DisasterClass.DATACENTER_OFFLINE, DisasterClass.ALL_DATACENTERS_LOST})

RULE_AREA = "area"
RULE_SERVER = "server"

# What a person can name on an incident; the relation on Incident is impacted_<name>.
CHOSEN = ("regions", "zones", "servers", "offices", "services", "assets")

# Set while a service edits an incident's relations: it resolves once at the end (one audit entry), so
# the per-relation signal must not resolve after each of them.
_batch: contextvars.ContextVar[bool] = contextvars.ContextVar("incident_scope_batch", default=False)


@dataclass(frozen=True)
class Scope:
    """Sorted primary keys of everything an incident hits."""

    rule: str = RULE_AREA
    # The kinds of thing the declaration named ("regions", "servers", ...): scenarios match on them.
    named: list[str] = field(default_factory=list)
    regions: list[int] = field(default_factory=list)
    zones: list[int] = field(default_factory=list)
    servers: list[int] = field(default_factory=list)
    crashed_servers: list[int] = field(default_factory=list)
    assets: list[int] = field(default_factory=list)
    databases: list[int] = field(default_factory=list)
    services: list[int] = field(default_factory=list)
    customers: list[int] = field(default_factory=list)
    offices: list[int] = field(default_factory=list)
    people: list[int] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Scope:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    @property
    def is_empty(self) -> bool:
        return not (self.zones or self.servers or self.assets or self.services or self.offices)

    def counts(self) -> dict[str, int]:
        return {k: len(v) for k, v in self.as_json().items() if isinstance(v, list) and k != "named"}


def _ids(values: Iterable[Any]) -> set[int]:
    out = set()
    for v in values:
        pk = getattr(v, "pk", v)
        if pk is not None and str(pk).isdigit():
            out.add(int(pk))
    return out


def resolve(disaster_class: str, *, regions: Iterable = (), zones: Iterable = (), servers: Iterable = (),
            offices: Iterable = (), services: Iterable = (), assets: Iterable = ()) -> Scope:
    """Resolve what a declaration names (objects or ids) into everything it hits. Used for a stored incident
    and for the declare page's preview alike, so both say the same thing."""
    from drportal.inventory.choices import AssetKind, CustomerStatus
    from drportal.inventory.models import Asset, Customer, Person, Server, Service, Zone

    region_ids, zone_ids, server_ids = _ids(regions), _ids(zones), _ids(servers)
    office_ids, service_ids, asset_ids = _ids(offices), _ids(services), _ids(assets)
    rule = RULE_SERVER if disaster_class in SERVER_ONLY_CLASSES else RULE_AREA

    lost_zones = set(zone_ids)
    if region_ids:
        lost_zones |= set(Zone.objects.filter(region_id__in=region_ids).values_list("id", flat=True))
    if server_ids and rule == RULE_AREA:
        # "Dallas is down" said by naming a Dallas server: its zone is down with it.
        lost_zones |= set(Server.objects.filter(id__in=server_ids).values_list("zone_id", flat=True))
    hit_servers = set(server_ids)
    # The servers, assets and services hit are passed on as subqueries, not as lists of ids: a region of
    # 12,500 servers and 137,500 assets as IN lists of that many placeholders made declaring take tens of
    # seconds (issue 17); PostgreSQL joins them in one pass.
    servers_hit = Server.objects.filter(Q(id__in=server_ids) | Q(zone_id__in=lost_zones)).values("id")
    if lost_zones:
        hit_servers |= set(Server.objects.filter(zone_id__in=lost_zones).values_list("id", flat=True))
    # A region is lost when it was named, or when every one of its zones is lost.
    lost_regions = set(region_ids)
    if lost_zones:
        partial = set(Zone.objects.filter(region__zones__id__in=lost_zones).exclude(id__in=lost_zones)
                      .values_list("region_id", flat=True))
        lost_regions |= set(Zone.objects.filter(id__in=lost_zones).values_list("region_id", flat=True)) - partial

    hit_assets = set(asset_ids)
    assets_hit = Asset.objects.filter(Q(id__in=asset_ids) | Q(server_id__in=servers_hit)
                                      | Q(server__isnull=True, zone_id__in=lost_zones))
    # Each hit asset with its kind and its customer's status: the databases a recovery restores (a terminated
    # customer's is kept for its data file, not served) and the customers hit through an asset, in one query.
    rows = list(assets_hit.values_list("id", "kind", "customer_id", "customer__status")) \
        if hit_servers or lost_zones or asset_ids else []
    hit_assets |= {pk for pk, _, _, _ in rows}
    databases = {pk for pk, kind, _, status in rows
                 if kind == AssetKind.DATABASE and status != CustomerStatus.TERMINATED}
    customers = {cid for _, _, cid, status in rows if cid is not None and status == CustomerStatus.ACTIVE}
    hit_services = set(service_ids)
    if hit_servers or hit_assets:
        hit_services |= set(Service.servers.through.objects.filter(server_id__in=servers_hit)
                            .values_list("service_id", flat=True).distinct())
        hit_services |= set(Service.assets.through.objects.filter(asset_id__in=assets_hit.values("id"))
                            .values_list("service_id", flat=True).distinct())
    if hit_services:
        customers |= set(Customer.objects.filter(services__in=hit_services, status=CustomerStatus.ACTIVE)
                         .values_list("id", flat=True).distinct())
    people = set(Person.objects.filter(office_id__in=office_ids).values_list("id", flat=True)) if office_ids else set()
    named = [name for name, ids in (("regions", region_ids), ("zones", zone_ids), ("servers", server_ids),
                                    ("offices", office_ids), ("services", service_ids), ("assets", asset_ids)) if ids]
    return Scope(
        rule=rule, named=named, regions=sorted(lost_regions), zones=sorted(lost_zones), servers=sorted(hit_servers),
        crashed_servers=sorted(server_ids) if rule == RULE_SERVER else [], assets=sorted(hit_assets),
        databases=sorted(databases), services=sorted(hit_services), customers=sorted(customers),
        offices=sorted(office_ids), people=sorted(people),
    )


def chosen(incident) -> dict[str, list[int]]:
    """What the incident names, by relation (ids)."""
    return {name: sorted(getattr(incident, f"impacted_{name}").values_list("id", flat=True)) for name in CHOSEN}


def resolve_incident(incident) -> Scope:
    return resolve(incident.disaster_class, **chosen(incident))


def of(incident) -> Scope:
    """The incident's stored scope. An incident stored before scopes were (or whose relations were set
    outside the services) is resolved on the fly."""
    data = incident.scope or {}
    if not data:
        return resolve_incident(incident)
    return Scope.from_json(data)


def store(incident, actor, *, reason: str) -> Scope:
    """Resolve the incident's scope again, store it and audit the change (a no-op when nothing changed)."""
    from drportal.audit import log as audit
    from drportal.incidents.models import Incident
    from drportal.lib import clock

    with transaction.atomic():
        before = Incident.objects.select_for_update().values_list("scope", flat=True).get(pk=incident.pk)
        scope = resolve_incident(incident)
        after = scope.as_json()
        incident.scope = after
        if before == after:
            return scope
        incident.scope_resolved_at = clock.now()
        Incident.objects.filter(pk=incident.pk).update(scope=after, scope_resolved_at=incident.scope_resolved_at)
        old = Scope.from_json(before) if before else Scope()
        audit.record(actor, "incident.scope_resolved", incident,
                     before={"counts": old.counts()} if before else {},
                     after={"reason": reason, "counts": scope.counts(), "chosen": chosen(incident),
                            "added_servers": sorted(set(scope.servers) - set(old.servers)),
                            "removed_servers": sorted(set(old.servers) - set(scope.servers))})
    transaction.on_commit(lambda: scope_changed.send(sender=Scope, incident_id=incident.pk, actor=actor))
    return scope


@contextmanager
def batch():
    """Relations set inside resolve once, by the caller (services.declare / services.widen)."""
    token = _batch.set(True)
    try:
        yield
    finally:
        _batch.reset(token)


def in_batch() -> bool:
    return _batch.get()


# Sent after a stored scope changed and committed, with incident_id and actor. The scenarios app updates
# the pending steps of a running run from it; this app does not need to know who listens.
scope_changed = Signal()
