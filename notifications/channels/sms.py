"""SMS through an HTTP gateway. The default speaks a plain JSON protocol ({"to", "text", "reference"} with a
bearer token); another gateway is another class named in settings.NOTIFY_ADAPTERS["sms"]."""

from __future__ import annotations

import os

from django.conf import settings

from notifications.channels.base import UNCONFIGURED, ChannelAdapter, Message
from notifications.channels.http import post_json


class HttpSmsGateway(ChannelAdapter):
    name = "sms-gateway"
    channel = "sms"

    def open(self) -> None:
        self.url = getattr(settings, "SMS_GATEWAY_URL", "") or os.environ.get("SMS_GATEWAY_URL", "")
        if not self.url:
            raise self.error("no SMS gateway configured (SMS_GATEWAY_URL)", UNCONFIGURED)

    def send(self, message: Message) -> None:
        token = os.environ.get("SMS_GATEWAY_TOKEN", "")
        headers = {"Idempotency-Key": f"drportal-delivery-{message.delivery_id}"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        post_json(self.name, self.url, {"to": message.address, "text": message.text[:640],
                                        "reference": str(message.delivery_id)}, headers=headers)
