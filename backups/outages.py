"""Which locations are down now, read from the open incidents: asked by the sweep (which copies are viable), the
exposure texts and notifications' loss windows. Its own module, below the sweep and exposure, which import each
other no more (issue 15)."""

from __future__ import annotations


def down_locations() -> tuple[list[int], list[int]]:
    """Zones and regions that are down now: those in the resolved scope of open incidents
    (drportal.incidents.scope). A region is down when the incident names it, or when all its zones are down."""
    from drportal.incidents import scope as incident_scope
    from drportal.incidents.models import Incident
    from drportal.inventory.models import Zone

    zones: set[int] = set()
    regions: set[int] = set()
    # A drill rehearses on the simulated cloud: its zones are not down.
    for incident in Incident.objects.filter(status__in=["declared", "responding"], is_drill=False):
        scope = incident_scope.of(incident)
        zones |= set(scope.zones)
        regions |= set(scope.regions)
    for region_id in Zone.objects.filter(id__in=zones).values_list("region_id", flat=True).distinct():
        if not Zone.objects.filter(region_id=region_id).exclude(id__in=zones).exists():
            regions.add(region_id)
    return sorted(zones), sorted(regions)
