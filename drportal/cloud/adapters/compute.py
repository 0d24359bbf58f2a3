"""Cloud compute through libcloud: nodes, system images, floating/elastic IPs, volumes.

One driver per provider account (`ProviderAccount.driver`): "ec2" (real AWS, or a moto server when
`options.endpoint_url` is set), "rackspace", "simulated" (ours, state in PostgreSQL) or any other
libcloud compute driver name. Every call goes through retry.call so errors are AdapterError.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlparse

from django.conf import settings
from libcloud.compute.base import Node, NodeDriver, NodeImage
from libcloud.compute.drivers.ec2 import API_VERSION, EC2Connection, EC2NodeDriver, EC2Response
from libcloud.compute.providers import get_driver
from libcloud.compute.types import NodeState

from drportal.cloud.adapters import retry
from drportal.cloud.adapters.errors import AdapterError

# The tag/metadata key that ties a provider node to the step that created it (ctx.idempotency_key).
KEY_TAG = "drportal_key"
SERVER_TAG = "drportal_server"


class MotoEC2Response(EC2Response):
    """moto answers with xmlns "http://ec2.amazonaws.com/doc/2016-11-15" (no trailing slash) while
    libcloud looks for ".../2016-11-15/", so every list would parse as empty. Rewriting the body of
    this connection's responses keeps the fix on the moto endpoint only; patching
    libcloud.compute.drivers.ec2.NAMESPACE module-wide would break real AWS replies in the same process."""

    _MOTO_NS = f'xmlns="http://ec2.amazonaws.com/doc/{API_VERSION}"'

    def parse_body(self):
        if isinstance(self.body, str):
            self.body = self.body.replace(self._MOTO_NS, f'xmlns="http://ec2.amazonaws.com/doc/{API_VERSION}/"')
        return super().parse_body()

    def parse_error(self):
        # moto also puts the namespace on <Response> of errors, where AWS puts none; libcloud looks for a
        # bare "Errors/Error" and would raise with an empty message (losing e.g. InvalidAMIID.NotFound).
        if isinstance(self.body, str):
            self.body = self.body.replace(" " + self._MOTO_NS, "")
        return super().parse_error()


class MotoEC2Connection(EC2Connection):
    responseCls = MotoEC2Response


class MotoEC2NodeDriver(EC2NodeDriver):
    """libcloud's EC2 driver pointed at a moto server (tests, drills, the demo)."""

    connectionCls = MotoEC2Connection

    def __init__(self, key, secret=None, *, endpoint_url: str, region: str = "us-east-1", **kwargs):
        url = urlparse(endpoint_url)
        # Signature v2 (libcloud's default for some regions) makes moto route the call to S3 and
        # answer with an empty list, silently; v4 carries the service name in the credential scope.
        super().__init__(
            key, secret, secure=url.scheme == "https", host=url.hostname, port=url.port,
            region=region, signature_version="4", **kwargs,
        )


def driver_for(account, region: str | None = None) -> NodeDriver:
    try:
        return _driver_for(account, region)
    except ValueError as exc:
        # libcloud refuses an unknown region (or driver option) before any request is made.
        raise AdapterError(f"{account.name}: {exc}", permanent=True, provider=provider_name(account),
                           code="BadConfiguration") from exc


def _driver_for(account, region: str | None = None) -> NodeDriver:
    options = account.options or {}
    creds = account.credentials()
    region = region or options.get("region")
    kind = account.driver
    if kind == "simulated":
        from drportal.cloud.adapters.simulated import SimulatedNodeDriver

        return SimulatedNodeDriver(account, region=region)
    if kind in ("ec2", "aws"):
        if options.get("endpoint_url"):
            return MotoEC2NodeDriver(creds.get("key", ""), creds.get("secret", ""),
                                     endpoint_url=options["endpoint_url"], region=region or "us-east-1",
                                     timeout=settings.CLOUD_REQUEST_TIMEOUT)
        return EC2NodeDriver(creds.get("key", ""), creds.get("secret", ""), region=region or "us-east-1",
                             timeout=settings.CLOUD_REQUEST_TIMEOUT)
    if kind == "openstack":
        from libcloud.compute.types import Provider

        # api_version 2.0: Nova v2.1 with images from Glance v2 (libcloud's default 1.1 asks Nova's image
        # proxy, which Nova removed in microversion 2.36).
        return get_driver(Provider.OPENSTACK)(creds.get("key", ""), creds.get("secret", ""), api_version="2.0",
                                              **openstack_kwargs(options, region))
    cls = get_driver(kind)
    kwargs: dict[str, Any] = {k: v for k, v in options.items() if k in ("host", "port", "secure", "ex_force_auth_url")}
    kwargs["timeout"] = settings.CLOUD_REQUEST_TIMEOUT
    if region:
        kwargs["region"] = region
    return cls(creds.get("key", ""), creds.get("secret", ""), **kwargs)


def openstack_kwargs(options: dict, region: str | None = None) -> dict[str, Any]:
    """libcloud's OpenStack drivers (compute and Swift) from an account's options: Keystone v3 with a user
    name and password (credentials key/secret), scoped to `project` in `domain`; `region` picks the
    endpoints in the service catalog (Rackspace's OpenStack regions, e.g. "DFW3")."""
    if not options.get("auth_url"):
        raise ValueError("an openstack account needs options.auth_url (the Keystone URL)")
    kwargs: dict[str, Any] = {
        "ex_force_auth_url": options["auth_url"],
        "ex_force_auth_version": options.get("auth_version", "3.x_password"),
        "ex_tenant_name": options.get("project", ""),
        "ex_domain_name": options.get("domain", "Default"),
        "timeout": settings.CLOUD_REQUEST_TIMEOUT,
    }
    region = region or options.get("region")
    if region:
        # The inventory names regions by its own slugs ("mci"); the catalog by the provider's ("MCI3").
        kwargs["ex_force_service_region"] = (options.get("catalog_regions") or {}).get(region, region)
    return kwargs


