"""Each customer's data-loss window for an incident: what they can expect to recover and what they will need
to re-enter. The one place notifications reads backup records (through backups.exposure)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from drportal.incidents.models import Incident
from drportal.inventory.models import Customer
from notifications import audience


@dataclass
class LossRow:
    asset: str
    recovery_point: datetime | None
    seconds_lost: float | None
    location: str
    explanation: str

    @property
    def known(self) -> bool:
        return self.recovery_point is not None

    @property
    def lost_for(self) -> str:
        return humanize(self.seconds_lost)


@dataclass
class LossWindow:
    known: bool
    rows: list[LossRow] = field(default_factory=list)
    summary: str = ""

    @property
    def worst_seconds(self) -> float | None:
        values = [r.seconds_lost for r in self.rows if r.seconds_lost is not None]
        return max(values) if values else None

    @property
    def worst(self) -> str:
        return humanize(self.worst_seconds)

    def as_context(self) -> dict[str, Any]:
        rows = [
            {"asset": r.asset, "recovery_point": r.recovery_point, "seconds_lost": r.seconds_lost,
             "lost_for": r.lost_for, "location": r.location, "explanation": r.explanation, "known": r.known}
            for r in self.rows
        ]
        return {"known": self.known, "summary": self.summary, "rows": rows, "worst_seconds": self.worst_seconds,
                "worst": self.worst}


def humanize(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    seconds = max(0, int(seconds))
    if seconds < 60:
        return "no data" if seconds == 0 else f"{seconds} seconds"
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if days:
        return f"{days} day{'s' * (days != 1)} {hours % 24} h"
    if hours:
        return f"{hours} h {minutes % 60} min"
    return f"{minutes} min"


class Scope:
    """What an incident lost, computed once and reused for every customer of a notice."""

    def __init__(self, incident: Incident):
        self.incident = incident
        self.lost_zones = audience.lost_zone_ids(incident)
        self.crashed_servers = audience.crashed_server_ids(incident)
        # customer id -> [(asset id, name, kind)] of the assets the incident hit: one query for the whole notice.
        self.assets_by_customer: dict[int, list[tuple[int, str, str]]] = {}
        for pk, name, kind, customer_id in audience.affected_assets(incident, self.lost_zones).values_list(
            "id", "name", "kind", "customer_id"
        ):
            self.assets_by_customer.setdefault(customer_id, []).append((pk, name, kind))
        self.asset_ids = {a[0] for assets in self.assets_by_customer.values() for a in assets}
        # Customers with at least one hit asset under a backup policy: only they need backups.exposure.
        self.protected_customers: set[int] | None = None
        try:
            from backups.models import PolicyAssetStatus
        except ImportError:
            return
        self.protected_customers = set(
            PolicyAssetStatus.objects.filter(asset__in=audience.affected_assets(incident, self.lost_zones))
            .values_list("asset__customer_id", flat=True).distinct()
        )


def window(customer: Customer, scope: Scope, now: datetime) -> LossWindow:
    """The customer's window for the incident, from backups.exposure. Only the customer's assets the incident
    hit are listed (an unprotected one says so); backups stored on a crashed server count as lost with it."""
    try:
        from backups import exposure
    except ImportError:
        return LossWindow(known=False, summary="The data-loss window cannot be computed: backup records are "
                          "not available in this installation.")
    if customer.pk not in scope.assets_by_customer:
        # Hit through a service only (an application server, a load balancer): no data of theirs was lost.
        return LossWindow(known=True, rows=[], summary="None of your data is affected.")
    rows = []
    protected = scope.protected_customers is None or customer.pk in scope.protected_customers
    for raw in exposure.customer_exposure(customer, scope.lost_zones, now) if protected else ():
        asset_id = _get(raw, "asset_id")
        if asset_id is not None and asset_id not in scope.asset_ids:
            continue
        rows.append(_row(raw))
    rows = _without_crashed_storage(customer, scope, rows, now)
    rows += _unprotected(customer, scope, {r.asset for r in rows})
    known = all(r.known for r in rows)
    if not rows:
        return LossWindow(known=True, rows=[], summary="None of your data is affected.")
    if known:
        worst = max(r.seconds_lost or 0 for r in rows)
        summary = ("All of your data can be recovered." if worst == 0 else
                   f"Your data can be recovered up to the times below; up to {humanize(worst)} of recent data "
                   "may need to be re-entered.")
    else:
        summary = "For some of your data no viable backup survives; we will contact you about reconstituting it."
    return LossWindow(known=known, rows=rows, summary=summary)


def _unprotected(customer: Customer, scope: Scope, listed: set[str]) -> list[LossRow]:
    from drportal.inventory.choices import AssetKind

    databases = (AssetKind.DATABASE, AssetKind.MANAGED_DATABASE)
    return [LossRow(name, None, None, "", "no backup policy protects it")
            for _pk, name, kind in scope.assets_by_customer.get(customer.pk, [])
            if kind in databases and name not in listed]


def _without_crashed_storage(customer: Customer, scope: Scope, rows: list[LossRow], now: datetime) -> list[LossRow]:
    if not scope.crashed_servers:
        return rows
    from backups.models import BackupRecord
    from drportal.inventory.models import Asset, Server

    crashed = Server.objects.filter(id__in=scope.crashed_servers)
    on_server = {s.name for s in crashed} | {s.provider_node_id for s in crashed if s.provider_node_id}
    mine = [pk for pk, _name, _kind in scope.assets_by_customer.get(customer.pk, [])]
    hit = Asset.objects.filter(id__in=mine, server_id__in=scope.crashed_servers).select_related("server")
    by_name = {r.asset: r for r in rows}
    for asset in hit:
        # Copies on the crashed server's attached storage are only a hope (the plan tries them first);
        # the promise to the customer rests on the newest viable copy stored elsewhere.
        candidates = (
            BackupRecord.objects.filter(asset=asset, viable=True, recovery_point__isnull=False)
            .exclude(container__in=on_server).order_by("-recovery_point")
        )
        record = next((r for r in candidates[:20] if r.is_viable_at(now)), None)
        if record is None:
            by_name[asset.name] = LossRow(asset.name, None, None, "", "no viable backup outside the crashed server")
        else:
            by_name[asset.name] = LossRow(
                asset.name, record.recovery_point, (now - record.recovery_point).total_seconds(),
                record.location_label, f"restored from the newest viable backup off {asset.server.name}",
            )
    return list(by_name.values())


def _get(raw: Any, name: str) -> Any:
    return raw.get(name) if isinstance(raw, dict) else getattr(raw, name, None)


def _row(raw: Any) -> LossRow:
    asset = _get(raw, "asset_name") or _get(raw, "asset")
    location = _get(raw, "location")
    return LossRow(
        asset=str(getattr(asset, "name", asset) or ""),
        recovery_point=_get(raw, "recovery_point"),
        seconds_lost=_get(raw, "seconds_lost"),
        location=str(getattr(location, "location_label", location) or ""),
        explanation=str(_get(raw, "explanation") or ""),
    )
