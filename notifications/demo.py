"""Demo data of the notifications app (run by `manage.py load_demo`, idempotent): when `make run` has started its
HTTP sink (SINK_WEBHOOK_URL), the ops channel's webhook points at it, so staff pages show up on the Outbox page
as a chat channel would receive them."""

from __future__ import annotations

import os
from datetime import datetime

from drportal.audit import log as audit

NAME = "ops channel (demo sink)"


def load(now: datetime, stdout=None) -> None:
    from notifications.models import WebhookTarget

    url = os.environ.get("SINK_WEBHOOK_URL", "")
    if not url:
        return
    target, made = WebhookTarget.objects.get_or_create(name=NAME, defaults={"url": url, "role": "ops"})
    if not made and target.url != url:
        # The sink's port is chosen when make run starts.
        WebhookTarget.objects.filter(pk=target.pk).update(url=url)
        # The URL is a credential: the audit says that it changed, not what it is.
        audit.record("command:load_demo", "webhook_target.updated", target, None, {"url": "changed", "demo": True})
    if made:
        audit.record("command:load_demo", "webhook_target.created", target, None, {"role": "ops", "demo": True})
    if stdout is not None:
        stdout.write(f"notifications: staff pages for ops also go to the demo's webhook sink ({NAME})")
