"""A simulated cloud of our own, for the demo and for drills: libcloud-compatible compute and DNS drivers
whose state lives in PostgreSQL (drportal.cloud.models), with provisioning latency and failure injection.

libcloud's dummy driver is not enough: it ignores name, size and image and forgets everything on restart.
Options on the ProviderAccount:
  latency_s      seconds a new node stays "pending" (default 2)
  locations      location ids offered (default dfw, ord, iad)
  sizes          extra size names offered besides the built-in ones
  floating_ips   whether addresses can move between nodes (default true; Rackspace-like clouds: false)
  private_network  the first two octets of new nodes' private addresses (default 10.18); "127.18" puts them on
                 the loopback network, so a local server listening on all addresses answers at a new node's
                 address (the real recovery test restores into PostgreSQL there)
  fail           {"operation": http_status, ...} to make an operation answer like a failing provider,
                 e.g. {"create_node": 500} or {"list_nodes": 429}; {"boot": true} makes new nodes never boot.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.db import IntegrityError, transaction
from libcloud.common.exceptions import BaseHTTPError, RateLimitReachedError
from libcloud.common.types import InvalidCredsError
from libcloud.compute.base import Node, NodeDriver, NodeImage, NodeLocation, NodeSize, StorageVolume
from libcloud.compute.types import NodeState, StorageVolumeState
from libcloud.dns.base import DNSDriver, Record, Zone
from libcloud.dns.types import RecordDoesNotExistError, ZoneDoesNotExistError

from drportal.lib import clock

SIZES = ["1GB", "2GB", "4GB", "8GB", "15GB", "30GB", "t3.small", "t3.medium", "t3.large", "m5.large", "m5.xlarge"]
DEFAULT_LOCATIONS = ["dfw", "ord", "iad"]


def _names(value) -> list[str]:
    """A list, or a comma-separated text: an inventory file's account options hold scalars only."""
    return [v.strip() for v in value.split(",") if v.strip()] if isinstance(value, str) else list(value)


def _fail(options: dict, operation: str) -> None:
    code = (options.get("fail") or {}).get(operation)
    if not code or code is True:
        return
    code = int(code)
    if code == 401:
        raise InvalidCredsError("simulated cloud: invalid credentials")
    if code == 429:
        raise RateLimitReachedError()
    raise BaseHTTPError(code, f"simulated cloud: {operation} failed with HTTP {code}")


def _ip(prefix: str, n: int) -> str:
    return f"{prefix}.{(n // 254) % 256}.{n % 254 + 1}"


