from __future__ import annotations

from django.db import models


class NoticeKind(models.TextChoices):
    OUTAGE_DECLARED = "outage_declared", "Outage declared"
    UPDATE = "update", "Update with the expected timeline"
    RESTORED = "restored", "Service restored"
    DATA_LOSS = "data_loss", "Data-loss statement"
    # Written by a runbook notify step (notifications.api.notify_customers): the step's text, not a template's.
    RUNBOOK = "runbook", "Runbook step"


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    WEBHOOK = "webhook", "Webhook (Slack-compatible)"
    SMS = "sms", "SMS"
    # Any Apprise URL (Slack, Teams, PagerDuty, Opsgenie, ntfy, ...): the address is "apprise:<AppriseChannel id>".
    APPRISE = "apprise", "Apprise channel"


class DeliveryState(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    # The receiver may have accepted it, but the worker died before recording so: a person decides.
    IN_DOUBT = "in_doubt", "In doubt"
    # Accepted by our SMTP server, then returned by the recipient's (a delivery status notification).
    BOUNCED = "bounced", "Bounced"


class AudienceSource(models.TextChoices):
    COMPUTED = "computed", "Affected (computed from the incident)"
    ADDED = "added", "Added by support"


class WorkLocation(models.TextChoices):
    HOME = "home", "Home"
    COWORKING = "coworking", "Co-working space"
    OTHER = "other", "Other"


class ExportState(models.TextChoices):
    REQUESTED = "requested", "Requested"
    BUILDING = "building", "Building"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"
