from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from backups.models import BackupPolicy, BackupRecord, PolicyAssetStatus
from drportal.audit.models import AuditEvent
from drportal.inventory.models import Asset
from drportal.lib import clock
from notifications import exports
from notifications.models import CustomerExport

NOW = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)
DUMP = b"PGDMP fake dump bytes of acme"


@pytest.fixture
def storage(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.EXPORT_LOCAL_STORAGE = str(tmp_path / "storage")
    (tmp_path / "storage" / "cloudfiles-dfw" / "acme").mkdir(parents=True)
    (tmp_path / "storage" / "cloudfiles-dfw" / "acme" / "acme-db.dump").write_bytes(DUMP)
    return tmp_path


@pytest.fixture
def acme_backups(world, storage):
    policy = BackupPolicy.objects.create(name="daily dumps", kind="database_dump", schedule="0 3 * * *",
                                         rpo_objective=timedelta(days=1))
    acme_db = Asset.objects.get(name="acme-db")
    PolicyAssetStatus.objects.create(policy=policy, asset=acme_db)
    for age, key, sha in ((timedelta(days=2), "acme/old.dump", "b" * 64),
                          (timedelta(hours=6), "acme/acme-db.dump", hashlib.sha256(DUMP).hexdigest())):
        at = NOW - age
        BackupRecord.objects.create(policy=policy, asset=acme_db, started_at=at, completed_at=at, outcome="succeeded",
                                    sha256=sha, region=world.dfw, container="cloudfiles-dfw", key=key,
                                    recovery_point=at, viable=True)
    return acme_db


def build_for(world, customer="acme") -> CustomerExport:
    export = exports.request_export(world.users["sam"], world.customers[customer])
    with time_machine.travel(NOW, tick=False):
        return exports.build(export.pk)


def read_zip(export) -> zipfile.ZipFile:
    from django.conf import settings

    return zipfile.ZipFile(io.BytesIO((settings.MEDIA_ROOT / export.path).read_bytes()))


def test_the_archive_holds_a_manifest_json_csv_and_the_newest_viable_dump(world, acme_backups):
    export = build_for(world)
    assert export.state == "ready"
    archive = read_zip(export)
    names = set(archive.namelist())
    assert {"manifest.json", "customer.json", "contacts.csv", "services.csv", "assets.csv", "backups.csv",
            "databases/acme-db/acme-db.dump"} <= names
    assert archive.read("databases/acme-db/acme-db.dump") == DUMP
    manifest = json.loads(archive.read("manifest.json"))
    [db] = manifest["databases"]
    assert db["included"] is True
    assert db["recovery_point"].startswith("2026-11-21T09:00")
    assert "cloudfiles-dfw" in db["location"]
    assert "ops@acme.example" in archive.read("contacts.csv").decode()
    files = {f["path"]: f["sha256"] for f in manifest["files"]}
    assert files["databases/acme-db/acme-db.dump"] == hashlib.sha256(DUMP).hexdigest()
    assert export.sha256 == hashlib.sha256((storage_path(export)).read_bytes()).hexdigest()


def storage_path(export):
    from django.conf import settings

    return settings.MEDIA_ROOT / export.path


def test_a_database_whose_storage_is_unreachable_is_listed_with_its_location(world, acme_backups, settings):
    settings.EXPORT_LOCAL_STORAGE = ""
    manifest = json.loads(read_zip(build_for(world)).read("manifest.json"))
    [db] = manifest["databases"]
    assert db["included"] is False
    assert "storage not reachable" in db["reason"]
    assert db["key"] == "acme/acme-db.dump"


def test_a_dump_kept_in_s3_is_read_through_the_account_of_its_poller(world, acme_backups, settings, moto_url,
                                                                      monkeypatch):
    import urllib.request

    import boto3

    from backups.choices import SourceKind
    from backups.models import BackupSource
    from drportal.inventory.models import Provider, ProviderAccount

    settings.EXPORT_LOCAL_STORAGE = ""
    urllib.request.urlopen(urllib.request.Request(moto_url + "/moto-api/reset", method="POST"))  # noqa: S310
    monkeypatch.setenv("TEST_AWS_KEY", "testing")
    monkeypatch.setenv("TEST_AWS_SECRET", "testing")
    provider, _ = Provider.objects.get_or_create(slug="aws", defaults={"name": "AWS", "kind": "aws"})
    account = ProviderAccount.objects.create(provider=provider, name="dumps-aws", driver="aws",
                                             credentials_env={"key": "TEST_AWS_KEY", "secret": "TEST_AWS_SECRET"},
                                             options={"region": "us-east-1", "endpoint_url": moto_url})
    s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=moto_url, aws_access_key_id="testing",
                      aws_secret_access_key="testing")
    s3.create_bucket(Bucket="cloudfiles-dfw")
    s3.put_object(Bucket="cloudfiles-dfw", Key="acme/acme-db.dump", Body=DUMP)
    BackupSource.objects.create(name="dumps", kind=SourceKind.S3, policy=BackupPolicy.objects.get(),
                                account=account, container="cloudfiles-dfw")

    archive = read_zip(build_for(world))
    assert archive.read("databases/acme-db/acme-db.dump") == DUMP
    s3.put_object(Bucket="cloudfiles-dfw", Key="acme/acme-db.dump", Body=b"tampered")
    [db] = json.loads(read_zip(build_for(world)).read("manifest.json"))["databases"]
    assert (db["included"], db["reason"]) == (False, "stored object does not match the recorded checksum")