class SimulatedNodeDriver(NodeDriver):
    type = "simulated"
    name = "drportal simulated cloud"
    website = "https://example.invalid/simulated"

    def __init__(self, account, region: str | None = None):
        # No connection: the "provider" is our own database.
        self.account = account
        self.options = dict(account.options or {})
        self.region = region or self.options.get("region") or ""
        self.key = "simulated"
        self.secret = None
        self.connection = None

    # -- helpers ---------------------------------------------------------------------------------------
    def _check(self, operation: str) -> None:
        _fail(self.options, "auth")
        _fail(self.options, operation)

    def _to_node(self, row) -> Node:
        now = clock.now()
        if row.terminated_at:
            state = NodeState.TERMINATED
        elif row.broken:
            state = NodeState.ERROR
        elif now >= row.ready_at:
            state = NodeState.RUNNING
        else:
            state = NodeState.PENDING
        addresses = [a.ip for a in row.addresses.all()]
        public = addresses + ([row.public_ip] if row.public_ip else [])
        return Node(
            id=row.node_id, name=row.name, state=state, public_ips=public,
            private_ips=[row.private_ip] if row.private_ip else [], driver=self,
            size=None, image=None,
            extra={"metadata": dict(row.metadata), "image_id": row.image_id, "size_id": row.size_id,
                   "location": row.location, "created_at": row.created_at.isoformat()},
        )

    def _row(self, node_or_id):
        from drportal.cloud.models import SimNode

        node_id = getattr(node_or_id, "id", node_or_id)
        try:
            return SimNode.objects.get(account=self.account, node_id=node_id)
        except SimNode.DoesNotExist:
            raise BaseHTTPError(404, f"NodeNotFound: node {node_id} does not exist") from None

    # -- compute ---------------------------------------------------------------------------------------
    def list_nodes(self) -> list[Node]:
        from drportal.cloud.models import SimNode

        self._check("list_nodes")
        rows = SimNode.objects.filter(account=self.account).prefetch_related("addresses")
        return [self._to_node(r) for r in rows]

    def list_sizes(self, location=None) -> list[NodeSize]:
        self._check("list_sizes")
        return [NodeSize(id=s, name=s, ram=0, disk=0, bandwidth=None, price=None, driver=self) for s in self._sizes()]

    def _sizes(self) -> list[str]:
        # A twin offers the flavours its real account uses ("4 GB General Purpose v1", "m5.large").
        return SIZES + [s for s in _names(self.options.get("sizes", [])) if s not in SIZES]

    def list_locations(self) -> list[NodeLocation]:
        self._check("list_locations")
        return [NodeLocation(id=loc, name=loc, country="US", driver=self)
                for loc in _names(self.options.get("locations", DEFAULT_LOCATIONS))]

    def list_images(self, location=None, ex_owner=None) -> list[NodeImage]:
        from drportal.cloud.models import SimImage

        self._check("list_images")
        return [self._to_image(i) for i in SimImage.objects.filter(account=self.account)]

    def _to_image(self, row) -> NodeImage:
        return NodeImage(id=row.image_id, name=row.name, driver=self,
                         extra={"state": row.state, "created_at": row.created_at.isoformat(),
                                "location": row.location, "metadata": {"drportal_server": row.server_name}})

    def get_image(self, image_id: str) -> NodeImage:
        from drportal.cloud.models import SimImage

        self._check("get_image")
        try:
            return self._to_image(SimImage.objects.get(account=self.account, image_id=image_id))
        except SimImage.DoesNotExist:
            raise BaseHTTPError(404, f"ImageNotFound: image {image_id} does not exist") from None

    def create_node(self, name, size, image, location=None, ex_metadata=None, **kwargs) -> Node:
        from drportal.cloud.models import SimImage, SimNode

        self._check("create_node")
        metadata = dict(ex_metadata or {})
        key = metadata.get("drportal_key", "")
        if key:
            existing = SimNode.objects.filter(account=self.account, idempotency_key=key).first()
            if existing:
                return self._to_node(existing)
        image_row = SimImage.objects.filter(account=self.account, image_id=image.id).first()
        if image_row is None:
            raise BaseHTTPError(404, f"ImageNotFound: image {image.id} does not exist")
        if image_row.state != "available":
            raise BaseHTTPError(409, f"ImageNotViable: image {image.id} is {image_row.state}")
        if size.id not in self._sizes():
            raise BaseHTTPError(400, f"InvalidSize: size {size.id} is not offered")
        loc = getattr(location, "id", None) or image_row.location or self.options.get(
            "locations", DEFAULT_LOCATIONS)[0]
        now = clock.now()
        latency = float(self.options.get("latency_s", 2))
        try:
            with transaction.atomic():
                row = SimNode.objects.create(
                    account=self.account, node_id=f"sim-{uuid.uuid4().hex[:12]}", name=name, image_id=image.id,
                    size_id=size.id, location=loc, metadata=metadata, idempotency_key=key, created_at=now,
                    ready_at=now + timedelta(seconds=latency),
                    broken=bool((self.options.get("fail") or {}).get("boot")),
                )
                row.public_ip = _ip("198.18", row.pk)
                row.private_ip = _ip(str(self.options.get("private_network") or "10.18"), row.pk)
                row.save(update_fields=["public_ip", "private_ip"])
        except IntegrityError:
            # Another worker created the node for this key between our look-up and insert.
            row = SimNode.objects.get(account=self.account, idempotency_key=key)
        return self._to_node(row)

    def destroy_node(self, node) -> bool:
        self._check("destroy_node")
        row = self._row(node)
        row.terminated_at = row.terminated_at or clock.now()
        row.save(update_fields=["terminated_at"])
        row.addresses.update(node=None)
        return True

    def create_image(self, node, name, description=None, **kwargs) -> NodeImage:
        from drportal.cloud.models import SimImage

        self._check("create_image")
        row = self._row(node)
        image = SimImage.objects.create(
            account=self.account, image_id=f"img-{uuid.uuid4().hex[:12]}", name=name,
            server_name=row.metadata.get("drportal_server", row.name), location=row.location, created_at=clock.now(),
        )
        return self._to_image(image)

    # -- floating IPs (Rackspace-like accounts set floating_ips: false) ----------------------------------
    @property
    def supports_floating_ips(self) -> bool:
        return bool(self.options.get("floating_ips", True))

    def ex_list_addresses(self) -> list[dict]:
        from drportal.cloud.models import SimAddress

        self._check("list_addresses")
        return [{"ip": a.ip, "node_id": a.node.node_id if a.node else None}
                for a in SimAddress.objects.filter(account=self.account).select_related("node")]

    def ex_allocate_address(self) -> str:
        from drportal.cloud.models import SimAddress

        self._check("allocate_address")
        row = SimAddress.objects.create(account=self.account, ip=f"192.0.2.{uuid.uuid4().int % 250 + 2}")
        return row.ip

    def ex_associate_address(self, node, ip: str) -> None:
        from drportal.cloud.models import SimAddress

        self._check("associate_address")
        if not self.supports_floating_ips:
            raise BaseHTTPError(400, "UnsupportedOperation: this cloud cannot move addresses between servers")
        row = self._row(node)
        updated = SimAddress.objects.filter(account=self.account, ip=ip).update(node=row)
        if not updated:
            raise BaseHTTPError(404, f"AddressNotFound: {ip} is not an address of this account")

    def ex_disassociate_address(self, ip: str) -> None:
        from drportal.cloud.models import SimAddress

        self._check("disassociate_address")
        SimAddress.objects.filter(account=self.account, ip=ip).update(node=None)

    # -- volumes --------------------------------------------------------------------------------------
    def _to_volume(self, row) -> StorageVolume:
        return StorageVolume(
            id=row.volume_id, name=row.name, size=row.size_gb, driver=self,
            state=StorageVolumeState.INUSE if row.node_id else StorageVolumeState.AVAILABLE,
            extra={"node_id": row.node.node_id if row.node else None, "device": row.device, "location": row.location},
        )

    def list_volumes(self) -> list[StorageVolume]:
        from drportal.cloud.models import SimVolume

        self._check("list_volumes")
        return [self._to_volume(v) for v in SimVolume.objects.filter(account=self.account).select_related("node")]

    def create_volume(self, size, name, location=None, snapshot=None) -> StorageVolume:
        from drportal.cloud.models import SimVolume

        self._check("create_volume")
        row = SimVolume.objects.create(account=self.account, volume_id=f"vol-{uuid.uuid4().hex[:12]}", name=name,
                                       size_gb=size, location=getattr(location, "id", "") or "")
        return self._to_volume(row)

    def attach_volume(self, node, volume, device=None) -> bool:
        from drportal.cloud.models import SimVolume

        self._check("attach_volume")
        row = self._row(node)
        updated = SimVolume.objects.filter(account=self.account, volume_id=volume.id, node=None).update(
            node=row, device=device or "/dev/xvdb")
        if not updated:
            raise BaseHTTPError(409, f"VolumeInUse: volume {volume.id} is attached elsewhere")
        return True

    def detach_volume(self, volume) -> bool:
        from drportal.cloud.models import SimVolume

        self._check("detach_volume")
        SimVolume.objects.filter(account=self.account, volume_id=volume.id).update(node=None, device="")
        return True


