"""restore_database: RDS point-in-time / snapshot restore; for a database on a server, its data volume
moved to the replacement when it can be detached and attached, else the most recent viable backup in
cloud storage (from the backups app's records) downloaded and loaded by the configured restore command.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from libcloud.compute.types import StorageVolumeState

from drportal.audit import log as audit
from drportal.cloud.actions.base import Outcome, StepContext, register
from drportal.cloud.actions.common import (
    account_named,
    actor,
    bad_input,
    check_timeout,
    param,
    region_name,
    server_from,
)
from drportal.cloud.adapters import aws, compute, pgrestore, rds_recovery, retry
from drportal.cloud.adapters.errors import AdapterError

NAME = "restore_database"


def restore_target(source: str, key: str) -> str:
    """A stable RDS identifier for this step: the same key always restores into the same instance."""
    suffix = "r" + hashlib.sha1(key.encode()).hexdigest()[:8]  # noqa: S324 - a name, not security  # nosec B324
    return f"{source[: 62 - len(suffix)]}-{suffix}"


class RestoreDatabase:
    name = NAME
    title = "Restore a database (RDS point in time or snapshot, or the failed server's data volume)"

    def _mode(self, ctx: StepContext) -> str:
        from drportal.inventory.choices import AssetKind
        from drportal.inventory.models import Asset

        if param(ctx, "instance"):
            return "rds"
        if param(ctx, "from") == "dumps":
            # A managed database restored from its off-site dumps (asset.dumps) when point-in-time restore cannot
            # be used: the inventory's one managed database that names its dumps, unless the step names one.
            if not param(ctx, "asset"):
                names = list(Asset.objects.filter(kind=AssetKind.MANAGED_DATABASE).exclude(dumps=[])
                             .values_list("name", flat=True)[:2])
                if len(names) != 1:
                    raise bad_input("params.asset", "name the database to restore from its dumps")
                ctx.params["asset"] = names[0]
            return "storage"
        if param(ctx, "mode") in ("point_in_time", "snapshot") and not param(ctx, "asset"):
            # A scenario that only says "point in time": the inventory's managed database, if there is one.
            names = list(Asset.objects.filter(kind=AssetKind.MANAGED_DATABASE).exclude(external_id="")
                         .values_list("name", flat=True)[:2])
            if len(names) != 1:
                raise bad_input("params.asset", "name the managed database to restore")
            ctx.params["asset"] = names[0]
            return "rds"
        if param(ctx, "server") and not param(ctx, "asset") and not param(ctx, "volume"):
            # "Recover the databases of {server}": its one database asset, from cloud storage.
            names = list(Asset.objects.filter(kind=AssetKind.DATABASE, server__name=param(ctx, "server"))
                         .values_list("name", flat=True)[:2])
            if len(names) != 1:
                raise bad_input("params.asset", f"name the database of {param(ctx, 'server')} to restore")
            ctx.params["asset"] = names[0]
        if param(ctx, "asset"):
            kind = Asset.objects.filter(name=param(ctx, "asset")).values_list("kind", flat=True).first()
            if kind is None:
                raise bad_input("params.asset", f"no asset {param(ctx, 'asset')!r}")
            if kind == AssetKind.MANAGED_DATABASE:
                return "rds"
            if not param(ctx, "volume"):
                return "storage"
        if param(ctx, "volume"):
            return "volume"
        raise bad_input("params.instance", "give an RDS instance (or asset), or a volume with a server")

    def _rds(self, ctx: StepContext):
        from drportal.inventory.models import Asset

        asset = None
        source = param(ctx, "instance")
        if param(ctx, "asset"):
            asset = Asset.objects.select_related("account").filter(name=param(ctx, "asset")).first()
            if asset is None:
                raise bad_input("params.asset", f"no asset {param(ctx, 'asset')!r}")
            # After a restore the asset points at the new instance; the same step must still restore from
            # the original source, or a retry would restore the restored copy.
            if not source and asset.metadata.get("restored_by") == ctx.idempotency_key:
                source = asset.metadata.get("restored_from")
            source = source or asset.external_id
        account = account_named(ctx, "params.account", param(ctx, "account"), getattr(asset, "account", None))
        restore_time = param(ctx, "restore_time")
        if restore_time:
            try:
                restore_time = datetime.fromisoformat(restore_time)
            except ValueError:
                raise bad_input("params.restore_time", f"{restore_time!r} is not an ISO 8601 time") from None
        target = param(ctx, "target") or restore_target(source, ctx.idempotency_key)
        return account, asset, source, target, restore_time

    def plan(self, ctx: StepContext) -> list[str]:
        if self._mode(ctx) == "storage":
            from drportal.cloud.actions.storage_restore import plan as storage_plan

            return storage_plan(ctx)
        if self._mode(ctx) == "volume":
            server = server_from(ctx)
            return [f"Detach volume {param(ctx, 'volume')} and attach it to {server.name} ({server.provider_node_id})."]
        account, _, source, target, when = self._rds(ctx)
        away = self._away(ctx, account, source)
        if param(ctx, "snapshot") not in (None, "latest"):
            how = f"snapshot {param(ctx, 'snapshot')}"
        elif param(ctx, "snapshot") or param(ctx, "mode") == "snapshot":
            how = "its newest snapshot copy there" if away else "its newest snapshot"
        else:
            how = f"point in time {when.isoformat()}" if when else "the latest restorable time"
        return [f"Restore RDS {source} from {how} into a new instance {target}"
                f"{f' in {away}' if away else ''}; wait until it is available."]

    def execute(self, ctx: StepContext) -> Outcome:
        mode = self._mode(ctx)
        if mode == "storage" or ctx.state.get("from_storage"):
            from drportal.cloud.actions.storage_restore import execute as storage_execute

            return storage_execute(ctx)
        return self._volume(ctx) if mode == "volume" else self._rds_restore(ctx)

    @staticmethod
    def _away(ctx: StepContext, account, source: str) -> str | None:
        """The region the step restores into when it is not the account's own (a rebuild elsewhere), else None.
        There only a snapshot restore is offered: point-in-time restore reads the source region's backups, which
        is the region lost, and automated backups replicated to another region are not read yet."""
        region = region_name(ctx)
        if not region or region == aws.home_region(account):
            return None
        if not param(ctx, "snapshot") and param(ctx, "mode") != "snapshot":
            raise bad_input("params.mode", f"a point-in-time restore of {source} in {region} needs its automated "
                                           f"backups replicated to {region}, which drportal does not read: restore "
                                           "from a snapshot copy there (mode: snapshot)")
        return region

    def _rds_restore(self, ctx: StepContext) -> Outcome:
        account, asset, source, target, when = self._rds(ctx)
        away = self._away(ctx, account, source)
        check_timeout(ctx, 7200, f"RDS instance {target}")
        db = rds_recovery.describe(account, target, away)
        if db is None:
            snapshot = param(ctx, "snapshot") or ("latest" if param(ctx, "mode") == "snapshot" else None)
            lives_in = self._lives_in(asset, source)
            if lives_in and lives_in != (away or aws.home_region(account)):
                snapshot = self._bring_across(ctx, account, asset, source, lives_in, away)
                if snapshot is None:
                    return Outcome(done=False, poll_after=float(param(ctx, "poll_s", 30)),
                                   output={"target": target, "status": "copying a snapshot across regions"})
            if snapshot:
                if snapshot == "latest":
                    snapshot = self._latest_snapshot(ctx, account, source, away)
                db = rds_recovery.restore_from_snapshot(account, snapshot, target, param(ctx, "instance_class"),
                                                        region=away)
            else:
                db = rds_recovery.restore_to_point_in_time(account, source, target, when, param(ctx, "instance_class"))
            audit.record(actor(NAME, ctx), "rds.restore_started", asset, None,
                         {"source": source, "target": target, "snapshot": snapshot or None,
                          "restore_time": ctx.state.get("restore_point") or (when.isoformat() if when else "latest"),
                          **({"region": away} if away else {})})
            ctx.say(f"restore of {source} into {target}{f' in {away}' if away else ''} started")
        status = db.get("DBInstanceStatus", "")
        if status != "available":
            return Outcome(done=False, poll_after=float(param(ctx, "poll_s", 30)),
                           output={"target": target, "status": status})
        endpoint = (db.get("Endpoint") or {}).get("Address", "")
        if asset is not None and asset.external_id != target and not ctx.drill:
            before = audit.snapshot(asset, ["external_id"])
            asset.external_id = target
            kept = {k: v for k, v in asset.metadata.items() if k != "restored_in"}
            asset.metadata = {**kept, "restored_from": source, "restored_by": ctx.idempotency_key,
                              **({"restored_in": away} if away else {})}
            asset.save(update_fields=["external_id", "metadata"])
            audit.record(actor(NAME, ctx), "asset.restored", asset, before, {"external_id": target})
        ctx.say(f"{target} is available at {endpoint}")
        where = {**({"region": away} if away else {}),
                 **({"restore_point": ctx.state.get("restore_point", "")} if away or "restore_point" in ctx.state
                    else {})}
        return Outcome(done=True, output={"target": target, "source": source, "endpoint": endpoint, **where})

    @staticmethod
    def _lives_in(asset, source: str) -> str | None:
        """The region of an instance an earlier run restored away from home (asset.metadata.restored_in)."""
        return asset.metadata.get("restored_in") if asset is not None and source == asset.external_id else None

    @staticmethod
    def _bring_across(ctx: StepContext, account, asset, source: str, lives_in: str, away: str | None) -> str | None:
        """A source running in another region (the database restored there while home was lost) comes back by a
        snapshot of it taken now, copied to where the step restores: RDS restores to a point in time only within
        one region. Each is named from the step's key, so a retry finds its own; None while either is not yet
        available. Writes after the snapshot are not in the restore (the step says when it was taken)."""
        base = restore_target(source, ctx.idempotency_key)
        taken = rds_recovery.snapshot(account, f"{base}-now", lives_in)
        if taken is None:
            audit.record(actor(NAME, ctx), "rds.snapshot_started", asset, None,
                         {"source": source, "snapshot": f"{base}-now", "region": lives_in})
            taken = rds_recovery.create_snapshot(account, source, f"{base}-now", lives_in)
        if taken.get("Status") != "available":
            return None
        copied = rds_recovery.snapshot(account, f"{base}-copy", away)
        if copied is None:
            audit.record(actor(NAME, ctx), "rds.snapshot_copied", asset, None,
                         {"snapshot": taken["DBSnapshotArn"], "copy": f"{base}-copy", "region": away or "home"})
            copied = rds_recovery.copy_snapshot(account, taken["DBSnapshotArn"], f"{base}-copy", away, lives_in)
        if copied.get("Status") != "available":
            return None
        point = taken.get("SnapshotCreateTime")
        ctx.state["restore_point"] = point.isoformat() if point else ""
        ctx.say(f"{source} runs in {lives_in}: restoring from its snapshot {taken['DBSnapshotIdentifier']} of "
                f"{ctx.state['restore_point'] or 'just now'}, copied here as {copied['DBSnapshotIdentifier']}")
        return copied["DBSnapshotIdentifier"]

    @staticmethod
    def _latest_snapshot(ctx: StepContext, account, source: str, away: str | None) -> str:
        """The newest snapshot of `source` (in `away`: the copies made there). A restore in another region is from
        a snapshot copy there: point-in-time restore reads the source region's backups, and that region is the
        one lost (replicated automated backups are not read yet). The step says which point it restored to."""
        where = f" in {away}" if away else ""
        found = rds_recovery.latest_snapshot(account, source, region=away)
        if found is None:
            raise AdapterError(f"RDS {source} has no available snapshot{where}", permanent=True, code="NoSnapshot")
        if away:
            taken = found.get("SnapshotCreateTime")
            ctx.state["restore_point"] = taken.isoformat() if taken else ""
            ctx.say(f"restoring {source} in {away} from its snapshot copy {found['DBSnapshotIdentifier']} taken "
                    f"{ctx.state['restore_point'] or 'at an unknown time'}: what was written after it is not restored")
        return found["DBSnapshotIdentifier"]

    def _volume(self, ctx: StepContext) -> Outcome:
        server = server_from(ctx)
        account = account_named(ctx, "params.account", param(ctx, "account"), server.account)
        driver = compute.driver_for(account, region=param(ctx, "region"))
        provider = compute.provider_name(account)
        volume_id = param(ctx, "volume")
        volume = next((v for v in retry.call(driver.list_volumes, provider=provider) if v.id == volume_id), None)
        if volume is None:
            if param(ctx, "asset") and param(ctx, "restore_command"):
                ctx.say(f"volume {volume_id} is gone; restoring from cloud storage instead")
                ctx.state["from_storage"] = True
                from drportal.cloud.actions.storage_restore import execute as storage_execute

                return storage_execute(ctx)
            ctx.say(f"volume {volume_id} is gone; restore from cloud storage instead")
            return Outcome(done=True, handover="restore_from_cloud_storage",
                           output={"reason": f"volume {volume_id} does not exist at {provider}"})
        attached_to = compute.volume_node(volume)
        if attached_to == server.provider_node_id:
            return self._on_volume(ctx, {"volume": volume_id, "node_id": attached_to, "moved": False})
        if attached_to or volume.state == StorageVolumeState.INUSE:
            compute.detach_volume(driver, volume, attached_to, provider)
            audit.record(actor(NAME, ctx), "volume.detached", server, {"volume": volume_id, "node": attached_to}, None)
            refreshed = next(v for v in retry.call(driver.list_volumes, provider=provider) if v.id == volume_id)
            if refreshed.state not in (StorageVolumeState.AVAILABLE,):
                check_timeout(ctx, 1800, f"volume {volume_id} to detach")
                return Outcome(done=False, poll_after=5, output={"volume": volume_id, "state": str(refreshed.state)})
            volume = refreshed
        node = compute.get_node(driver, server.provider_node_id, provider)
        if node is None:
            raise bad_input("params.server", f"{server.name} has no running replacement node")
        retry.call(driver.attach_volume, node, volume, param(ctx, "device", "/dev/xvdf"), provider=provider)
        audit.record(actor(NAME, ctx), "volume.attached", server, None, {"volume": volume_id, "node": node.id})
        ctx.say(f"volume {volume_id} attached to {node.id}")
        return self._on_volume(ctx, {"volume": volume_id, "node_id": node.id, "moved": True, "from": attached_to})

    def _on_volume(self, ctx: StepContext, output: dict) -> Outcome:
        """The volume is on the replacement; is the customer database on it? One volume holds several databases
        and a crash may have damaged one and not another: each is looked for, by name, on the replacement's
        PostgreSQL (the inventory's restore.database), and one that is not there, or holds no table, is handed
        over to a restore from cloud storage. A database the inventory gives no name to is not checked."""
        from drportal.inventory.models import Asset

        asset = Asset.objects.select_related("server").filter(name=param(ctx, "asset")).first() \
            if param(ctx, "asset") else None
        if asset is None or not (asset.restore or {}).get("database"):
            return Outcome(done=True, output={**output, "database_checked": False})
        from drportal.cloud.actions.dump_restore import target_of

        target = target_of(ctx, asset)
        tables = pgrestore.table_count(target)
        if not tables:
            where = f"{target.database} on {target.host}:{target.port}"
            why = f"{where} does not exist" if tables is None else f"{where} holds no table"
            ctx.say(f"{asset.name}: {why} after moving volume {output['volume']}; restore it from cloud storage")
            return Outcome(done=True, handover="restore_from_cloud_storage",
                           output={**output, "database_checked": True, "reason": why})
        ctx.say(f"{asset.name}: {target.database} answers on {target.host} with {tables} table(s)")
        return Outcome(done=True, output={**output, "database_checked": True, "database": target.database,
                                          "host": target.host, "tables": tables})


action = register(RestoreDatabase())