def provider_name(account) -> str:
    return f"{account.driver}:{account.name}"


def node_tags(node: Node) -> dict[str, str]:
    """EC2 keeps tags in extra["tags"]; OpenStack (Rackspace) and ours in extra["metadata"]."""
    return dict(node.extra.get("tags") or node.extra.get("metadata") or {})


def find_node_by_key(driver: NodeDriver, key: str, provider: str = "") -> Node | None:
    """The live node created for this idempotency key, if any (terminated ones do not count)."""
    for node in retry.call(driver.list_nodes, provider=provider):
        if node_tags(node).get(KEY_TAG) == key and node.state not in (NodeState.TERMINATED,):
            return node
    return None


def get_node(driver: NodeDriver, node_id: str, provider: str = "") -> Node | None:
    for node in retry.call(driver.list_nodes, provider=provider):
        if node.id == node_id:
            return node
    return None


def _image_time(image: NodeImage) -> str:
    extra = image.extra or {}
    value = extra.get("creation_date") or extra.get("created_at") or extra.get("created") or ""
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _image_viable(image: NodeImage) -> bool:
    state = str((image.extra or {}).get("state") or (image.extra or {}).get("status") or "available").lower()
    return state in ("available", "active")


def images_of(driver: NodeDriver, server_name: str, provider: str = "") -> list[NodeImage]:
    """System images of one server, newest first: tagged with the server's name or named after it."""
    kwargs = {"ex_owner": "self"} if isinstance(driver, EC2NodeDriver) else {}
    images = retry.call(driver.list_images, provider=provider, **kwargs)
    mine = []
    for image in images:
        tags = dict((image.extra or {}).get("tags") or (image.extra or {}).get("metadata") or {})
        if tags.get(SERVER_TAG) == server_name or (image.name or "").startswith(f"{server_name}-"):
            mine.append(image)
    # Images made within the same second tie on time; their names usually carry the date, so break ties on it.
    return sorted(mine, key=lambda i: (_image_time(i), i.name or ""), reverse=True)


def latest_viable_image(driver: NodeDriver, server_name: str, provider: str = "",
                        skip: frozenset[str] | set[str] = frozenset()) -> NodeImage:
    """The newest available image of the server, leaving out the ids in `skip` (marked suspect or expired)."""
    for image in images_of(driver, server_name, provider):
        if _image_viable(image) and image.id not in skip:
            return image
    raise AdapterError(f"no viable system image of {server_name} at the provider", permanent=True,
                       provider=provider, code="NoViableImage")


def get_image(driver: NodeDriver, image_id: str, provider: str = "") -> NodeImage:
    try:
        return retry.call(driver.get_image, image_id, provider=provider)
    except AdapterError as exc:
        exc.permanent = exc.permanent or "NotFound" in (exc.code or "")
        raise


def find_size(driver: NodeDriver, size_id: str, provider: str = ""):
    for size in retry.call(driver.list_sizes, provider=provider):
        if size.id == size_id or size.name == size_id:
            return size
    raise AdapterError(f"size {size_id!r} is not offered here", permanent=True, provider=provider, code="NoSuchSize")


def find_location(driver: NodeDriver, zone: str, provider: str = ""):
    for location in retry.call(driver.list_locations, provider=provider):
        if zone in (location.id, location.name, getattr(location, "availability_zone", None) and
                    getattr(location.availability_zone, "name", None)):
            return location
    raise AdapterError(f"location {zone!r} does not exist here", permanent=True, provider=provider, code="NoSuchZone")


def create_node(driver: NodeDriver, *, name: str, size, image, location=None, key: str, server_name: str,
                metadata: dict[str, str] | None = None, provider: str = "") -> Node:
    tags = {**(metadata or {}), KEY_TAG: key, SERVER_TAG: server_name}
    kwargs: dict[str, Any] = {"name": name, "size": size, "image": image, "ex_metadata": tags}
    if location is not None:
        kwargs["location"] = location
    if isinstance(driver, EC2NodeDriver):
        # EC2's ClientToken makes a repeated RunInstances return the first instance: a second guard
        # besides our own "look for the tagged node first".
        kwargs["ex_clienttoken"] = key[:64]
    return retry.call(driver.create_node, provider=provider, **kwargs)


def is_running(node: Node) -> bool:
    return node.state == NodeState.RUNNING


def volume_node(volume) -> str | None:
    """The node a volume is attached to: ours says node_id, libcloud's EC2 instance_id."""
    extra = volume.extra or {}
    return extra.get("node_id") or extra.get("instance_id") or None


def detach_volume(driver: NodeDriver, volume, node_id: str | None, provider: str = "") -> None:
    if isinstance(driver, EC2NodeDriver) and node_id:
        # DetachVolume takes an optional InstanceId; libcloud never sends it and moto answers 500 without it.
        # Sending it is valid for real AWS too, so one code path serves both.
        params = {"Action": "DetachVolume", "VolumeId": volume.id, "InstanceId": node_id}
        retry.call(driver.connection.request, driver.path, params=params, provider=provider)
        return
    retry.call(driver.detach_volume, volume, provider=provider)
