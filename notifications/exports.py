"""Customer data export on termination (the Cybernance policy): an archive of what drportal holds about the
customer, plus their databases from the newest viable backups where the storage is reachable, downloaded
through an expiring signed link."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import secrets
import tempfile
import zipfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.urls import reverse

from drportal.audit import log as audit
from drportal.cloud.adapters.errors import AdapterError
from drportal.inventory.models import Customer
from drportal.lib import clock, messages
from notifications.choices import ExportState
from notifications.models import CustomerExport

SALT = "notifications.export"
LINK_TTL = timedelta(hours=int(os.environ.get("EXPORT_LINK_HOURS", "72")))


def request_export(actor, customer: Customer) -> CustomerExport:
    from notifications import jobs

    with transaction.atomic():
        export = CustomerExport.objects.create(customer=customer, requested_by=actor, requested_at=clock.now())
        audit.record(actor, "export.requested", export, after={"customer": customer.slug})
        jobs.enqueue_on_commit(build, export.pk, queue="low")
    return export


def build(export_id: int) -> CustomerExport | None:
    """Claim the export (requested -> building), write the archive, mark it ready. Running twice is harmless."""
    now = clock.now()
    if not CustomerExport.objects.filter(pk=export_id, state=ExportState.REQUESTED).update(
        state=ExportState.BUILDING, started_at=now
    ):
        return None
    export = CustomerExport.objects.select_related("customer").get(pk=export_id)
    actor = f"job:build_export#{export_id}"
    try:
        data, manifest = _archive(export, now)
        digest = hashlib.sha256(data).hexdigest()
        location = _store(export, data)
    except Exception as exc:
        # Support reads the sentence; the raw error (scrubbed of keys and signed URLs) stays behind "details".
        error = messages.with_details(f"The export could not be built: {_first_lower(messages.sentence(str(exc)))}",
                                      str(exc))
        CustomerExport.objects.filter(pk=export_id).update(state=ExportState.FAILED, error=error[:2000],
                                                           finished_at=clock.now())
        audit.record(actor, "export.failed", export, after={"error": messages.scrub(str(exc))[:500]})
        raise
    CustomerExport.objects.filter(pk=export_id).update(
        state=ExportState.READY, finished_at=clock.now(), size_bytes=len(data), sha256=digest, manifest=manifest,
        **location,
    )
    export.refresh_from_db()
    audit.record(actor, "export.ready", export, after={"size_bytes": len(data), "sha256": digest,
                                                       "databases": len(manifest["databases"])})
    return export


def _archive(export: CustomerExport, now: datetime) -> tuple[bytes, dict]:
    customer = export.customer
    holdings = _holdings(customer)
    databases = _databases(customer, now)
    files: dict[str, bytes] = {"customer.json": json.dumps(holdings, indent=2, default=_json_default).encode()}
    for name in ("contacts", "services", "assets"):
        files[f"{name}.csv"] = _csv(holdings[name])
    files["backups.csv"] = _csv([{k: v for k, v in d.items() if k != "file"} for d in databases])
    for d in databases:
        if d.pop("file", None) is not None:
            files[d["archive_path"]] = d.pop("content")
    manifest = {
        "customer": {"slug": customer.slug, "name": customer.name, "status": customer.status},
        "generated_at": now.isoformat(),
        "export_id": export.pk,
        "databases": databases,
        "files": [{"path": p, "size_bytes": len(b), "sha256": hashlib.sha256(b).hexdigest()}
                  for p, b in sorted(files.items())],
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", json.dumps(manifest, indent=2, default=_json_default))
        for path, content in files.items():
            archive.writestr(path, content)
    return buffer.getvalue(), json.loads(json.dumps(manifest, default=_json_default))


def _holdings(customer: Customer) -> dict[str, Any]:
    return {
        "customer": {"slug": customer.slug, "name": customer.name, "tier": customer.tier,
                     "status": customer.status, "terminated_at": customer.terminated_at},
        "contacts": [{"purpose": c.purpose, "name": c.name, "email": c.email, "phone": c.phone}
                     for c in customer.contacts.all()],
        "services": [{"slug": s.slug, "name": s.display_name} for s in customer.services.all()],
        "assets": [{"name": a.name, "kind": a.kind, "external_id": a.external_id, "description": a.description}
                   for a in customer.assets.all()],
    }


def _databases(customer: Customer, now: datetime) -> list[dict[str, Any]]:
    """The newest viable backup of each of the customer's databases, and its dump when we can read it."""
    try:
        from backups.models import BackupRecord
    except ImportError:
        return []
    out = []
    for asset in customer.assets.filter(kind__in=["database", "managed_database"]).order_by("name"):
        candidates = BackupRecord.objects.filter(asset=asset, viable=True).select_related("zone", "region")
        record = next((r for r in candidates.order_by("-recovery_point", "-started_at")[:20] if r.is_viable_at(now)),
                      None)
        row: dict[str, Any] = {"asset": asset.name, "kind": asset.kind}
        if record is None:
            out.append({**row, "backup": None, "included": False, "reason": "no viable backup"})
            continue
        row.update({"backup": record.pk, "recovery_point": record.recovery_point, "location": record.location_label,
                    "container": record.container, "key": record.key, "sha256": record.sha256,
                    "size_bytes": record.size_bytes})
        content, reason = _fetch(record)
        if content is None:
            out.append({**row, "included": False, "reason": reason})
        else:
            name = f"databases/{asset.name}/{Path(record.key).name or 'dump'}"
            out.append({**row, "included": True, "archive_path": name, "file": True, "content": content})
    return out


