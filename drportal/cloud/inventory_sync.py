"""Discovery: what the provider really runs (libcloud nodes, boto3 RDS instances) → servers and managed
databases in the inventory. Created or updated in place, the ones that vanished are marked, never deleted."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.utils.text import slugify
from libcloud.compute.types import NodeState

from drportal.audit import log as audit
from drportal.cloud.adapters import compute, rds_recovery, retry
from drportal.inventory.choices import AssetKind, ServerRole, ServerStatus
from drportal.inventory.models import Asset, Region, Server, Zone
from drportal.inventory.validators import HOSTNAME_RE

SERVER_FIELDS = ["provider_node_id", "public_ips", "private_ips", "size", "image", "status", "zone_id"]
COMPUTE_DRIVERS_WITHOUT_NODES = {"powerdns", "route53"}


@dataclass
class SyncReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    vanished: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"{len(self.created)} created, {len(self.updated)} updated, {len(self.vanished)} vanished"
                + (f", {len(self.skipped)} skipped" if self.skipped else ""))


def _zone(account, location: str) -> Zone:
    """The inventory zone for a provider location, created under the account's region if new."""
    provider = account.provider
    region_slug = slugify((account.options or {}).get("region") or "default") or "default"
    zone = Zone.objects.filter(region__provider=provider, slug=slugify(location) or "default").first()
    if zone:
        return zone
    region, _ = Region.objects.get_or_create(provider=provider, slug=region_slug, defaults={"name": region_slug})
    zone, _ = Zone.objects.get_or_create(region=region, slug=slugify(location) or "default",
                                         defaults={"name": location or "default"})
    return zone


def _node_location(node) -> str:
    extra = node.extra or {}
    return str(extra.get("availability") or extra.get("location") or extra.get("availability_zone") or "")


def _status(node) -> str:
    return ServerStatus.ACTIVE if node.state == NodeState.RUNNING else (
        ServerStatus.PROVISIONING if node.state == NodeState.PENDING else ServerStatus.DOWN)


def sync_nodes(account, now: datetime, actor: str, report: SyncReport) -> None:
    driver = compute.driver_for(account)
    nodes = [n for n in retry.call(driver.list_nodes, provider=compute.provider_name(account))
             if n.state != NodeState.TERMINATED]
    seen: set[int] = set()
    for node in nodes:
        server = (Server.objects.filter(account=account, provider_node_id=node.id).first()
                  or Server.objects.filter(account=account, name=node.name, provider_node_id="").first())
        values = {
            "provider_node_id": node.id,
            "public_ips": [ip for ip in node.public_ips if ip],
            "private_ips": [ip for ip in node.private_ips if ip],
            "size": str((node.extra or {}).get("instance_type") or (node.extra or {}).get("size_id") or ""),
            "image": str((node.extra or {}).get("image_id") or ""),
            "status": _status(node),
        }
        if server is None:
            name = node.name if node.name and HOSTNAME_RE.match(node.name) else f"node-{slugify(node.id)}"
            if Server.objects.filter(name=name).exists():
                report.skipped.append(f"{node.id}: a server named {name} belongs to another account")
                continue
            tags = compute.node_tags(node)
            role = tags.get("role") if tags.get("role") in ServerRole.values else ServerRole.OTHER
            server = Server.objects.create(name=name, role=role, zone=_zone(account, _node_location(node)),
                                           account=account, last_seen_at=now, **values)
            audit.record(actor, "server.discovered", server, None, audit.snapshot(server, SERVER_FIELDS))
            report.created.append(server.name)
        else:
            before = audit.snapshot(server, SERVER_FIELDS)
            for key, value in values.items():
                if key == "status" and server.status == ServerStatus.REPLACED:
                    continue
                setattr(server, key, value)
            server.last_seen_at = now
            server.save()
            changed_before, changed_after = audit.changes(before, audit.snapshot(server, SERVER_FIELDS))
            if changed_after:
                audit.record(actor, "server.synced", server, changed_before, changed_after)
                report.updated.append(server.name)
        seen.add(server.pk)
    gone = (Server.objects.filter(account=account).exclude(provider_node_id="").exclude(pk__in=seen)
            .exclude(status__in=[ServerStatus.VANISHED, ServerStatus.REPLACED]))
    for server in gone:
        before = audit.snapshot(server, ["status"])
        server.status = ServerStatus.VANISHED
        server.save(update_fields=["status"])
        audit.record(actor, "server.vanished", server, before, {"status": server.status})
        report.vanished.append(server.name)


def sync_databases(account, now: datetime, actor: str, report: SyncReport) -> None:
    seen: set[int] = set()
    for db in rds_recovery.list_instances(account):
        ident = db["DBInstanceIdentifier"]
        meta = {"engine": db.get("Engine", ""), "class": db.get("DBInstanceClass", ""),
                "multi_az": bool(db.get("MultiAZ")), "status": db.get("DBInstanceStatus", ""),
                "endpoint": (db.get("Endpoint") or {}).get("Address", ""), "last_seen_at": now.isoformat()}
        asset = Asset.objects.filter(account=account, kind=AssetKind.MANAGED_DATABASE, external_id=ident).first()
        zone = _zone(account, db.get("AvailabilityZone", ""))
        if asset is None:
            name = ident if not Asset.objects.filter(name=ident).exists() else f"{account.name}-{ident}"
            asset = Asset.objects.create(name=name, kind=AssetKind.MANAGED_DATABASE, account=account,
                                         external_id=ident, zone=zone, metadata=meta)
            audit.record(actor, "asset.discovered", asset, None, {"external_id": ident, **meta})
            report.created.append(asset.name)
        else:
            before = {"zone": str(asset.zone), **{k: asset.metadata.get(k) for k in meta if k != "last_seen_at"}}
            asset.zone = zone
            asset.metadata = {k: v for k, v in {**asset.metadata, **meta}.items() if k != "vanished_at"}
            asset.save(update_fields=["zone", "metadata"])
            after = {"zone": str(zone), **{k: v for k, v in meta.items() if k != "last_seen_at"}}
            changed_before, changed_after = audit.changes(before, after)
            if changed_after:
                audit.record(actor, "asset.synced", asset, changed_before, changed_after)
                report.updated.append(asset.name)
        seen.add(asset.pk)
    gone = Asset.objects.filter(account=account, kind=AssetKind.MANAGED_DATABASE).exclude(pk__in=seen)
    for asset in gone:
        if asset.metadata.get("vanished_at"):
            continue
        asset.metadata = {**asset.metadata, "vanished_at": now.isoformat()}
        asset.save(update_fields=["metadata"])
        audit.record(actor, "asset.vanished", asset, None, {"vanished_at": now.isoformat()})
        report.vanished.append(asset.name)


def sync_account(account, now: datetime, actor: str) -> SyncReport:
    """Read everything from the provider first; then write in one transaction, so a provider error leaves
    the inventory as it was."""
    report = SyncReport()
    with transaction.atomic():
        if account.driver not in COMPUTE_DRIVERS_WITHOUT_NODES:
            sync_nodes(account, now, actor, report)
        if account.driver in ("ec2", "aws"):
            sync_databases(account, now, actor, report)
    return report
