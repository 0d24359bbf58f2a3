"""Pollers find backups where they really are and write them as records through the same validation as the
API. Objects map to assets by the source's pattern; objects no pattern matches are listed, not dropped."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime

from backups import ingest
from backups.choices import RecordSource, SourceKind
from backups.models import BackupRecord, BackupSource, UnmatchedObject
from drportal.audit import log as audit


@dataclass
class PollResult:
    created: int = 0
    duplicates: int = 0
    finished: int = 0
    unmatched: int = 0
    errors: list[str] = field(default_factory=list)


def poll(source: BackupSource, now: datetime) -> PollResult:
    """Run one source's poller. Adapter errors propagate (AdapterError, permanent or not) after being noted
    on the source, so the scheduled run records them too."""
    from drportal.cloud.adapters.errors import AdapterError

    try:
        items, unmatched = POLLERS[source.kind](source, now)
        result = _save(source, items, now)
        result.unmatched = _list_unmatched(source, unmatched, now)
    except AdapterError as exc:
        BackupSource.objects.filter(pk=source.pk).update(last_polled_at=now, last_error=str(exc)[:2000])
        raise
    BackupSource.objects.filter(pk=source.pk).update(last_polled_at=now, last_error="; ".join(result.errors)[:2000])
    if result.created or result.finished:
        audit.record(f"job:poll#{source.pk}", "backups.polled", source,
                     after={"created": result.created, "finished": result.finished, "unmatched": result.unmatched})
    return result


def _location(source: BackupSource, key: str = "") -> dict:
    where: dict = {"container": source.container, "key": key}
    if source.zone_id:
        where["zone"] = str(source.zone)
    elif source.region_id:
        where["region"] = str(source.region)
    return where


def _client_id(*parts: object) -> str:
    text = ":".join(str(p) for p in parts)
    # Keys can be long; the id only has to be stable and unique per asset.
    return text if len(text) <= 200 else text[:150] + "#" + hashlib.sha256(text.encode()).hexdigest()[:40]


def _assets_by_key(source: BackupSource, keys: list[str]) -> tuple[dict[str, str], list[str]]:
    """{object key: asset name} for keys whose pattern group names an asset of the policy (by name or by
    external id); the other keys."""
    from django.db.models import Q

    pattern = re.compile(source.pattern)
    wanted: dict[str, str] = {}
    for key in keys:
        match = pattern.search(key[len(source.prefix):] if key.startswith(source.prefix) else key)
        if match and match.groupdict().get("asset"):
            wanted[key] = match.group("asset")
    names = set(wanted.values())
    known: dict[str, str] = {}
    for name, external in source.policy.assets.filter(Q(name__in=names) | Q(external_id__in=names)).values_list(
        "name", "external_id"
    ):
        known[name] = name
        if external:
            known[external] = name
    matched = {key: known[name] for key, name in wanted.items() if name in known}
    return matched, [k for k in keys if k not in matched]


def _poll_objects(source: BackupSource, now: datetime, listing) -> tuple[list[dict], list[dict]]:
    objects = {o["key"]: o for o in listing}
    matched, unmatched = _assets_by_key(source, list(objects))
    # A dump an agent already reported (same container and key) is not recorded twice.
    seen = set(BackupRecord.objects.filter(container=source.container, key__in=list(matched))
               .values_list("key", flat=True))
    items = []
    for key, asset in matched.items():
        obj = objects[key]
        if key in seen or obj["last_modified"] is None:
            continue
        stamp = obj["last_modified"].isoformat()
        items.append({
            "id": _client_id(source.kind, source.container, key, obj.get("etag") or obj.get("md5") or obj["size"]),
            "asset": asset, "policy": source.policy.name, "outcome": "succeeded", "started_at": stamp,
            "completed_at": stamp, "size_bytes": obj["size"], "location": _location(source, key),
        })
    return items, [objects[k] for k in unmatched]


def _poll_s3(source: BackupSource, now: datetime):
    from drportal.cloud.adapters import s3

    return _poll_objects(source, now, s3.list_objects(source.account, source.container, source.prefix))


def _poll_objectstore(source: BackupSource, now: datetime):
    from drportal.cloud.adapters import objectstore

    return _poll_objects(source, now, objectstore.list_objects(source.account, source.container, source.prefix))


SNAPSHOT_OUTCOME = {"available": "succeeded", "failed": "failed", "error": "failed", "incompatible-restore": "failed"}


def _poll_rds_snapshots(source: BackupSource, now: datetime):
    from drportal.cloud.adapters import rds

    snaps = [s for s in rds.list_snapshots(source.account) if s["created"] is not None]
    matched, unmatched = _assets_by_key(source, [s["instance"] for s in snaps])
    items = []
    for snap in snaps:
        if snap["instance"] not in matched:
            continue
        outcome = SNAPSHOT_OUTCOME.get(snap["status"], "running")
        items.append({
            "id": _client_id("rds-snapshot", snap["id"]), "asset": matched[snap["instance"]],
            "policy": source.policy.name, "outcome": outcome, "started_at": snap["created"].isoformat(),
            "completed_at": now.isoformat() if outcome != "running" else None, "provider_state": snap["status"],
            "size_bytes": (snap["size_gb"] or 0) * 1024**3, "location": _location(source, snap["id"]),
            "error": "" if outcome != "failed" else f"snapshot status {snap['status']}",
        })
    return items, [{"key": s["instance"] or s["id"], "size": None} for s in snaps if s["instance"] in unmatched]


def _poll_rds_pitr(source: BackupSource, now: datetime):
    """One record per instance and poll: the latest restorable time is the recovery point."""
    from drportal.cloud.adapters import rds

    items = []
    for asset in source.policy.assets.exclude(external_id=""):
        window = rds.restorable_window(source.account, asset.external_id)
        latest = window["latest"]
        if latest is None:
            continue
        stamp = latest.isoformat()
        items.append({"id": _client_id("rds-pitr", asset.external_id, stamp), "asset": asset.name,
                      "policy": source.policy.name, "outcome": "succeeded", "started_at": stamp,
                      "completed_at": stamp, "recovery_point": stamp, "provider_state": "available",
                      "location": _location(source, asset.external_id)})
    return items, []


def _poll_git(source: BackupSource, now: datetime):
    """For each repository of the policy, compare the heads of each mirror with the origin's."""
    from drportal.cloud.adapters import git
    from drportal.cloud.adapters.errors import AdapterError

    items = []
    for repo in source.policy.assets.exclude(external_id="").prefetch_related("mirrors"):
        try:
            origin, origin_error = git.ls_remote(repo.external_id), ""
        except AdapterError as exc:
            origin, origin_error = None, f"origin: {exc}"
        for mirror in repo.mirrors.exclude(external_id=""):
            zone = mirror.current_zone
            base = {"id": _client_id("git", mirror.pk, now.strftime("%Y%m%dT%H%M")), "asset": repo.name,
                    "policy": source.policy.name, "started_at": now.isoformat(), "completed_at": now.isoformat(),
                    "location": {"container": mirror.name, "key": mirror.external_id,
                                 **({"zone": str(zone)} if zone else {})}}
            try:
                heads = git.ls_remote(mirror.external_id)
            except AdapterError as exc:
                items.append(base | {"outcome": "failed", "error": f"mirror: {exc}"})
                continue
            if origin is None:
                items.append(base | {"outcome": "failed", "error": origin_error})
                continue
            digest = hashlib.sha256("\n".join(f"{r} {s}" for r, s in sorted(heads.items())).encode()).hexdigest()
            items.append(base | {"outcome": "succeeded", "provider_state": "in_sync" if heads == origin else "diverged",
                                 "sha256": digest, "size_bytes": len(heads),
                                 "error": "" if heads == origin else _difference(origin, heads)})
    return items, []


