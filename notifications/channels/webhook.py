"""Slack-compatible incoming webhook: POST {"text": ...}; any 2xx means posted."""

from __future__ import annotations

from notifications.channels.base import ChannelAdapter, Message
from notifications.channels.http import post_json


class WebhookAdapter(ChannelAdapter):
    name = "webhook"
    channel = "webhook"

    def send(self, message: Message) -> None:
        text = f"*{message.subject}*\n{message.text}".strip()
        post_json(self.name, message.address, {"text": text})
