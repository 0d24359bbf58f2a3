"""RDS recovery through boto3: Multi-AZ status and restores (point in time, or from a snapshot).

The listing of instances and snapshots for backup freshness lives in rds.py (backups app); this module
only holds what the recovery actions need, so the two can change independently.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from drportal.cloud.adapters import aws, retry
from drportal.cloud.adapters.errors import AdapterError


def _provider(account) -> str:
    return f"rds:{account.name}"


def _one(account, region: str | None, operation: str, not_found: str, listed: str, **kwargs) -> dict[str, Any] | None:
    """The one object a describe call names, or None when RDS answers that it does not exist."""
    rds = aws.client(account, "rds", region)
    try:
        found = retry.call(getattr(rds, operation), provider=_provider(account), **kwargs)
    except AdapterError as exc:
        if exc.code == not_found:
            return None
        raise
    return found[listed][0] if found[listed] else None


def describe(account, instance_id: str, region: str | None = None) -> dict[str, Any] | None:
    return _one(account, region, "describe_db_instances", "DBInstanceNotFound", "DBInstances",
                DBInstanceIdentifier=instance_id)


def list_instances(account) -> list[dict[str, Any]]:
    rds = aws.client(account, "rds")
    out: list[dict[str, Any]] = []
    marker = None
    while True:
        kwargs = {"Marker": marker} if marker else {}
        page = retry.call(rds.describe_db_instances, provider=_provider(account), **kwargs)
        out.extend(page["DBInstances"])
        marker = page.get("Marker")
        if not marker:
            return out


def multi_az_status(account, instance_id: str) -> dict[str, Any]:
    """What verify_failover needs: is it Multi-AZ, available, and where does the primary run now."""
    db = describe(account, instance_id)
    if db is None:
        raise AdapterError(f"RDS instance {instance_id} does not exist", permanent=True,
                           provider=_provider(account), code="DBInstanceNotFound")
    return {
        "instance": instance_id,
        "multi_az": bool(db.get("MultiAZ")),
        "status": db.get("DBInstanceStatus", ""),
        "zone": db.get("AvailabilityZone", ""),
        "secondary_zone": db.get("SecondaryAvailabilityZone", ""),
        "endpoint": (db.get("Endpoint") or {}).get("Address", ""),
    }


def restore_to_point_in_time(account, source: str, target: str, restore_time: datetime | None = None,
                             instance_class: str | None = None) -> dict[str, Any]:
    rds = aws.client(account, "rds")
    kwargs: dict[str, Any] = {"SourceDBInstanceIdentifier": source, "TargetDBInstanceIdentifier": target}
    if restore_time is None:
        kwargs["UseLatestRestorableTime"] = True
    else:
        kwargs["RestoreTime"] = restore_time
    if instance_class:
        kwargs["DBInstanceClass"] = instance_class
    return retry.call(rds.restore_db_instance_to_point_in_time, provider=_provider(account), **kwargs)["DBInstance"]


def latest_snapshot(account, source: str, region: str | None = None) -> dict[str, Any] | None:
    """The newest available snapshot of `source` in `region` (the account's own by default); in another region,
    the copies made there of the source's snapshots (a cross-region snapshot copy keeps the source's id)."""
    rds = aws.client(account, "rds", region)
    snaps = retry.call(rds.describe_db_snapshots, DBInstanceIdentifier=source, provider=_provider(account))
    usable = [s for s in snaps["DBSnapshots"] if s.get("Status") == "available"]
    return max(usable, key=lambda s: s.get("SnapshotCreateTime") or datetime.min, default=None)


def restore_from_snapshot(account, snapshot_id: str, target: str, instance_class: str | None = None,
                          region: str | None = None) -> dict:
    rds = aws.client(account, "rds", region)
    kwargs: dict[str, Any] = {"DBInstanceIdentifier": target, "DBSnapshotIdentifier": snapshot_id}
    if instance_class:
        kwargs["DBInstanceClass"] = instance_class
    return retry.call(rds.restore_db_instance_from_db_snapshot, provider=_provider(account), **kwargs)["DBInstance"]


def snapshot(account, snapshot_id: str, region: str | None = None) -> dict[str, Any] | None:
    """A snapshot by its id in `region`, or None when there is none."""
    return _one(account, region, "describe_db_snapshots", "DBSnapshotNotFound", "DBSnapshots",
                DBSnapshotIdentifier=snapshot_id)


def create_snapshot(account, instance_id: str, snapshot_id: str, region: str | None = None) -> dict[str, Any]:
    rds = aws.client(account, "rds", region)
    return retry.call(rds.create_db_snapshot, DBInstanceIdentifier=instance_id, DBSnapshotIdentifier=snapshot_id,
                      provider=_provider(account))["DBSnapshot"]


def copy_snapshot(account, source_arn: str, snapshot_id: str, region: str | None, source_region: str) -> dict:
    """A copy in `region` of a snapshot of another region (named by its ARN, as RDS wants it across regions)."""
    rds = aws.client(account, "rds", region)
    return retry.call(rds.copy_db_snapshot, SourceDBSnapshotIdentifier=source_arn,
                      TargetDBSnapshotIdentifier=snapshot_id, SourceRegion=source_region,
                      provider=_provider(account))["DBSnapshot"]