class SimulatedDNSDriver(DNSDriver):
    """Zones and records in PostgreSQL; drportal.cloud.adapters.dnsserver answers DNS queries from them."""

    type = "simulated"
    name = "drportal simulated DNS"
    website = "https://example.invalid/simulated"

    def __init__(self, account=None):
        self.account = account
        self.options = dict(getattr(account, "options", None) or {})
        self.key = "simulated"
        self.secret = None
        self.connection = None

    def _zone(self, row) -> Zone:
        return Zone(id=row.domain, domain=row.domain, type="master", ttl=None, driver=self,
                    extra={"serial": row.serial})

    def list_zones(self) -> list[Zone]:
        from drportal.cloud.models import SimZone

        _fail(self.options, "list_zones")
        return [self._zone(z) for z in SimZone.objects.all()]

    def get_zone(self, zone_id: str) -> Zone:
        from drportal.cloud.models import SimZone

        _fail(self.options, "get_zone")
        try:
            return self._zone(SimZone.objects.get(domain=zone_id))
        except SimZone.DoesNotExist:
            raise ZoneDoesNotExistError(value="", driver=self, zone_id=zone_id) from None

    def create_zone(self, domain, type="master", ttl=None, extra=None) -> Zone:
        from drportal.cloud.models import SimZone

        row, _ = SimZone.objects.get_or_create(domain=domain)
        return self._zone(row)

    def list_records(self, zone) -> list[Record]:
        from drportal.cloud.models import SimRecord

        _fail(self.options, "list_records")
        rows = SimRecord.objects.filter(zone__domain=zone.id)
        return [Record(id=str(r.pk), name=r.name, type=r.type, data=r.content, zone=zone, driver=self, ttl=r.ttl)
                for r in rows]

    def create_record(self, name, zone, type, data, extra=None) -> Record:
        self.ex_replace_rrsets(zone, [{"name": name, "type": type, "values": [data],
                                       "ttl": (extra or {}).get("ttl", 300)}])
        return Record(id=None, name=name, type=type, data=data, zone=zone, driver=self)

    def update_record(self, record, name, type, data, extra=None) -> Record:
        return self.create_record(name, record.zone, type, data, extra)

    def delete_record(self, record) -> bool:
        from drportal.cloud.models import SimRecord

        deleted, _ = SimRecord.objects.filter(zone__domain=record.zone.id, name=record.name, type=record.type).delete()
        if not deleted:
            raise RecordDoesNotExistError(value="", driver=self, record_id=record.id)
        return True

    def ex_replace_rrsets(self, zone, rrsets: list[dict]) -> None:
        """Replace whole record sets at once, in one transaction (as PowerDNS's PATCH does)."""
        from drportal.cloud.models import SimRecord, SimZone

        _fail(self.options, "replace_rrsets")
        with transaction.atomic():
            try:
                row = SimZone.objects.select_for_update().get(domain=zone.id)
            except SimZone.DoesNotExist:
                raise ZoneDoesNotExistError(value="", driver=self, zone_id=zone.id) from None
            for rrset in rrsets:
                SimRecord.objects.filter(zone=row, name=rrset["name"], type=rrset["type"]).delete()
                SimRecord.objects.bulk_create(
                    SimRecord(zone=row, name=rrset["name"], type=rrset["type"], content=v, ttl=rrset["ttl"])
                    for v in rrset["values"]
                )
            row.serial += 1
            row.save(update_fields=["serial"])
