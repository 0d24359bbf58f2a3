"""The data-loss window of a run's incident, as the run page shows it: the customers with data in the lost
zones, worst first (hooks.customer_exposure), kept in a Snapshot row per run so the page, which ops reload
all through a recovery, does not recompute it for thousands of customers on every view."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from drportal.incidents.choices import SERVER_ONLY_CLASSES
from drportal.incidents.models import Incident
from scenarios import hooks, snapshots
from scenarios.models import Run


def lost(incident: Incident) -> tuple[set[int], list[int] | None]:
    """The zones the incident takes out (its zones, its regions' zones and, unless only single servers were lost,
    its servers' zones) and, when it names services, the customers of those services (None: every customer)."""
    from drportal.inventory.models import Customer, Zone

    zones = set(incident.impacted_zones.values_list("pk", flat=True))
    if incident.disaster_class not in SERVER_ONLY_CLASSES:
        zones |= set(incident.impacted_servers.values_list("zone_id", flat=True))
    zones |= set(Zone.objects.filter(region__in=incident.impacted_regions.all()).values_list("pk", flat=True))
    services = incident.impacted_services.all()
    customers = (sorted(Customer.objects.filter(services__in=services).values_list("pk", flat=True).distinct())
                 if services.exists() else None)
    return zones, customers


def _compute(zones: set[int], customers: list[int] | None, now: datetime, until: datetime | None = None,
             servers: list[int] | None = None) -> dict[str, Any]:
    from drportal.inventory.models import Customer

    chosen = None if customers is None else Customer.objects.filter(pk__in=customers)
    if servers:
        rows = hooks.server_loss(set(servers), until or now, now, chosen)
    else:
        rows = hooks.customer_exposure(zones, now, chosen, until=until)
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
    """The run's loss window, worst first, with `computed_at`; None when the backups app does not offer it.
    It ends when the incident's loss began, so it does not grow while the run goes on; a single crashed
    server's window is that of the data it held, not its zone's."""
    incident = run.incident
    until = incident.loss_began_at
    zones, customers = lost(incident)
    servers = (sorted(incident.impacted_servers.values_list("pk", flat=True))
               if incident.disaster_class in SERVER_ONLY_CLASSES else [])
    if not zones and not servers:
        return hooks.Exposure()
    key = f"loss:run:{run.pk}"
    read = snapshots.read(key, snapshots.basis_of(sorted(zones), customers, until.isoformat(), servers),
                          lambda: _compute(zones, customers, now, until, servers),
                          ("scenarios.loss.refresh", key, sorted(zones), customers, until.isoformat(), servers), now)
    if not read.data["available"]:
        return None
    rows = hooks.Exposure(read.data["rows"])
    rows.total, rows.computed_at, rows.refreshing = read.data["total"], read.computed_at, read.refreshing
    return rows


def refresh(key: str, zones: list[int], customers: list[int] | None, until: str | None = None,
            servers: list[int] | None = None) -> None:
    """RQ job: recompute one snapshot's exposure for the zones (or crashed servers) it was read for, ending when
    the loss began (`until`, ISO) for a run's. Safe to run twice."""
    from drportal.lib import clock

    now = clock.now()
    if until is None:
        snapshots.store(key, snapshots.basis_of(sorted(zones), customers), _compute(set(zones), customers, now), now)
        return
    end = datetime.fromisoformat(until)
    snapshots.store(key, snapshots.basis_of(sorted(zones), customers, until, servers or []),
                    _compute(set(zones), customers, now, end, servers), now)
