"""The one place notifications makes outbound HTTP calls (webhooks, SMS gateways)."""

from __future__ import annotations

import http.client
import json
import socket
import urllib.error
import urllib.request

from drportal.cloud.adapters.errors import AdapterError
from notifications.channels.base import IN_DOUBT, REFUSED, TEMPORARY, UNAVAILABLE


def post_json(provider: str, url: str, payload: dict, *, headers: dict | None = None, timeout: float = 10) -> bytes:
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked below
        url, data=json.dumps(payload).encode(), method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "drportal-notifications", **(headers or {})},
    )
    if not url.startswith(("http://", "https://")):
        raise AdapterError("not an http(s) URL", permanent=True, provider=provider,
                           code=REFUSED)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - scheme checked above  # nosec B310
            return response.read()
    except urllib.error.HTTPError as exc:
        body = exc.read()[:200].decode("utf-8", "replace")
        code = REFUSED if 400 <= exc.code < 500 and exc.code != 429 else TEMPORARY
        raise AdapterError(f"HTTP {exc.code}: {body}", permanent=code == REFUSED, provider=provider,
                           code=code) from exc
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, ConnectionRefusedError | socket.gaierror):
            raise AdapterError(f"cannot connect: {reason}", permanent=False, provider=provider,
                               code=UNAVAILABLE) from exc
        raise AdapterError(f"no answer: {reason}", permanent=False, provider=provider, code=IN_DOUBT) from exc
    except (TimeoutError, http.client.HTTPException, ConnectionError) as exc:
        # The request may have been written and acted on before the answer was lost.
        raise AdapterError(f"no answer: {exc!r}", permanent=False, provider=provider, code=IN_DOUBT) from exc
