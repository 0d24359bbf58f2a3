"""The dashboard's card of incidents proposed by alerts, for ops to declare with one click."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest

from drportal.accounts.access import Role, has_role
from drportal.opsapi.choices import ProposalState
from drportal.opsapi.models import AlertProposal


def dashboard_panels(request: HttpRequest, now: datetime) -> list[dict]:
    """One query: the open proposals (none: no card)."""
    rows = list(AlertProposal.objects.filter(state=ProposalState.PROPOSED).select_related("rule")
                .order_by("-last_seen_at")[:10])
    if not rows:
        return []
    return [{"template": "opsapi/panel.html",
             "data": {"proposals": rows, "can_declare": has_role(request.user, Role.OPS)}}]
