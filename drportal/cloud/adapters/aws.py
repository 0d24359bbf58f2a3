"""boto3 clients for a provider account (RDS, ELB, EC2 elastic IPs).

Credentials come from ProviderAccount.credentials() at the moment of use and are never logged.
`options.endpoint_url` points at a moto server in tests and drills; real AWS leaves it unset.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from drportal.cloud.adapters.errors import AdapterError

# botocore's own retries are off: drportal.cloud.adapters.retry is the single place that retries, so a
# throttled call is not silently retried 3 x 4 times and tests can count attempts.
NO_RETRIES = Config(retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=20)


def home_region(account) -> str:
    """The account's own region (options.region), where its clients go unless a call names another."""
    return (account.options or {}).get("region") or "us-east-1"


def client(account, service: str, region: str | None = None) -> Any:
    options = account.options or {}
    if account.driver == "simulated" and not options.get("endpoint_url"):
        # A drill's simulated twin has no AWS behind it. Without this, boto3 would fall back to the
        # machine's own credentials (environment, ~/.aws, instance role) and a drill could reach real AWS.
        raise AdapterError(f"the simulated cloud offers no {service} ({account.name})", permanent=True,
                           provider=service, code="NotSimulated")
    creds = account.credentials()
    return boto3.client(
        service,
        region_name=region or home_region(account),
        endpoint_url=options.get("endpoint_url") or None,
        aws_access_key_id=creds.get("key") or creds.get("access_key_id"),
        aws_secret_access_key=creds.get("secret") or creds.get("secret_access_key"),
        aws_session_token=creds.get("token") or None,
        config=NO_RETRIES,
    )


def wrap(exc: Exception, service: str, permanent: set[str]) -> AdapterError:
    """A botocore error as an AdapterError: permanent when AWS's error code says a retry cannot help.
    Anything else is not ours to translate and is raised again."""
    from botocore.exceptions import BotoCoreError, ClientError

    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        return AdapterError(exc.response.get("Error", {}).get("Message", str(exc)) or code,
                            permanent=code in permanent, provider=service, code=code)
    if isinstance(exc, BotoCoreError):
        return AdapterError(str(exc), permanent=False, provider=service)
    raise exc
