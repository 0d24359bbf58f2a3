"""What the backups app puts on the front dashboard: the panel list the dashboard template includes."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest

from backups.models import PolicyAssetStatus


def dashboard_panels(request: HttpRequest, now: datetime) -> list[dict]:
    """Two queries whatever the data: the counts per colour the last sweep stored, and the 10 worst pairs by
    deadline (an index on overall, next_deadline, id)."""
    from backups.sweep import counts as stored_counts

    counts = stored_counts()
    worst = list(
        PolicyAssetStatus.objects.filter(overall="bad")
        .select_related("policy", "asset", "customer").order_by("next_deadline", "id")[:10]
    )
    return [{"template": "backups/panel.html", "data": {"counts": counts, "worst": worst}}]