def _difference(origin: dict, mirror: dict) -> str:
    missing = sorted(r for r in origin if mirror.get(r) != origin[r])
    return "mirror differs from origin on " + ", ".join(missing[:10]) if missing else "mirror has extra refs"


POLLERS = {
    SourceKind.S3: _poll_s3,
    SourceKind.OBJECTSTORE: _poll_objectstore,
    SourceKind.RDS_SNAPSHOTS: _poll_rds_snapshots,
    SourceKind.RDS_PITR: _poll_rds_pitr,
    SourceKind.GIT: _poll_git,
}


def _save(source: BackupSource, items: list[dict], now: datetime) -> PollResult:
    result = PollResult()
    if not items:
        return result
    lookups = ingest.Lookups(items, None)
    records = []
    for item in items:
        try:
            records.append(ingest.build_record(item, lookups, now, source=RecordSource.POLLER))
        except ingest.IngestError as exc:
            result.errors.append(f"{item.get('location', {}).get('key') or item['id']}: {exc}")
    if records:
        saved = ingest.save(records)
        result.created, result.duplicates, result.finished = (len(saved.created), len(saved.duplicates),
                                                              len(saved.finished))
    return result


def _list_unmatched(source: BackupSource, objects: list[dict], now: datetime) -> int:
    if not objects:
        return 0
    rows = [UnmatchedObject(source=source, key=o["key"][:1024], size_bytes=o.get("size"), first_seen_at=now,
                            last_seen_at=now) for o in objects]
    UnmatchedObject.objects.bulk_create(rows, update_conflicts=True, unique_fields=["source", "key"],
                                        update_fields=["last_seen_at", "size_bytes"])
    return len(rows)
