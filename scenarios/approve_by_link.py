"""Approving a step from its message link (scenarios/approval_links.py): the link spent and the step approved,
both or neither.

Its own module, above both the engine and approval_links: the engine pages approvers through approval_links, and
this approves through the engine (issue 15: approval_links and the engine imported each other).
"""

from __future__ import annotations

from django.db import transaction

from drportal.audit import log as audit
from drportal.lib import clock
from scenarios import engine
from scenarios.approval_links import LinkInvalid, read
from scenarios.models import ApprovalLink, StepRun


def confirm(token: str, user, *, notes: str = "") -> StepRun:
    """Approve the link's step as `user` and spend the link, both or neither."""
    with transaction.atomic():
        link = read(token, user)
        now = clock.now()
        # The conditional update is the single use: of two confirmations racing, one sets used_at.
        if not ApprovalLink.objects.filter(pk=link.pk, used_at__isnull=True, expires_at__gt=now).update(used_at=now):
            raise LinkInvalid("This approval link was already used.")
        audit.record(user, "approval_link.used", link, after={"step": link.step_id, "used_at": now.isoformat()})
        return engine.approve(link.step_id, user, approved=True, notes=notes or "approved from the message link")
