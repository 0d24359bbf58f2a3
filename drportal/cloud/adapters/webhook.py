"""Deployment webhooks (a CI/CD pipeline's trigger URL): POST with an Idempotency-Key, then follow the
status URL it returns. Only HTTP goes out here; errors become AdapterError."""

from __future__ import annotations

from typing import Any

import requests

from drportal.cloud.adapters import retry
from drportal.cloud.adapters.errors import AdapterError


def _json(response: requests.Response, url: str) -> dict[str, Any]:
    if response.status_code >= 500 or response.status_code == 429:
        raise AdapterError(f"{url} answered HTTP {response.status_code}", permanent=False, provider="webhook",
                           code=str(response.status_code))
    if response.status_code >= 400:
        raise AdapterError(f"{url} answered HTTP {response.status_code}: {response.text[:300]}", permanent=True,
                           provider="webhook", code=str(response.status_code))
    try:
        body = response.json()
    except ValueError:
        body = {}
    return body if isinstance(body, dict) else {}


def trigger(url: str, key: str, payload: dict[str, Any], timeout: float = 10.0) -> dict[str, Any]:
    """POST the deployment; the key lets the receiver ignore a repeat of the same trigger."""
    response = retry.call(requests.post, url, json=payload, timeout=timeout, provider="webhook",
                          headers={"Idempotency-Key": key})
    return _json(response, url)


def status(url: str, timeout: float = 10.0) -> dict[str, Any]:
    return _json(retry.call(requests.get, url, timeout=timeout, provider="webhook"), url)
