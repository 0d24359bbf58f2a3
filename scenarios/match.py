"""Which servers a scenario covers: its `match` block (providers, server roles) read against the inventory.

Its own module, below readiness and the promise, because both ask it: the promise's loss sentence names what a
scenario recovers, and readiness words the promise (issue 15: they imported each other).
"""

from __future__ import annotations

from django.db.models import Q

from drportal.inventory.models import Server
from scenarios.loader import Scenario


def scope_servers(scenario: Scenario, servers: list[Server] | None = None) -> list[Server]:
    """The servers the scenario would act on: by provider and role in its `match` block. Pass the loaded
    servers to filter in memory (list pages assess every scenario with one query)."""
    match = scenario.data.get("match", {})
    if servers is None:
        servers = list(Server.objects.select_related("zone__region__provider", "account"))
    providers, roles = match.get("providers"), match.get("server_roles")
    return [s for s in servers
            if (not providers or s.zone.region.provider.slug in providers) and (not roles or s.role in roles)]


def scope_queryset(scenario: Scenario):
    """scope_servers as a query, no row loaded: for callers that only hand the scope on to another query (at
    5,000 servers, loading them with their zones, regions, providers and accounts took seconds)."""
    return Server.objects.filter(_scope_filter(scenario))


def scope_of_any(scenarios: list[Scenario]):
    """The servers at least one of these scenarios covers, as a query: what assessing the whole library loads
    (the bench's 50,000 servers at 10x belong to no scenario, and loading them all was most of a refresh)."""
    wanted = Q(pk__in=[])
    for scenario in scenarios:
        one = _scope_filter(scenario)
        if not one:
            return Server.objects.all()  # a scenario without a match block covers every server
        wanted |= one
    return Server.objects.filter(wanted)


def _scope_filter(scenario: Scenario) -> Q:
    match = scenario.data.get("match", {})
    found = Q()
    if match.get("providers"):
        found &= Q(zone__region__provider__slug__in=match["providers"])
    if match.get("server_roles"):
        found &= Q(role__in=match["server_roles"])
    return found
