"""Seams to apps that other helpers own. Each hook imports lazily and says plainly when the other side is
not installed yet, so the engine and the pages keep working (and show "not available") until it lands.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from drportal.lib import timefmt

logger = logging.getLogger(__name__)


def send_customer_notice(row, *, subject: str, body: str) -> dict[str, Any] | None:
    """Hand a customer notice to the notifications app. Expected there:
    `notifications.api.notify_customers(incident_id=..., subject=..., body=..., dedupe_key=...) -> dict`
    (durable rows, one per recipient, sent by its own jobs; the same dedupe_key never queues twice, so a
    retried step sends nothing more). None when that function does not exist: the step then waits for a
    person to send the notice by hand."""
    try:
        from notifications.api import notify_customers  # type: ignore[attr-defined]
    except ImportError:
        return None
    result = notify_customers(incident_id=row.run.incident_id, subject=subject, body=body,
                              dedupe_key=row.idempotency_key, actor=f"job:run_step#{row.pk}")
    return result if isinstance(result, dict) else {"queued": True}


def _duration(seconds: float) -> str:
    return timefmt.duration(seconds)


# How many customers the readiness and run pages list, worst first; the rest are counted.
EXPOSURE_ROWS = 50


class Exposure(list):
    """The worst-off customers, worst first, with `total`: how many customers have data in the lost zones
    (and, when read from a snapshot, `computed_at` and `refreshing`)."""

    total: int = 0
    computed_at = None
    refreshing = False


# One statement for the whole inventory, from the sweep's precomputed recovery points (PolicyAssetStatus):
# per protected asset running in a lost zone, the newest copy that survives — everything when a synchronous
# Multi-AZ standby outside the lost zones takes over, the newest copy outside the asset's zone when the rest
# of its region survives, else the newest copy outside its region (conservative when only part of a region
# is lost) — then per customer the oldest of those, worst first.
EXPOSURE_SQL = """
WITH lost AS (
  SELECT z.id, z.region_id,
         EXISTS (SELECT 1 FROM inventory_zone oz WHERE oz.region_id = z.region_id AND oz.id <> z.id
                   AND oz.id = ANY(%(zones)s)) AS more_of_region
  FROM inventory_zone z WHERE z.id = ANY(%(zones)s)
), hit AS (
  SELECT a.id, a.customer_id, a.metadata, l.id AS zone_id, l.region_id, l.more_of_region
  FROM lost l JOIN inventory_server sv ON sv.zone_id = l.id JOIN inventory_asset a ON a.server_id = sv.id
  WHERE a.customer_id IS NOT NULL
  UNION ALL
  SELECT a.id, a.customer_id, a.metadata, l.id, l.region_id, l.more_of_region
  FROM lost l JOIN inventory_asset a ON a.zone_id = l.id
  WHERE a.server_id IS NULL AND a.customer_id IS NOT NULL
), scoped AS (
  SELECT h.id, h.customer_id, h.more_of_region,
         coalesce((h.metadata ->> 'multi_az') = 'true' AND EXISTS (
           SELECT 1 FROM inventory_zone sz WHERE sz.region_id = h.region_id AND sz.slug = h.metadata ->> 'standby_zone'
             AND NOT sz.id = ANY(%(zones)s)), false) AS standby
  FROM hit h WHERE %(all_customers)s OR h.customer_id = ANY(%(customers)s)
), per_asset AS (
  -- LATERAL: the asset's few pairs by index, never a scan of every pair
  SELECT h.customer_id,
         CASE WHEN h.standby THEN %(until)s WHEN h.more_of_region THEN pa.offregion ELSE pa.offzone END AS rp,
         pa.objective
  FROM scoped h CROSS JOIN LATERAL (
    SELECT max(s.offzone_recovery_point) AS offzone, max(s.offregion_recovery_point) AS offregion,
           min(extract(epoch FROM p.rpo_objective)) AS objective, count(*) AS pairs
    FROM backups_policyassetstatus s JOIN backups_backuppolicy p ON p.id = s.policy_id
    WHERE s.asset_id = h.id
  ) pa
  WHERE pa.pairs > 0
), per_customer AS (
  SELECT customer_id, count(*) AS assets, count(*) FILTER (WHERE rp IS NULL) AS lost_entirely, min(rp) AS oldest,
         bool_or(rp IS NULL OR extract(epoch FROM %(until)s - rp) > objective) AS breaches
  FROM per_asset GROUP BY customer_id
)
SELECT c.name, pc.assets, pc.lost_entirely, pc.oldest, pc.breaches, count(*) OVER ()
FROM per_customer pc JOIN inventory_customer c ON c.id = pc.customer_id
ORDER BY pc.lost_entirely > 0 DESC, pc.oldest ASC NULLS FIRST, c.name
LIMIT %(limit)s
"""


def customer_exposure(lost_zone_ids: set[int], now: datetime, customers=None,
                      limit: int = EXPOSURE_ROWS, until: datetime | None = None) -> Exposure | None:
    """What the customers with data in these zones would lose if the zones were lost now: worst window per
    customer, the `limit` worst first. One query whatever the number of customers (computing
    backups.exposure.customer_exposure customer by customer took minutes at 5,000 customers); the exact
    per-asset windows of one customer stay with the notifications app. None when the backups app is not
    installed. With `until` (when an incident's loss began) the windows end there instead of at `now`."""
    end = until or now
    try:
        from backups.models import PolicyAssetStatus  # noqa: F401 - the SQL reads its table
    except ImportError:
        return None
    from django.db import connection

    ids = [c.pk for c in customers] if customers is not None else []
    rows = Exposure()
    try:
        with connection.cursor() as cur:
            cur.execute(EXPOSURE_SQL, {"zones": sorted(lost_zone_ids), "until": end, "limit": limit,
                                       "all_customers": customers is None, "customers": ids})
            found = cur.fetchall()
    except Exception:  # the readiness and run pages must still render if the backups tables are not there
        logger.exception("customer exposure query failed")
        return None
    for name, assets, lost_entirely, oldest, breaches, total in found:
        rows.total = total
        seconds = None if lost_entirely or oldest is None else max((end - oldest).total_seconds(), 0.0)
        if seconds is None:
            explanation = (f"{lost_entirely} of {assets} protected asset(s) in the lost zones have no viable copy "
                           "outside them")
        elif seconds == 0:
            explanation = f"{assets} protected asset(s) in the lost zones; each survives (standby or fresh copy)"
        else:
            explanation = (f"{assets} protected asset(s) in the lost zones; the oldest of their newest surviving "
                           f"copies is from {timefmt.moment(oldest)} (as of the last backups sweep)")
        rows.append({
            "customer": name,
            "seconds_lost": seconds,
            "lost": "everything (no surviving copy)" if seconds is None else _duration(seconds),
            "explanation": explanation,
            "breaches": bool(breaches),
        })
    return rows


def recovery_point(server_ids: list[int], now: datetime) -> datetime | None:
    """The recovery point a recovery of these servers would reach: the oldest of the newest viable copies
    outside their zones (backups.exposure.data_loss_window), or None when unknown."""
    try:
        from backups.exposure import data_loss_window
    except ImportError:
        return None
    from drportal.inventory.models import Asset, Server

    zones = set(Server.objects.filter(pk__in=server_ids).values_list("zone_id", flat=True))
    try:
        assets = Asset.objects.filter(server_id__in=server_ids, backup_policies__isnull=False).distinct()
        points = [data_loss_window(asset, zones, now, include_down=False).recovery_point for asset in assets]
    except Exception:
        logger.exception("backups.exposure.data_loss_window failed")
        return None
    known = [p for p in points if p is not None]
    return min(known) if known and len(known) == len(points) else None


def image_locations(now: datetime, servers: list[int] | None = None) -> dict[int, set[str]] | None:
    """server id -> the regions ("provider/slug") holding a viable, unexpired system image of it, from the
    backups app's records (one query); None when that app is not installed. `servers`: only these servers'."""
    try:
        from backups.models import BackupPolicy, BackupRecord
    except ImportError:
        return None
    from django.db.models import Q

    from drportal.inventory.models import Asset

    # The server assets and image policies as subqueries, so PostgreSQL reads each server's records through the
    # (asset, policy, started) index instead of scanning every record (2,000,000 at bench scale: 1.5 s -> 0.4 s);
    # order_by() drops the model's ordering, which DISTINCT would otherwise keep as a column (10x the rows).
    assets = Asset.objects.filter(kind="server", server__isnull=False)
    if servers is not None:
        assets = assets.filter(server_id__in=servers)
    rows = BackupRecord.objects.filter(
        asset__in=assets.values("pk"),
        policy__in=BackupPolicy.objects.filter(kind="system_image").values("pk"), viable=True,
    ).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now)).order_by().values_list(
        "asset__server_id", "region__provider__slug", "region__slug", "zone__region__provider__slug",
        "zone__region__slug").distinct()
    found: dict[int, set[str]] = {}
    for server_id, provider, slug, zone_provider, zone_region in rows:
        if slug:
            found.setdefault(server_id, set()).add(f"{provider}/{slug}")
        if zone_region:
            found.setdefault(server_id, set()).add(f"{zone_provider}/{zone_region}")
    return found


def servers_with_image(locations: dict[int, set[str]], region: str) -> set[int]:
    """The servers with an image in `region` ("provider/slug" or "slug"; any region when empty)."""
    def fits(place: str) -> bool:
        return not region or place == region or ("/" not in region and place.endswith("/" + region))

    return {server_id for server_id, places in locations.items() if any(fits(p) for p in places)}
