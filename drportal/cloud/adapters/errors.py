"""The one error type every adapter raises (cloud compute, DNS, storage, RDS, load balancers, mail)."""

from __future__ import annotations


class AdapterError(Exception):
    """permanent=True: retrying will not help (bad credentials, missing image, unknown zone); the step
    fails with the provider's message. permanent=False: 5xx, throttling, time-outs; retried with backoff."""

    def __init__(self, message: str, *, permanent: bool, provider: str = "", code: str = ""):
        super().__init__(message)
        self.permanent = permanent
        self.provider = provider
        self.code = code

    def __str__(self) -> str:
        prefix = f"{self.provider}: " if self.provider else ""
        kind = "permanent" if self.permanent else "transient"
        return f"{prefix}{self.args[0]} ({kind}{', ' + self.code if self.code else ''})"
