"""Who an incident hits: from impacted regions, zones, servers, assets and services to the servers, assets
and services inside them, and from those to customers. Each function returns a lazy queryset so the whole
chain runs as one SQL statement."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from drportal.incidents.choices import SERVER_ONLY_CLASSES
from drportal.incidents.models import Incident
from drportal.inventory.choices import CustomerStatus
from drportal.inventory.models import Asset, Customer, Server, Service, Zone


def lost_zone_ids(incident: Incident) -> set[int]:
    """Impacted zones, the zones of impacted regions, and (unless only single servers were lost) the zones
    the impacted servers run in."""
    ids = set(incident.impacted_zones.values_list("id", flat=True))
    ids |= set(Zone.objects.filter(region__in=incident.impacted_regions.all()).values_list("id", flat=True))
    if incident.disaster_class not in SERVER_ONLY_CLASSES:
        ids |= set(incident.impacted_servers.values_list("zone_id", flat=True))
    return ids


def crashed_server_ids(incident: Incident) -> set[int]:
    """Servers lost on their own (their zone stays up): backups stored on them are lost with them."""
    if incident.disaster_class not in SERVER_ONLY_CLASSES:
        return set()
    return set(incident.impacted_servers.values_list("id", flat=True))


def affected_servers(incident: Incident, zone_ids: set[int]) -> QuerySet[Server]:
    return Server.objects.filter(Q(incidents=incident) | Q(zone_id__in=zone_ids))


def affected_assets(incident: Incident, zone_ids: set[int] | None = None) -> QuerySet[Asset]:
    zone_ids = lost_zone_ids(incident) if zone_ids is None else zone_ids
    servers = affected_servers(incident, zone_ids).values("id")
    return Asset.objects.filter(
        Q(incidents=incident) | Q(server_id__in=servers) | Q(server__isnull=True, zone_id__in=zone_ids)
    )


def affected_services(incident: Incident, zone_ids: set[int] | None = None) -> QuerySet[Service]:
    zone_ids = lost_zone_ids(incident) if zone_ids is None else zone_ids
    servers = affected_servers(incident, zone_ids).values("id")
    assets = affected_assets(incident, zone_ids).values("id")
    return Service.objects.filter(
        Q(incidents=incident) | Q(servers__in=servers) | Q(assets__in=assets)
    ).distinct()


def affected_customers(incident: Incident) -> QuerySet[Customer]:
    """Active customers with a database or another asset, or a service, on something the incident hit."""
    zone_ids = lost_zone_ids(incident)
    assets = affected_assets(incident, zone_ids).values("id")
    services = affected_services(incident, zone_ids).values("id")
    ids = Customer.objects.filter(Q(assets__in=assets) | Q(services__in=services)).values("id")
    return Customer.objects.filter(id__in=ids, status=CustomerStatus.ACTIVE).order_by("name")
