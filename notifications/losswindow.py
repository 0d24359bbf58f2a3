"""Each customer's data-loss window for an incident: what they can expect to recover and what they will need
to re-enter. The one place notifications reads backup records (through backups.exposure)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from django.db.models import F, Window
from django.db.models.functions import RowNumber

from drportal.incidents.models import Incident
from drportal.inventory.models import Customer
from drportal.lib import timefmt
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
    return "no data" if int(seconds) <= 0 else timefmt.duration(seconds)


# The copy a recovery really restored (or is set to restore) is known to the runbook engine, a layer above:
# it registers a source here (scenarios.apps), asset name -> (recovery point, location) for an incident.
POINTS_USED: list = []


def register_points_used(source) -> None:
    if source not in POINTS_USED:
        POINTS_USED.append(source)


class Scope:
    """What an incident lost, computed once and reused for every customer of a notice."""

    def __init__(self, incident: Incident):
        self.incident = incident
        # Windows end when the loss began, not at "now": a notice sent a day later states the same window.
        self.until = incident.loss_began_at
        self.lost_zones = audience.lost_zone_ids(incident)
        self.crashed_servers = audience.crashed_server_ids(incident)
        # customer id -> [(asset id, name, kind)] of the assets the incident hit: one query for the whole notice.
        self.assets_by_customer: dict[int, list[tuple[int, str, str]]] = {}
        for pk, name, kind, customer_id in audience.affected_assets(incident, self.lost_zones).values_list(
            "id", "name", "kind", "customer_id"
        ):
            self.assets_by_customer.setdefault(customer_id, []).append((pk, name, kind))
        self.asset_ids = {a[0] for assets in self.assets_by_customer.values() for a in assets}
        self._crashed: dict[int, list[LossRow]] | None = None
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
        self._exposure: dict[int, list] | None = None

    def exposure(self, customer_id: int, now: datetime) -> list:
        """backups.exposure.customer_exposure for the customer's hit assets, computed for the whole notice at
        once on first use (a handful of queries instead of about eight per protected asset)."""
        if self._exposure is None:
            self._exposure = {}
            for window in bulk_loss_windows(self.asset_ids, self.lost_zones, now, until=self.until):
                self._exposure.setdefault(window.customer_id, []).append(window.window)
            for windows in self._exposure.values():
                windows.sort(key=lambda w: (w.seconds_lost is not None, -(w.seconds_lost or 0)))
        return self._exposure.get(customer_id, [])

    def crashed_storage(self, customer_id: int, now: datetime) -> list[LossRow]:
        """The rows of the customer's hit assets on a crashed server, each from its newest viable copy stored
        off that server: computed for the whole notice at once on first use (four queries, where it was six
        per customer: a run page over 20 crashed servers made 1,200)."""
        if self._crashed is None:
            self._crashed = crashed_storage_rows(self, now)
        # Copies: a caller adjusts its rows (the recovery point a person chose) and must not change ours.
        return [replace(row) for row in self._crashed.get(customer_id, [])]


def window(customer: Customer, scope: Scope, now: datetime) -> LossWindow:
    """The customer's window for the incident, from backups.exposure. Only the customer's assets the incident
    hit are listed (an unprotected one says so); backups stored on a crashed server count as lost with it."""
    try:
        from backups import exposure  # noqa: F401 - only whether the backups app is installed
    except ImportError:
        return LossWindow(known=False, summary="The data-loss window cannot be computed: backup records are "
                          "not available in this installation.")
    if customer.pk not in scope.assets_by_customer:
        # Hit through a service only (an application server, a load balancer): no data of theirs was lost.
        return LossWindow(known=True, rows=[], summary="None of your data is affected.")
    rows = []
    protected = scope.protected_customers is None or customer.pk in scope.protected_customers
    for raw in scope.exposure(customer.pk, now) if protected else ():
        asset_id = _get(raw, "asset_id")
        if asset_id is not None and asset_id not in scope.asset_ids:
            continue
        rows.append(_row(raw))
    rows = _without_crashed_storage(customer, scope, rows, now)
    rows = _with_points_used(scope, rows)
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


def _with_points_used(scope: Scope, rows: list[LossRow]) -> list[LossRow]:
    """A person chose the copy to restore (an older one, before a corruption): the window runs from that copy,
    not from the newest one that survives."""
    if not hasattr(scope, "points_used"):
        scope.points_used = {}
        for source in POINTS_USED:
            scope.points_used.update(source(scope.incident.pk))
    for row in rows:
        used = scope.points_used.get(row.asset)
        if used is None or row.recovery_point is None or row.seconds_lost is None:
            continue
        point, location = used
        row.seconds_lost = max(row.seconds_lost + (row.recovery_point - point).total_seconds(), 0.0)
        row.recovery_point, row.location = point, location
        row.explanation = (f"restored from the copy chosen for the recovery, {location} from "
                           f"{point:%Y-%m-%d %H:%M} UTC")
    return rows


def _unprotected(customer: Customer, scope: Scope, listed: set[str]) -> list[LossRow]:
    from drportal.inventory.choices import AssetKind

    databases = (AssetKind.DATABASE, AssetKind.MANAGED_DATABASE)
    return [LossRow(name, None, None, "", "no backup policy protects it")
            for _pk, name, kind in scope.assets_by_customer.get(customer.pk, [])
            if kind in databases and name not in listed]


def _without_crashed_storage(customer: Customer, scope: Scope, rows: list[LossRow], now: datetime) -> list[LossRow]:
    if not scope.crashed_servers:
        return rows
    by_name = {r.asset: r for r in rows}
    by_name.update((row.asset, row) for row in scope.crashed_storage(customer.pk, now))
    return list(by_name.values())


# Of an asset's newest copies off the crashed server, how many are looked at for one still viable now.
CANDIDATES = 20


def crashed_storage_rows(scope: Scope, now: datetime) -> dict[int, list[LossRow]]:
    """Customer id -> a row per hit asset of theirs on a crashed server: the newest viable copy made by the
    time of the loss and stored off that server, or none."""
    from backups.models import BackupRecord
    from drportal.inventory.models import Asset, Server

    crashed = Server.objects.filter(id__in=scope.crashed_servers)
    on_server = {s.name for s in crashed} | {s.provider_node_id for s in crashed if s.provider_node_id}
    hit = list(Asset.objects.filter(id__in=scope.asset_ids, server_id__in=scope.crashed_servers)
               .select_related("server"))
    if not hit:
        return {}
    # Copies on the crashed server's attached storage are only a hope (the plan tries them first);
    # the promise to the customer rests on the newest viable copy stored elsewhere.
    candidates = (
        BackupRecord.objects.filter(asset__in=hit, viable=True, recovery_point__isnull=False,
                                    recovery_point__lte=scope.until)
        .exclude(container__in=on_server)
        .annotate(newest=Window(RowNumber(), partition_by=F("asset_id"), order_by=F("recovery_point").desc()))
        .filter(newest__lte=CANDIDATES).order_by("asset_id", "newest")
        .select_related("zone__region__provider", "region__provider")
    )
    best: dict[int, Any] = {}
    for record in candidates:
        if record.asset_id not in best and record.is_viable_at(now):
            best[record.asset_id] = record
    rows: dict[int, list[LossRow]] = {}
    for asset in hit:
        rows.setdefault(asset.customer_id, []).append(_off_server_row(asset, best.get(asset.pk), scope.until))
    return rows


def _off_server_row(asset: Any, record: Any, until: datetime) -> LossRow:
    if record is None:
        return LossRow(asset.name, None, None, "", "no viable backup outside the crashed server")
    return LossRow(asset.name, record.recovery_point, (until - record.recovery_point).total_seconds(),
                   record.location_label, f"restored from the newest viable backup off {asset.server.name}")


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


@dataclass(frozen=True)
class _AssetWindow:
    customer_id: int
    window: Any  # backups.exposure.LossWindow


def bulk_loss_windows(asset_ids: set[int], lost_zones: set[int], now: datetime,
                      until: datetime | None = None) -> list[_AssetWindow]:
    """backups.exposure.data_loss_window for every protected asset among `asset_ids`, in five queries whatever
    their number. The same rules and words, asset for asset (tests/notifications/test_losswindow.py checks
    both agree): running outside the lost zones or a synchronous standby outside them loses nothing; else the
    newest viable, unexpired copy held outside the lost zones in a surviving region.
    With `until` (when the loss began), only copies made by then count and the window ends there, not at
    `now`: copies made after the loss (of a restored database, say) cannot hold the lost data; and an asset
    counts as hit wherever it runs now, since a replacement elsewhere (the recovery's) does not hold what was
    written before it."""
    end = until or now
    from django.db.models import Min

    from backups.exposure import LossWindow as Window
    from backups.models import PolicyAssetStatus
    from backups.outages import down_locations
    from drportal.inventory.models import Asset

    objectives = dict(
        PolicyAssetStatus.objects.filter(asset_id__in=asset_ids).values("asset_id")
        .annotate(rpo=Min("policy__rpo_objective")).values_list("asset_id", "rpo")
    )
    if not objectives:
        return []
    lost = set(lost_zones) | set(down_locations()[0])
    assets = list(Asset.objects.filter(id__in=objectives).select_related("server__zone__region__provider",
                                                                          "zone__region__provider"))
    standbys = _standby_zones(assets)
    out: list[_AssetWindow] = []
    need: dict[int, Asset] = {}
    for asset in assets:
        objective = objectives[asset.pk]
        base = {"asset_id": asset.pk, "asset_name": asset.name,
                "objective_seconds": objective.total_seconds() if objective is not None else None}
        zone = asset.current_zone
        meta = asset.metadata or {}
        standby = (standbys.get((zone.region_id, meta["standby_zone"]))
                   if zone is not None and meta.get("multi_az") and meta.get("standby_zone") else None)
        # The incident's scope says these assets were hit when the loss began (until): their zone now may be
        # that of their replacement, which holds nothing written before the loss.
        hit_at_loss = until is not None and bool(lost_zones)
        if zone is not None and zone.pk not in lost and not hit_at_loss:
            window = Window(end, None, f"{zone} (running)", 0.0,
                            f"{asset.name} runs in {zone}, which is not lost: nothing is lost.", **base)
        elif standby is not None and standby.pk not in lost:
            window = Window(end, None, f"{standby} (synchronous standby)", 0.0,
                            f"{asset.name} fails over to its synchronous standby in {standby}: nothing is lost.",
                            **base)
        else:
            need[asset.pk] = asset
            continue
        out.append(_AssetWindow(asset.customer_id, window))
    if need:
        best = _newest_surviving_copies(need, lost, end)
        for asset in need.values():
            objective = objectives[asset.pk]
            objective = objective.total_seconds() if objective is not None else None
            window = _copy_window(asset, best.get(asset.pk), objective, lost, end, until)
            out.append(_AssetWindow(asset.customer_id, window))
    return out


def _standby_zones(assets) -> dict:
    """(region id, zone slug) -> Zone of the synchronous standbys the multi-AZ databases among `assets` name."""
    from drportal.inventory.models import Zone

    wanted = {(a.current_zone.region_id, (a.metadata or {}).get("standby_zone")) for a in assets
              if a.current_zone is not None and (a.metadata or {}).get("multi_az")
              and (a.metadata or {}).get("standby_zone")}
    standbys = {}
    if wanted:
        for zone in Zone.objects.select_related("region__provider").filter(
                region_id__in={r for r, _ in wanted}, slug__in={s for _, s in wanted}):
            standbys[(zone.region_id, zone.slug)] = zone
    return standbys


def _newest_surviving_copies(need: dict, lost: set[int], end: datetime) -> dict:
    """Asset id -> its newest viable, unexpired copy made by `end` and held outside `lost` in a surviving region
    (a copy that existed when the loss began is the recovery point the window is measured from)."""
    from backups.exposure import surviving_copies

    return {r.asset_id: r for r in surviving_copies(lost, end).filter(asset_id__in=need)
            .order_by("asset_id", "-recovery_point").distinct("asset_id")}


def _copy_window(asset, record, objective: float | None, lost: set[int], end: datetime, until: datetime | None):
    """The loss window of an asset restored from `record` (None: no copy survives), in data_loss_window's words."""
    from backups.exposure import LossWindow as Window

    base = {"asset_id": asset.pk, "asset_name": asset.name, "objective_seconds": objective}
    zone = asset.current_zone
    where = "its location" if zone is None else str(zone) if zone.pk in lost else "its data center"
    if record is None:
        return Window(None, None, "", None, f"No viable copy of {asset.name} survives the loss of "
                      f"{where}: all its data would be lost.", **base)
    seconds = max((end - record.recovery_point).total_seconds(), 0.0)
    if until is None:
        text = (f"If {where} is lost, the newest viable copy of {asset.name} is the {record.policy} "
                f"backup in {record.location_label} from {timefmt.moment(record.recovery_point)}: "
                f"{timefmt.duration(seconds)} of data would be lost")
    else:
        text = (f"The newest viable copy of {asset.name} made before {where} was lost is the "
                f"{record.policy} backup in {record.location_label} from "
                f"{timefmt.moment(record.recovery_point)}: the {timefmt.duration(seconds)} of data written "
                "after it, up to the outage, is lost")
    if objective is not None and seconds > objective:
        text += f", more than the plan's objective of {timefmt.duration(objective)}"
    return Window(record.recovery_point, record.pk, record.location_label, seconds, text + ".",
                  policy_name=record.policy.name, **base)
