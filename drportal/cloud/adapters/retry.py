"""The one place outside calls are made: provider exceptions become AdapterError, transient ones are retried.

libcloud and boto3 raise a zoo of exception types; a step only needs to know "retry" or "fail with this
message". boto3 clients are built with their own retries off (see aws.py) so backoff happens here and
only here, and a test can count the attempts.
"""

from __future__ import annotations

import logging
import random
import socket
import time
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings

from drportal.cloud.adapters.errors import AdapterError

log = logging.getLogger(__name__)
T = TypeVar("T")

# Codes AWS (and moto) use for throttling and server-side trouble: retrying can help.
TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "TooManyRequestsException",
        "SlowDown",
        "InternalError",
        "InternalFailure",
        "ServiceUnavailable",
        "Unavailable",
        "RequestTimeout",
        "RequestTimeoutException",
        "PriorRequestNotComplete",
    }
)


def _code_of(message: str) -> str:
    # EC2 errors from libcloud arrive as "InvalidAMIID.NotFound: The image id ... does not exist".
    head = message.split(":", 1)[0].strip()
    return head if head and " " not in head and len(head) < 80 else ""


def translate(exc: BaseException, provider: str = "") -> AdapterError:
    """Map any provider exception to AdapterError(permanent=...), keeping the provider's message."""
    # long because: one table of exception types read top to bottom, where order matters (RateLimitReachedError
    # before its base BaseHTTPError, ClientError before BotoCoreError); split, the order would be hidden.
    if isinstance(exc, AdapterError):
        return exc
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        ConnectTimeoutError,
        NoCredentialsError,
        ReadTimeoutError,
    )
    from botocore.exceptions import (
        ConnectionError as BotoConnectionError,
    )
    from libcloud.common.exceptions import BaseHTTPError, RateLimitReachedError
    from libcloud.common.types import InvalidCredsError, MalformedResponseError, ProviderError
    from libcloud.dns.types import RecordDoesNotExistError, ZoneDoesNotExistError

    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code = str(err.get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        message = str(err.get("Message") or exc)
        transient = code in TRANSIENT_CODES or status >= 500 or status == 429
        return AdapterError(message, permanent=not transient, provider=provider, code=code or str(status))
    if isinstance(exc, ConnectTimeoutError | ReadTimeoutError | BotoConnectionError):
        return AdapterError(str(exc), permanent=False, provider=provider, code="timeout")
    if isinstance(exc, NoCredentialsError):
        # botocore's "Unable to locate credentials" does not say where a person puts them.
        return AdapterError("the account has no credentials: none are stored on it (Cloud accounts) and none are "
                            "in the environment variables it names", permanent=True, provider=provider,
                            code="NoCredentials")
    if isinstance(exc, BotoCoreError):
        return AdapterError(str(exc), permanent=True, provider=provider)
    if isinstance(exc, InvalidCredsError):
        return AdapterError(str(exc.value), permanent=True, provider=provider, code="InvalidCredentials")
    if isinstance(exc, ZoneDoesNotExistError):
        return AdapterError(f"zone {exc.zone_id} does not exist", permanent=True, provider=provider, code="NoSuchZone")
    if isinstance(exc, RecordDoesNotExistError):
        return AdapterError(str(exc.value), permanent=True, provider=provider, code="NoSuchRecord")
    if isinstance(exc, RateLimitReachedError):
        return AdapterError(str(exc.message), permanent=False, provider=provider, code="429")
    if isinstance(exc, BaseHTTPError):
        code = _code_of(str(exc.message))
        transient = exc.code >= 500 or exc.code == 429 or code in TRANSIENT_CODES
        return AdapterError(str(exc.message), permanent=not transient, provider=provider, code=code or str(exc.code))
    if isinstance(exc, ProviderError):
        transient = (exc.http_code or 0) >= 500 or exc.http_code == 429
        return AdapterError(str(exc.value), permanent=not transient, provider=provider, code=str(exc.http_code))
    if isinstance(exc, MalformedResponseError):
        # An HTML error page from a proxy or a half-written body: the provider is having trouble.
        return AdapterError("malformed response from the provider", permanent=False, provider=provider)
    if isinstance(exc, socket.timeout | TimeoutError | ConnectionError):
        return AdapterError(str(exc) or "timed out", permanent=False, provider=provider, code="timeout")
    try:
        import requests

        if isinstance(exc, requests.exceptions.Timeout | requests.exceptions.ConnectionError):
            return AdapterError(str(exc), permanent=False, provider=provider, code="timeout")
    except ImportError:  # pragma: no cover - libcloud depends on requests
        pass
    message = str(getattr(exc, "value", "") or exc)
    code = _code_of(message)
    return AdapterError(message, permanent=code not in TRANSIENT_CODES, provider=provider, code=code)


def call(
    fn: Callable[..., T],
    *args,
    provider: str = "",
    attempts: int | None = None,
    base_delay: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    **kwargs,
) -> T:
    """fn(*args, **kwargs), with transient failures retried with exponential backoff and jitter.

    Short in-worker retries smooth over a blip; a failure that outlasts them is raised as a transient
    AdapterError so the engine can retry the step later without holding a worker.
    """
    attempts = attempts or getattr(settings, "CLOUD_RETRY_ATTEMPTS", 4)
    base_delay = getattr(settings, "CLOUD_RETRY_BASE_DELAY", 0.5) if base_delay is None else base_delay
    for attempt in range(1, attempts + 1):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            error = translate(exc, provider)
            if error.permanent or attempt == attempts:
                raise error from exc
            delay = min(base_delay * 2 ** (attempt - 1), 8.0) * (0.5 + random.random() / 2)
            log.info("transient provider error, retry %d/%d in %.2fs: %s", attempt, attempts, delay, error)
            sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover
