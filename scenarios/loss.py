"""The data-loss window of a run's incident, as the run page shows it: the customers with data in the lost
zones, worst first (their notices' windows, notifications.losswindow; hooks.customer_exposure before any
incident), kept in a Snapshot row per run so the page, which ops reload
all through a recovery, does not recompute it for thousands of customers on every view."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from drportal.incidents.models import Incident
from drportal.lib import timefmt
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
    return _exposure(read)


def _exposure(read: snapshots.Read) -> hooks.Exposure | None:
    if not read.data["available"]:
        return None
    rows = hooks.Exposure(read.data["rows"])
    rows.total, rows.computed_at, rows.refreshing = read.data["total"], read.computed_at, read.refreshing
    return rows


def for_run(run: Run, now: datetime) -> hooks.Exposure | None:
    """The run's loss window, worst first, with `computed_at`; None when the backups app does not offer it.
    Per customer, the worst of the windows their notices state (notifications.losswindow, the one computation):
    from the recovery point the run's restore used (or the newest copy that existed when the loss began) to
    the moment the loss began, so it grows neither while the run goes on nor with backups made after the
    recovery; a single crashed server's window is that of the data it held, not its zone's."""
    from drportal.incidents import scope as incident_scope

    incident = run.incident
    scope = incident_scope.of(incident)
    if not scope.assets:
        return hooks.Exposure()
    try:
        basis = _run_basis(incident, scope)
    except ImportError:
        return None
    key = f"loss:run:{run.pk}"
    read = snapshots.read(key, basis,
                          lambda: incident_rows(incident.pk, now), ("scenarios.loss.refresh_run", key, run.pk), now)
    return _exposure(read)


def incident_rows(incident_id: int, now: datetime) -> dict[str, Any]:
    """The worst `hooks.EXPOSURE_ROWS` customers of the incident by their own data-loss window."""
    try:
        from notifications import losswindow
    except ImportError:
        return {"available": False}
    from django.db.models import Min

    from drportal.inventory.models import Asset, Customer

    incident = Incident.objects.get(pk=incident_id)
    scope = losswindow.Scope(incident)
    objectives = {name: rpo.total_seconds() for name, rpo in Asset.objects.filter(pk__in=scope.asset_ids)
                  .annotate(rpo=Min("backup_policies__rpo_objective")).values_list("name", "rpo") if rpo}
    rows = []
    for customer in Customer.objects.filter(pk__in=scope.assets_by_customer):
        window = losswindow.window(customer, scope, now)
        if window.rows:
            rows.append(customer_row(customer.name, window.rows, objectives))
    rows.sort(key=lambda r: (r["seconds_lost"] is not None, -(r["seconds_lost"] or 0), r["customer"]))
    return {"available": True, "rows": rows[:hooks.EXPOSURE_ROWS], "total": len(rows)}


def customer_row(name: str, assets: list, objectives: dict[str, float]) -> dict[str, Any]:
    """One customer's line: their worst asset's window, in the words of their notice."""
    unknown = [a for a in assets if not a.known or a.seconds_lost is None]
    worst = unknown[0] if unknown else max(assets, key=lambda a: a.seconds_lost)
    seconds = None if unknown else worst.seconds_lost
    explanation = (f"{len(unknown)} of {len(assets)} asset(s): {worst.asset}: {worst.explanation}" if unknown
                   else f"{worst.asset}: {worst.explanation}")
    breaches = bool(unknown) or any(a.seconds_lost > objectives[a.asset] for a in assets if a.asset in objectives)
    return {"customer": name, "seconds_lost": seconds,
            "lost": "everything (no surviving copy)" if seconds is None else timefmt.duration(seconds),
            "explanation": explanation, "breaches": breaches}


def refresh_run(key: str, run_id: int) -> None:
    """RQ job: recompute a run's loss window snapshot (for_run). Safe to run twice."""
    from drportal.incidents import scope as incident_scope
    from drportal.lib import clock

    now = clock.now()
    run = Run.objects.select_related("incident").get(pk=run_id)
    basis = _run_basis(run.incident, incident_scope.of(run.incident))
    snapshots.store(key, basis, incident_rows(run.incident_id, now), now)


def _run_basis(incident: Incident, scope) -> str:
    """What a run's window rests on: the incident's scope, when its loss began, and the copies its restores
    used (a recovery point chosen or restored makes the stored window stale at once)."""
    from notifications.losswindow import POINTS_USED

    used = {k: v for source in POINTS_USED for k, v in source(incident.pk).items()}
    return snapshots.basis_of(scope.as_json(), incident.loss_began_at.isoformat(), used)


def refresh(key: str, zones: list[int], customers: list[int] | None) -> None:
    """RQ job: recompute one snapshot's exposure for the zones it was read for. Safe to run twice."""
    from drportal.lib import clock

    now = clock.now()
    snapshots.store(key, snapshots.basis_of(sorted(zones), customers), _compute(set(zones), customers, now), now)
