"""Ops paged about backups that turned bad: the sweep (backups/sweep.py) writes a StatusChange row per flip, marked
alert=True when it is into a bad state; this claims each row once and pages ops. Registered with the sweep in
NotificationsConfig.ready() (backups.sweep.after_sweep), so backups never imports notifications."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from backups.models import StatusChange
from drportal.lib import timefmt
from notifications.api import notify_staff

# More alerts than this in one sweep (a data center went down) become one summary notice.
ALERT_SUMMARY_OVER = 20


def send_alerts(now: datetime) -> int:
    """Notify ops of each change into a bad state, once: the change row is claimed with a conditional
    update before the notice goes out, and the notice carries a dedupe key of the change."""
    pending = list(
        StatusChange.objects.filter(alert=True, notified_at__isnull=True)
        .select_related("pair__policy", "pair__asset").order_by("id")[:1000]
    )
    claimed = [c for c in pending if StatusChange.objects.filter(pk=c.pk, notified_at__isnull=True)
               .update(notified_at=now)]
    if not claimed:
        return 0
    if len(claimed) > ALERT_SUMMARY_OVER:
        lines = [f"{c.pair.asset} · {c.pair.policy}: {c.dimension} {c.before} → {c.after}" for c in claimed[:50]]
        notify_staff(role="ops", subject=f"Backups: {len(claimed)} policy-asset pairs changed to a bad state",
                     body="\n".join(lines), link=_url(reverse("backups:index")),
                     dedupe_key=f"backups:changes:{claimed[0].pk}-{claimed[-1].pk}")
        return len(claimed)
    # One notice per pair and sweep: a pair turning late and breached at once is one message.
    by_pair: dict[int, list[StatusChange]] = {}
    for c in claimed:
        by_pair.setdefault(c.pair_id, []).append(c)
    for group in by_pair.values():
        pair = group[0].pair
        words = ", ".join(c.after.replace("_", " ") for c in group)
        # Staff read these in the display zone, as the pages show times.
        with timezone.override(settings.DISPLAY_TIME_ZONE):
            body = "\n".join(f"{c.dimension.replace('_', ' ')}: {c.before} → {c.after} at {timefmt.moment(c.at)}"
                             for c in group)
        notify_staff(role="ops", subject=f"Backups: {pair.asset} is {words} ({pair.policy})", body=body,
                     link=_url(reverse("backups:asset", args=[pair.asset_id])),
                     dedupe_key="backups:change:" + ",".join(str(c.pk) for c in group))
    return len(claimed)


def _url(path: str) -> str:
    from django.conf import settings

    return settings.SITE_URL.rstrip("/") + path
