"""Any Apprise URL (Slack, Microsoft Teams workflows, PagerDuty, Opsgenie, ntfy, Matrix, ...) as a channel.

A delivery's address is "apprise:<AppriseChannel id>": the URL itself (a credential) stays encrypted on the
channel row and is decrypted only here, just before sending. Apprise answers only "sent" or "not sent", so a
failure is recorded as temporary (failed: a person may retry it from the delivery's page) with Apprise's own
warning as the reason, scrubbed of every part of the URL.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import quote

import apprise

from drportal.lib.crypto import SecretUnavailable
from notifications.channels.base import REFUSED, TEMPORARY, ChannelAdapter, Message

ADDRESS = re.compile(r"^apprise:(\d+)$")


def scrub(text: str, url: str) -> str:
    """Text with every token of the URL (paths, keys, passwords) blanked out."""
    for part in sorted(set(re.split(r"[/:@?&=#]+", url)), key=len, reverse=True):
        if len(part) >= 4 and part.lower() not in ("http", "https", "verify"):
            text = text.replace(part, "•••")
    return text


def with_dedup_key(url: str, delivery_id: int) -> str:
    """PagerDuty opens an incident per event unless events share a dedup_key: one per delivery means a resent
    delivery (one that was in doubt) updates the incident it may already have opened instead of paging twice.
    A key the URL sets itself wins."""
    if not url.lower().startswith("pagerduty://") or re.search(r"[?&]dedup=", url):
        return url
    return f"{url}{'&' if '?' in url else '?'}dedup=drportal-delivery-{delivery_id}"


def with_click(url: str, action_url: str) -> str:
    """Services with a click-through of their own (PagerDuty's event link, ntfy's tap action) get the action
    there, through Apprise's documented `click=` URL parameter; Apprise's plugins say which have one. A
    click-through the channel's URL sets itself wins."""
    plugin = apprise.Apprise.instantiate(url)
    if not action_url or plugin is None or "click" not in plugin.template_args or re.search(r"[?&]click=", url):
        return url
    return f"{url}{'&' if '?' in url else '?'}click={quote(action_url, safe='')}"


def body_of(message: Message) -> tuple[str, apprise.NotifyFormat | None]:
    """The text, and with an action a Markdown link to it as the last line: Apprise turns it into what each
    service shows as a link (Slack's <url|label>, a link in a Teams card, a Discord or Matrix link)."""
    text = message.text or message.subject
    if not message.action_url:
        return text, None
    return f"{text}\n\n[Open to approve]({message.action_url})", apprise.NotifyFormat.MARKDOWN


class AppriseAdapter(ChannelAdapter):
    name = "apprise"
    channel = "apprise"

    def _url(self, address: str) -> str:
        from notifications.models import AppriseChannel

        match = ADDRESS.match(address)
        row = AppriseChannel.objects.filter(pk=int(match.group(1))).first() if match else None
        if row is None:
            raise self.error(f"no Apprise channel {address!r} (deleted?)", REFUSED)
        try:
            return row.url()
        except SecretUnavailable as exc:
            raise self.error(f"the URL of Apprise channel {row.name!r} cannot be decrypted with the configured "
                             "keys (DRPORTAL_FERNET_KEYS); save it again", REFUSED) from exc

    def send(self, message: Message) -> None:
        url = with_click(with_dedup_key(self._url(message.address), message.delivery_id), message.action_url)
        sender = apprise.Apprise()
        if not sender.add(url):
            raise self.error("Apprise does not understand this channel's URL; check it on the channels page",
                             REFUSED)
        with apprise.LogCapture(level=logging.WARNING) as captured:
            body, body_format = body_of(message)
            ok = sender.notify(title=message.subject, body=body, body_format=body_format)
        if not ok:
            said = " ".join(line.strip() for line in captured.getvalue().splitlines() if line.strip())
            raise self.error(scrub(said or "not sent", url)[:500], TEMPORARY)
