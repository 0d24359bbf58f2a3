"""RDS through boto3, listing side: snapshots and the point-in-time window of an instance.
(Restores belong to the recovery actions and are added next to these.)"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from drportal.cloud.adapters import aws
from drportal.cloud.adapters.errors import AdapterError

PERMANENT = {"DBInstanceNotFound", "DBInstanceNotFoundFault", "DBSnapshotNotFound", "AccessDenied",
             "InvalidClientTokenId", "AuthFailure"}


def client(account) -> Any:
    # One way to build boto3 clients for an account (credentials at the moment of use, endpoint_url for
    # moto, botocore's retries off so retries happen in one place): drportal.cloud.adapters.aws.
    return aws.client(account, "rds")


def _wrap(exc: Exception) -> AdapterError:
    return aws.wrap(exc, "rds", PERMANENT)


def list_snapshots(account, instance_id: str | None = None) -> list[dict]:
    """Snapshots, manual and automated: {id, instance, status, created (aware or None), zone, size_gb}."""
    rds = client(account)
    kwargs = {"DBInstanceIdentifier": instance_id} if instance_id else {}
    out = []
    try:
        for page in rds.get_paginator("describe_db_snapshots").paginate(**kwargs):
            for snap in page.get("DBSnapshots", []):
                out.append({"id": snap["DBSnapshotIdentifier"], "instance": snap.get("DBInstanceIdentifier", ""),
                            "status": snap.get("Status", ""), "created": snap.get("SnapshotCreateTime"),
                            "zone": snap.get("AvailabilityZone", ""), "size_gb": snap.get("AllocatedStorage")})
    except Exception as exc:
        raise _wrap(exc) from exc
    return out


def restorable_window(account, instance_id: str) -> dict:
    """{latest: LatestRestorableTime or None, retention_days: BackupRetentionPeriod, zone, multi_az}."""
    try:
        found = client(account).describe_db_instances(DBInstanceIdentifier=instance_id)["DBInstances"]
    except Exception as exc:
        raise _wrap(exc) from exc
    if not found:
        raise AdapterError(f"no RDS instance {instance_id}", permanent=True, provider="rds")
    db = found[0]
    latest: datetime | None = db.get("LatestRestorableTime")
    return {"latest": latest, "retention_days": db.get("BackupRetentionPeriod", 0),
            "zone": db.get("AvailabilityZone", ""), "multi_az": bool(db.get("MultiAZ"))}
