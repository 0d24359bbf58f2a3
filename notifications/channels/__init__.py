"""One small adapter per channel. Each raises AdapterError; code tells the sender what state to record:
"refused" (the receiver said no: failed), "unavailable" (never left: queued again), "in_doubt" (the message
may have been accepted: a person decides)."""

from __future__ import annotations

from django.utils.module_loading import import_string

from notifications.choices import Channel

ADAPTERS = {
    Channel.EMAIL: "notifications.channels.email.EmailAdapter",
    Channel.WEBHOOK: "notifications.channels.webhook.WebhookAdapter",
    Channel.SMS: "notifications.channels.sms.HttpSmsGateway",
    Channel.APPRISE: "notifications.channels.apprise.AppriseAdapter",
}


def adapter_for(channel: str):
    from django.conf import settings

    path = getattr(settings, "NOTIFY_ADAPTERS", {}).get(channel) or ADAPTERS[channel]
    return import_string(path)()


def shown_address(channel: str, address: str) -> str:
    """What may be logged or audited: a webhook URL is a credential, so only its host is shown."""
    if channel == Channel.WEBHOOK:
        from urllib.parse import urlsplit

        return f"webhook at {urlsplit(address).hostname or '?'}"
    return address
