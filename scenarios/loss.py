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
    from drportal.incidents import scope as incident_scope

    incident = run.incident
    until = incident.loss_began_at
    scope = incident_scope.of(incident)
    servers = list(scope.crashed_servers) if scope.rule == incident_scope.RULE_SERVER else []
    zones, customers = (set(), list(scope.customers)) if servers else lost_of(scope)
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
