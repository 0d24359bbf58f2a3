from __future__ import annotations

from dataclasses import dataclass

from drportal.cloud.adapters.errors import AdapterError

REFUSED = "refused"
# The receiver answered "not now" (SMTP 4xx, HTTP 429/5xx): failed, a person may retry.
TEMPORARY = "temporary"
UNAVAILABLE = "unavailable"
# The channel is not set up here (no gateway URL): waiting will not help, so its deliveries fail at once.
UNCONFIGURED = "unconfigured"
IN_DOUBT = "in_doubt"


@dataclass(frozen=True)
class Message:
    delivery_id: int
    address: str
    subject: str
    text: str
    html: str = ""
    action_url: str = ""
    unsubscribe_url: str = ""


class ChannelAdapter:
    """open() once per batch, send() per message (prepare() before it, optionally), close() at the end."""

    name = "channel"
    channel = ""

    def open(self) -> None:
        pass

    def prepare(self, message: Message) -> None:
        """Optional: start on the next message while the sender records the last outcome; nothing may be
        delivered until send(message)."""

    def send(self, message: Message) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def error(self, message: str, code: str) -> AdapterError:
        return AdapterError(message, permanent=code in (REFUSED, UNCONFIGURED), provider=self.name, code=code)