def test_a_checksum_mismatch_is_not_exported_as_the_customers_data(world, acme_backups, storage):
    (storage / "storage" / "cloudfiles-dfw" / "acme" / "acme-db.dump").write_bytes(b"corrupted")
    [db] = json.loads(read_zip(build_for(world)).read("manifest.json"))["databases"]
    assert db["included"] is False
    assert "does not match the recorded checksum" in db["reason"]


def test_building_twice_does_the_work_once(world, acme_backups):
    export = build_for(world)
    assert exports.build(export.pk) is None
    assert AuditEvent.objects.filter(action="export.ready").count() == 1


def test_support_requests_an_export_and_gets_an_expiring_download_link(client_as, client, world, acme_backups,
                                                                       django_capture_on_commit_callbacks, redis_conn):
    staff = client_as("mona")
    with django_capture_on_commit_callbacks(execute=True):
        staff.post("/notifications/exports/", {"customer": "acme"})
    export = CustomerExport.objects.get()
    with time_machine.travel(NOW, tick=False):
        exports.build(export.pk)
    page = staff.post(f"/notifications/exports/{export.pk}/link/").content.decode()
    path = page.split("http://127.0.0.1:8000", 1)[1].split("<", 1)[0].strip()
    client.logout()
    response = client.get(path)
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="acme-export-')
    assert b"".join(response.streaming_content)[:2] == b"PK"
    assert AuditEvent.objects.filter(action="export.downloaded").count() == 1
    assert AuditEvent.objects.filter(action="export.link_issued", actor_label="mona").count() == 1


def test_tampered_and_expired_download_links_are_refused_clearly(client, world, acme_backups):
    export = build_for(world)
    token = exports.download_token(export)
    tampered = client.get(f"/notifications/exports/download/{token[:-3]}abc/")
    assert tampered.status_code == 400
    assert "altered or is incomplete" in tampered.content.decode()
    with time_machine.travel(clock.now() + exports.LINK_TTL + timedelta(minutes=1)):
        expired = client.get(f"/notifications/exports/download/{token}/")
    assert expired.status_code == 410
    assert "expired" in expired.content.decode()
    assert not AuditEvent.objects.filter(action="export.downloaded").exists()


def test_ops_cannot_request_exports(client_as, world):
    assert client_as("alice").post("/notifications/exports/", {"customer": "acme"}).status_code == 403
    assert not CustomerExport.objects.exists()


def test_with_s3_storage_the_download_redirects_to_a_presigned_url(client, world, acme_backups, monkeypatch):
    import urllib.request

    import boto3
    from moto.server import ThreadedMotoServer

    from tests.notifications.conftest import free_port

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        for key, value in {"EXPORT_S3_BUCKET": "exports", "EXPORT_S3_ENDPOINT_URL": endpoint,
                           "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                           "AWS_DEFAULT_REGION": "us-east-1"}.items():
            monkeypatch.setenv(key, value)
        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="exports")
        export = build_for(world)
        assert export.s3_key.startswith("exports/acme-")
        assert export.path == ""
        response = client.get(f"/notifications/exports/download/{exports.download_token(export)}/")
        assert response.status_code == 302
        assert "Signature=" in response["Location"]
        with urllib.request.urlopen(response["Location"]) as fetched:  # noqa: S310 - our local moto server
            body = fetched.read()
        assert hashlib.sha256(body).hexdigest() == export.sha256
    finally:
        server.stop()


def test_an_export_that_cannot_be_stored_fails_with_a_sentence_and_the_raw_error_behind_details(
        client_as, world, acme_backups, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "a-file"  # where the archive would go is a file, not a directory
    settings.MEDIA_ROOT.write_text("not a directory")
    export = exports.request_export(world.users["sam"], world.customers["acme"])
    with time_machine.travel(NOW, tick=False), pytest.raises(NotADirectoryError):
        exports.build(export.pk)

    export.refresh_from_db()
    assert export.state == "failed"
    page = client_as("mona").get("/notifications/exports/").content.decode()
    shown, details = page.split("The export could not be built: ", 1)[1].split("<details", 1)
    assert "Errno" not in shown  # the sentence says it in words
    assert "Not a directory" in details.split("</details>", 1)[0]