def _fetch(record) -> tuple[bytes | None, str]:
    """The dump, checked against the recorded checksum: from a local storage directory (libcloud's local
    driver layout: EXPORT_LOCAL_STORAGE/<container>/<key>), else from the S3 bucket or storage container a
    backups poller reads (the way restore tests fetch it)."""
    from backups.models import BackupSource

    root = getattr(settings, "EXPORT_LOCAL_STORAGE", "") or os.environ.get("EXPORT_LOCAL_STORAGE", "")
    content = _read_local(Path(root), record) if root and record.key else None
    if content is None and record.key and BackupSource.objects.filter(container=record.container).exists():
        content, error = _download(record)
        if error:
            return None, error
    if content is None:
        return None, ("object not found in local storage" if root
                      else "storage not reachable from drportal: fetch it from the listed location")
    if record.sha256 and hashlib.sha256(content).hexdigest() != record.sha256:
        return None, "stored object does not match the recorded checksum"
    return content, ""


def _read_local(root: Path, record) -> bytes | None:
    path = (root / record.container / record.key).resolve()
    if root.resolve() not in path.parents or not path.is_file():
        return None
    return path.read_bytes()


def _download(record) -> tuple[bytes | None, str]:
    from backups import verify

    with tempfile.TemporaryDirectory() as scratch:
        target = Path(scratch) / "object"
        try:
            verify.fetch(record, str(target))
        except AdapterError as exc:
            return None, f"could not read it from its storage: {_first_lower(messages.sentence(str(exc)))}"
        return target.read_bytes(), ""


def _first_lower(sentence: str) -> str:
    return sentence[:1].lower() + sentence[1:]


def _json_default(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _csv(rows: list[dict]) -> bytes:
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return out.getvalue().encode()


def _store(export: CustomerExport, data: bytes) -> dict[str, str]:
    bucket = os.environ.get("EXPORT_S3_BUCKET", "")
    name = f"{export.customer.slug}-{export.pk}-{secrets.token_hex(8)}.zip"
    if bucket:
        key = f"exports/{name}"
        _s3().put_object(Bucket=bucket, Key=key, Body=data, ContentType="application/zip")
        return {"s3_bucket": bucket, "s3_key": key}
    directory = Path(settings.MEDIA_ROOT) / "exports"
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f".{name}.part"
    tmp.write_bytes(data)
    tmp.replace(directory / name)
    return {"path": f"exports/{name}"}


def _s3():
    import boto3

    return boto3.client("s3", endpoint_url=os.environ.get("EXPORT_S3_ENDPOINT_URL") or None)


def download_token(export: CustomerExport) -> str:
    return signing.dumps({"e": export.pk}, salt=SALT)


def download_link(actor, export: CustomerExport) -> str:
    audit.record(actor, "export.link_issued", export, after={"valid_for_hours": LINK_TTL.total_seconds() / 3600})
    path = reverse("notifications:export-download", args=[download_token(export)])
    return settings.SITE_URL.rstrip("/") + path


def read_token(token: str) -> int:
    """The export id; raises signing.SignatureExpired or signing.BadSignature."""
    return int(signing.loads(token, salt=SALT, max_age=LINK_TTL)["e"])


def presigned_url(export: CustomerExport) -> str:
    return _s3().generate_presigned_url(
        "get_object", Params={"Bucket": export.s3_bucket, "Key": export.s3_key}, ExpiresIn=300,
    )
