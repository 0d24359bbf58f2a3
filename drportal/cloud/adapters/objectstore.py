"""libcloud storage (Rackspace Cloud Files, the local driver for drills and tests): listing and fetching.
Account.driver names the libcloud provider ("cloudfiles", "local", "openstack" for Swift behind Keystone v3);
options carry `region` for Cloud Files, `path` for the local driver, `auth_url`/`project`/`region` for OpenStack."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from django.conf import settings

from drportal.cloud.adapters.errors import AdapterError


def driver(account, region: str | None = None) -> Any:
    """region: an inventory region slug ("mci") when the objects live elsewhere than the account's default;
    options.catalog_regions maps it to the provider's name for it."""
    from libcloud.storage.providers import get_driver
    from libcloud.storage.types import Provider

    options = account.options or {}
    if account.driver == "local":
        # The local driver stores containers as directories under `path`; it needs `fasteners` installed.
        return get_driver(Provider.LOCAL)(options["path"])
    creds = account.credentials()
    if account.driver == "openstack":
        # Swift (Rackspace Cloud Files on OpenStack) through the same Keystone v3 account as the servers.
        from drportal.cloud.adapters.compute import openstack_kwargs

        return get_driver(Provider.OPENSTACK_SWIFT)(creds.get("key", ""), creds.get("secret", ""),
                                                    **openstack_kwargs(options, region))
    # A Rackspace account (Cloud Servers) reads Cloud Files with the same user name and API key.
    name = "cloudfiles" if account.driver == "rackspace" else account.driver
    cls = get_driver(getattr(Provider, name.upper(), name))
    where = (options.get("catalog_regions") or {}).get(region, region) if region else options.get("region", "dfw")
    return cls(creds.get("key", ""), creds.get("secret", ""), region=where, timeout=settings.CLOUD_REQUEST_TIMEOUT)


def _wrap(exc: Exception) -> AdapterError:
    from libcloud.common.types import InvalidCredsError, LibcloudError
    from libcloud.storage.types import ContainerDoesNotExistError, ObjectDoesNotExistError

    if isinstance(exc, ContainerDoesNotExistError | ObjectDoesNotExistError | InvalidCredsError):
        return AdapterError(str(exc) or type(exc).__name__, permanent=True, provider="libcloud-storage")
    if isinstance(exc, LibcloudError | OSError):
        return AdapterError(str(exc), permanent=False, provider="libcloud-storage")
    raise exc


def container_count(account) -> int:
    """The provider check of a storage account: one listing of its containers. The local driver lists a
    directory that does not exist as empty: that is no store, and is said so."""
    options = account.options or {}
    if account.driver == "local" and not os.path.isdir(options.get("path", "")):
        raise AdapterError(f"the local store {options.get('path')!r} does not exist", permanent=True,
                           provider="libcloud-storage")
    try:
        return len(driver(account).list_containers())
    except Exception as exc:
        raise _wrap(exc) from exc


def list_objects(account, container: str, prefix: str = "", region: str | None = None) -> Iterator[dict]:
    """{key, size, md5, last_modified (aware)}. The local driver reports the modification time as an epoch
    float in extra["modify_time"]; Cloud Files as a string in extra["last_modified"]."""
    try:
        box = driver(account, region).get_container(container)
        for obj in box.list_objects(prefix=prefix or None):
            yield {"key": obj.name, "size": obj.size, "md5": obj.hash or "", "last_modified": _modified(obj)}
    except Exception as exc:
        raise _wrap(exc) from exc


def _modified(obj) -> datetime | None:
    extra = obj.extra or {}
    if "modify_time" in extra:
        return datetime.fromtimestamp(float(extra["modify_time"]), tz=UTC)
    text = extra.get("last_modified")
    if text:
        from email.utils import parsedate_to_datetime

        try:
            return parsedate_to_datetime(text)
        except (TypeError, ValueError):
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
            # Swift lists "2026-12-06T09:00:00.000000" without an offset: it is UTC.
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def download(account, container: str, key: str, path: str, region: str | None = None) -> None:
    try:
        obj = driver(account, region).get_object(container, key)
        obj.download(path, overwrite_existing=True)
    except Exception as exc:
        raise _wrap(exc) from exc
