"""Who an incident hits, as notices see it: read from the incident's resolved scope
(drportal.incidents.scope), the same set the runbook binds its steps from. Each function returns a lazy
queryset over those ids."""

from __future__ import annotations

from django.db.models import QuerySet

from drportal.incidents import scope as incident_scope
from drportal.incidents.models import Incident
from drportal.inventory.models import Asset, Customer, Server, Service

# Kept for callers that ask which classes lose a server alone; the rule itself lives in incidents.scope.
SERVER_ONLY_CLASSES = incident_scope.SERVER_ONLY_CLASSES


def lost_zone_ids(incident: Incident) -> set[int]:
    """The zones the incident takes down (a single-server class takes none by itself)."""
    return set(incident_scope.of(incident).zones)


def crashed_server_ids(incident: Incident) -> set[int]:
    """Servers lost on their own (their zone stays up): backups stored on them are lost with them."""
    return set(incident_scope.of(incident).crashed_servers)


def affected_servers(incident: Incident, zone_ids: set[int] | None = None) -> QuerySet[Server]:
    return Server.objects.filter(id__in=incident_scope.of(incident).servers)


def affected_assets(incident: Incident, zone_ids: set[int] | None = None) -> QuerySet[Asset]:
    return Asset.objects.filter(id__in=incident_scope.of(incident).assets)


def affected_services(incident: Incident, zone_ids: set[int] | None = None) -> QuerySet[Service]:
    return Service.objects.filter(id__in=incident_scope.of(incident).services)


def affected_customer_ids(incident: Incident) -> list[int]:
    """The ids affected_customers reads, without a query: the incident's stored scope."""
    return list(incident_scope.of(incident).customers)


def affected_customers(incident: Incident) -> QuerySet[Customer]:
    """Active customers with a database or another asset, or a service, on something the incident hit."""
    return Customer.objects.filter(id__in=incident_scope.of(incident).customers).order_by("name")
