"""Seams to apps that other helpers own. Each hook imports lazily and says plainly when the other side is
not installed yet, so the engine and the pages keep working (and show "not available") until it lands.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

logger = logging.getLogger(__name__)


def send_customer_notice(row, *, subject: str, body: str) -> dict[str, Any] | None:
    """Hand a customer notice to the notifications app. Expected there:
    `notifications.api.notify_customers(incident_id=..., subject=..., body=..., dedupe_key=...) -> dict`
    (durable rows, one per recipient, sent by its own jobs). None when that function does not exist:
    the step then waits for a person to send the notice by hand."""
    try:
        from notifications.api import notify_customers  # type: ignore[attr-defined]
    except ImportError:
        return None
    result = notify_customers(incident_id=row.run.incident_id, subject=subject, body=body,
                              dedupe_key=row.idempotency_key)
    return result if isinstance(result, dict) else {"queued": True}


def _duration(seconds: float) -> str:
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "", f"{rest // 60} min" if rest >= 60 else ""]
    return " ".join(p for p in parts if p) or f"{int(seconds)} s"


def customer_exposure(lost_zone_ids: set[int], now: datetime, customers=None) -> list[dict[str, Any]] | None:
    """What each customer would lose if these zones were lost now (backups.exposure.customer_exposure),
    worst window per customer; None when the backups app does not offer it."""
    try:
        from backups.exposure import customer_exposure as exposure
    except ImportError:
        return None
    from drportal.inventory.models import Customer

    rows: list[dict[str, Any]] = []
    try:
        for customer in customers if customers is not None else Customer.objects.filter(status="active"):
            windows = exposure(customer, set(lost_zone_ids), now)
            if not windows:
                continue
            worst = windows[0]
            rows.append({
                "customer": customer.name,
                "seconds_lost": worst.seconds_lost,
                "lost": ("everything (no surviving copy)" if worst.seconds_lost is None
                         else _duration(worst.seconds_lost)),
                "explanation": worst.explanation,
                "breaches": worst.breaches_objective,
            })
    except Exception:  # the readiness and run pages must still render if the backups app fails
        logger.exception("backups.exposure.customer_exposure failed")
        return None
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


def image_locations(now: datetime) -> dict[int, set[str]] | None:
    """server id -> the regions ("provider/slug") holding a viable, unexpired system image of it, from the
    backups app's records (one query); None when that app is not installed."""
    try:
        from backups.models import BackupRecord
    except ImportError:
        return None
    from django.db.models import Q

    rows = BackupRecord.objects.filter(
        asset__server__isnull=False, asset__kind="server", policy__kind="system_image", viable=True,
    ).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now)).values_list(
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
