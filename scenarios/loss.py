"""The data-loss window of a run's incident, as the run page shows it: the customers with data in the lost
zones, worst first (hooks.customer_exposure), kept in a Snapshot row per run so the page, which ops reload
all through a recovery, does not recompute it for thousands of customers on every view."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from drportal.incidents.models import Incident
from scenarios import hooks, snapshots
from scenarios.models import Run


def lost(incident: Incident) -> tuple[set[int], list[int] | None]:
    """From the incident's resolved scope (drportal.incidents.scope): the zones its hit servers and assets
    run in, and the customers it hits (the exposure rows are drawn from those customers only)."""
    from drportal.incidents import scope as incident_scope

    return lost_of(incident_scope.of(incident))


def lost_of(scope) -> tuple[set[int], list[int]]:
    """lost() for a resolved scope (the declare page's preview has no incident yet)."""
    from drportal.inventory.models import Asset, Server

    zones = set(scope.zones)
    zones |= set(Server.objects.filter(pk__in=scope.servers).values_list("zone_id", flat=True))
    zones |= set(Asset.objects.filter(pk__in=scope.assets, server__isnull=True, zone__isnull=False)
                 .values_list("zone_id", flat=True))
    return zones, list(scope.customers)


def _compute(zones: set[int], customers: list[int] | None, now: datetime) -> dict[str, Any]:
    from drportal.inventory.models import Customer

    chosen = None if customers is None else Customer.objects.filter(pk__in=customers)
    rows = hooks.customer_exposure(zones, now, chosen)
    if rows is None:
        return {"available": False}
    return {"available": True, "rows": list(rows), "total": rows.total}


def exposure_of(key: str, zones: set[int], customers: list[int] | None, now: datetime,
                refresh: tuple = ()) -> hooks.Exposure | None:
    """The exposure for these zones from the snapshot `key` (None when the backups app does not offer it)."""
    read = snapshots.read(key, snapshots.basis_of(sorted(zones), customers), lambda: _compute(zones, customers, now),
                          refresh or ("scenarios.loss.refresh", key, sorted(zones), customers), now)
    if not read.data["available"]:
        return None
    rows = hooks.Exposure(read.data["rows"])
    rows.total, rows.computed_at, rows.refreshing = read.data["total"], read.computed_at, read.refreshing
    return rows


def for_run(run: Run, now: datetime) -> hooks.Exposure | None:
    """The run's loss window, worst first, with `computed_at`; None when the backups app does not offer it."""
    zones, customers = lost(run.incident)
    if not zones:
        return hooks.Exposure()
    return exposure_of(f"loss:run:{run.pk}", zones, customers, now)


def refresh(key: str, zones: list[int], customers: list[int] | None) -> None:
    """RQ job: recompute one snapshot's exposure for the zones it was read for. Safe to run twice."""
    from drportal.lib import clock

    now = clock.now()
    snapshots.store(key, snapshots.basis_of(sorted(zones), customers), _compute(set(zones), customers, now), now)
