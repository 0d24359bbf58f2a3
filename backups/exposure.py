"""Exposure: what would be lost if zones went down now. This is where a plan's promise ("no data lost before
the early morning of the day") is checked against where the copies really are."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.db.models import Q

from backups.models import BackupRecord
from backups.outages import down_locations
from drportal.lib import timefmt


@dataclass(frozen=True)
class LossWindow:
    recovery_point: datetime | None
    source_backup_id: int | None
    location: str
    seconds_lost: float | None
    explanation: str
    asset_id: int | None = None
    asset_name: str = ""
    policy_name: str = ""
    # The tightest RPO objective among the asset's policies: what the plan promises for it.
    objective_seconds: float | None = None

    @property
    def breaches_objective(self) -> bool:
        if self.seconds_lost is None:
            return True
        return self.objective_seconds is not None and self.seconds_lost > self.objective_seconds


def surviving_regions(lost_zones: set[int]) -> set[int]:
    """Regions that keep at least one zone: a copy held at region level (a bucket, a Cloud Files container)
    survives while any zone of its region is up."""
    from drportal.inventory.models import Zone

    return set(Zone.objects.exclude(id__in=lost_zones).values_list("region_id", flat=True))


def surviving_copies(lost_zones: set[int], moment: datetime):
    """Viable copies that existed at `moment` (made by then, not yet expired) and that the loss of `lost_zones`
    did not take: in a zone still up, or at region level in a region that keeps a zone. A copy made after
    `moment` did not exist then: asked about a past moment (a drill of the demo's replayed month), the answer is
    what could have been restored at that moment."""
    surviving = surviving_regions(lost_zones)
    return (BackupRecord.objects.filter(viable=True, recovery_point__lte=moment)
            .exclude(checksum_ok=False)
            .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=moment))
            .filter(Q(zone__isnull=False, region_id__in=surviving) & ~Q(zone_id__in=lost_zones)
                    | Q(zone__isnull=True, region_id__in=surviving))
            .select_related("policy", "zone__region__provider", "region__provider"))


def _duration(seconds: float) -> str:
    return timefmt.duration(seconds)


def data_loss_window(asset, lost_zones: set[int], now: datetime, *, include_down: bool = True) -> LossWindow:
    """The newest viable recovery point of `asset` outside `lost_zones` (plus the zones down now, from open
    incidents, unless include_down=False), and how much data would be lost restoring from it."""
    lost = set(lost_zones)
    if include_down:
        lost |= set(down_locations()[0])
    zone = asset.current_zone
    objective = _objective(asset)
    base = {"asset_id": asset.pk, "asset_name": asset.name, "objective_seconds": objective}
    if zone is not None and zone.pk not in lost:
        return LossWindow(now, None, f"{zone} (running)", 0.0,
                          f"{asset.name} runs in {zone}, which is not lost: nothing is lost.", **base)
    standby = _standby_zone(asset, zone)
    if standby is not None and standby.pk not in lost:
        return LossWindow(now, None, f"{standby} (synchronous standby)", 0.0,
                          f"{asset.name} fails over to its synchronous standby in {standby}: nothing is lost.",
                          **base)
    best = surviving_copies(lost, now).filter(asset=asset).order_by("-recovery_point").first()
    where = str(zone) if zone is not None else "its location"
    if best is None:
        return LossWindow(None, None, "", None,
                          f"No viable copy of {asset.name} survives the loss of {where}: all its data would be lost.",
                          **base)
    seconds = max((now - best.recovery_point).total_seconds(), 0.0)
    text = (f"If {where} is lost, the newest viable copy of {asset.name} is the {best.policy} backup in "
            f"{best.location_label} from {timefmt.moment(best.recovery_point)}: {_duration(seconds)} of data "
            "would be lost")
    if objective is not None and seconds > objective:
        text += f", more than the plan's objective of {_duration(objective)}"
    return LossWindow(best.recovery_point, best.pk, best.location_label, seconds, text + ".",
                      policy_name=best.policy.name, **base)


def _standby_zone(asset, zone):
    """A Multi-AZ database's synchronous standby (inventory metadata: multi_az, standby_zone as the zone's slug
    in the primary's region) survives the loss of the primary's zone with every committed write."""
    from drportal.inventory.models import Zone

    meta = asset.metadata or {}
    if zone is None or not meta.get("multi_az") or not meta.get("standby_zone"):
        return None
    return Zone.objects.select_related("region__provider").filter(region_id=zone.region_id,
                                                                  slug=meta["standby_zone"]).first()


def _objective(asset) -> float | None:
    from backups.models import BackupPolicy

    objectives = BackupPolicy.objects.filter(assets=asset).values_list("rpo_objective", flat=True)
    return min((o.total_seconds() for o in objectives), default=None)


def customer_exposure(customer, lost_zones: set[int], now: datetime) -> list[LossWindow]:
    """One LossWindow per protected asset of the customer, worst first."""
    from drportal.inventory.models import Asset

    assets = Asset.objects.filter(customer=customer, backup_policies__isnull=False).distinct()
    assets = assets.select_related("server__zone__region__provider", "zone__region__provider")
    windows = [data_loss_window(a, lost_zones, now) for a in assets]
    return sorted(windows, key=lambda w: (w.seconds_lost is not None, -(w.seconds_lost or 0)))


@dataclass(frozen=True)
class ExposureRow:
    scope: str  # "zone" or "region"
    location_id: int
    location: str
    customer_id: int
    customer: str
    assets: int
    assets_without_copy: int
    oldest_recovery_point: datetime | None
    seconds_lost: float | None
    objective_seconds: float | None

    @property
    def breaches_objective(self) -> bool:
        if self.seconds_lost is None:
            return True
        return self.objective_seconds is not None and self.seconds_lost > self.objective_seconds

    @property
    def lost_label(self) -> str:
        return "everything" if self.seconds_lost is None else _duration(self.seconds_lost)

    @property
    def objective_label(self) -> str:
        return _duration(self.objective_seconds) if self.objective_seconds else ""


# Per asset, the newest surviving recovery point outside its zone and outside its region (across its
# policies), then per location and customer the worst of them. "customers" NULL means every customer.
STORE_SQL = """
WITH per_asset AS (
  SELECT s.asset_zone_id, s.asset_region_id, s.customer_id, s.asset_id,
         -- A synchronous Multi-AZ standby keeps every write when only the primary's zone is lost.
         bool_or((a.metadata ->> 'multi_az') = 'true' AND a.metadata ? 'standby_zone') AS standby,
         max(s.offzone_recovery_point) AS zone_rp,
         max(s.offregion_recovery_point) AS region_rp,
         min(extract(epoch FROM p.rpo_objective)) AS objective
  FROM backups_policyassetstatus s JOIN backups_backuppolicy p ON p.id = s.policy_id
  JOIN inventory_asset a ON a.id = s.asset_id
  WHERE s.customer_id IS NOT NULL AND s.asset_zone_id IS NOT NULL AND p.active
    AND (%(customers)s::bigint[] IS NULL OR s.customer_id = ANY(%(customers)s::bigint[]))
  GROUP BY 1, 2, 3, 4
), per_location AS MATERIALIZED (
  SELECT 'zone' AS scope, asset_zone_id AS location_id, customer_id, count(*) AS assets,
         count(*) FILTER (WHERE zone_rp IS NULL AND NOT standby) AS without,
         min(zone_rp) FILTER (WHERE NOT standby) AS oldest, min(objective) AS objective
  FROM per_asset GROUP BY asset_zone_id, customer_id
  UNION ALL
  SELECT 'region', asset_region_id, customer_id, count(*), count(*) FILTER (WHERE region_rp IS NULL), min(region_rp),
         min(objective)
  FROM per_asset GROUP BY asset_region_id, customer_id
), upserted AS (
  INSERT INTO backups_customerexposure (scope, location_id, customer_id, assets, assets_without_copy,
                                        everything_lost, oldest_recovery_point, objective_seconds)
  SELECT scope, location_id, customer_id, assets, without, without > 0,
         CASE WHEN without > 0 THEN NULL ELSE oldest END, objective
  FROM per_location ORDER BY scope, location_id, customer_id
  ON CONFLICT (scope, location_id, customer_id) DO UPDATE SET
    assets = EXCLUDED.assets, assets_without_copy = EXCLUDED.assets_without_copy,
    everything_lost = EXCLUDED.everything_lost, oldest_recovery_point = EXCLUDED.oldest_recovery_point,
    objective_seconds = EXCLUDED.objective_seconds
)
-- The customers' rows for places where they no longer run anything protected.
DELETE FROM backups_customerexposure e
WHERE (%(customers)s::bigint[] IS NULL OR e.customer_id = ANY(%(customers)s::bigint[]))
  AND NOT EXISTS (SELECT 1 FROM per_location f
                  WHERE f.scope = e.scope AND f.location_id = e.location_id AND f.customer_id = e.customer_id)
"""


def store(customers: set[int] | None = None) -> None:
    """Rewrite the exposure rows of these customers (None: of every customer) from their pairs' status rows.
    The sweep calls it with the customers whose pairs it recomputed: only a sweep changes those rows.
    One statement, an upsert in key order plus the delete of rows no longer produced, so two sweeps storing
    the same customer at once wait for each other instead of colliding on the unique key."""
    if customers is not None and not customers:
        return
    with connection.cursor() as cur:
        cur.execute(STORE_SQL, {"customers": sorted(customers) if customers is not None else None})


def _row(e, zones: dict[int, str], regions: dict[int, str], now: datetime) -> ExposureRow:
    oldest = e.oldest_recovery_point
    lost = None if e.everything_lost else (0.0 if oldest is None else max((now - oldest).total_seconds(), 0.0))
    return ExposureRow(e.scope, e.location_id, (zones if e.scope == "zone" else regions).get(e.location_id, "?"),
                       e.customer_id, e.customer.name, e.assets, e.assets_without_copy, oldest, lost,
                       e.objective_seconds)


def location_names() -> tuple[dict[int, str], dict[int, str]]:
    from drportal.inventory.models import Region, Zone

    zones = {z.pk: str(z) for z in Zone.objects.select_related("region__provider")}
    regions = {r.pk: str(r) for r in Region.objects.select_related("provider")}
    return zones, regions


def worst_first(scope: str | None = None):
    """The stored exposure rows, worst first (no surviving copy, then the largest loss), in index order."""
    from backups.models import CustomerExposure

    rows = CustomerExposure.objects.select_related("customer")
    if scope is not None:
        rows = rows.filter(scope=scope)
    return rows.order_by("scope", "-everything_lost", "oldest_recovery_point", "location_id", "customer_id")


def rows_of(page, now: datetime, names: tuple[dict[int, str], dict[int, str]] | None = None) -> list[ExposureRow]:
    zones, regions = names or location_names()
    return [_row(e, zones, regions, now) for e in page]


def region_exposure(now: datetime, scope: str | None = None) -> list[ExposureRow]:
    """For each zone and each region, and each customer with assets running there: what the customer would
    lose if it went down now (as of the last sweep). Worst first: customers with no surviving copy, then the
    largest loss."""
    return rows_of(worst_first(scope), now)
