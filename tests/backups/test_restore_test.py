"""Restore tests: a real pg_restore of a real custom-format dump into a scratch database, and a checksum."""

from __future__ import annotations

import hashlib
import subprocess
import uuid
from datetime import timedelta

import pytest
from django.db import connection

from backups import jobs, sweep, verify
from backups.choices import SourceKind
from backups.models import BackupRecord, BackupSource, PolicyAssetStatus, RestoreTest
from drportal.inventory.models import ProviderAccount
from drportal.lib import clock, pgtools
from tests.backups.conftest import record, work


@pytest.fixture
def dump_bytes(db) -> bytes:
    """pg_dump -Fc of a small database with 3 rows, made with the wheel's (or PATH's) pg_dump."""
    from psycopg import sql

    name = f"drportal_src_{uuid.uuid4().hex[:8]}"
    with verify._admin() as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        with verify._connect(name) as src:
            src.execute("CREATE TABLE patients (id int primary key, name text)")
            src.execute("INSERT INTO patients VALUES (1, 'a'), (2, 'b'), (3, 'c')")
        args, env = verify._server_args()
        tool = pgtools.find("pg_dump", connection.pg_version // 10000)
        done = subprocess.run([tool, "-Fc", *args, "-d", name], capture_output=True, env=env, check=True)
        return done.stdout
    finally:
        verify._drop(name)


@pytest.fixture
def stored(world, tmp_path, dump_bytes):
    """The dump stored in a libcloud local container that a poller knows, and its record."""
    (tmp_path / "dumps" / "acme-db").mkdir(parents=True)
    (tmp_path / "dumps" / "acme-db" / "today.dump").write_bytes(dump_bytes)
    account = ProviderAccount.objects.create(provider=world.rackspace, name="files", driver="local",
                                             options={"path": str(tmp_path)})
    BackupSource.objects.create(name="dumps", kind=SourceKind.OBJECTSTORE, policy=world.daily, account=account,
                                container="dumps", zone=world.dfw1)
    started = clock.now() - timedelta(hours=1)
    return record(world.daily, world.acme_db, started, zone=world.dfw1, container="dumps", key="acme-db/today.dump",
                  sha256=hashlib.sha256(dump_bytes).hexdigest(), size=len(dump_bytes), minutes=5)


def test_a_postgresql_dump_is_restored_and_its_rows_counted(stored, alice, queue,
                                                          django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        test = jobs.request_restore_test(stored, requested_by=alice)
    work(queue)
    test.refresh_from_db()
    assert (test.state, test.method, test.row_count) == ("passed", "pg_restore", 3), test.detail
    rec = BackupRecord.objects.get(pk=stored.pk)
    assert (rec.verified_ok, rec.checksum_ok, rec.verified_how) == (True, True, "pg_restore")
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_database WHERE datname LIKE 'drportal_restore_test_%%'")
        assert cur.fetchone()[0] == 0  # the scratch database is gone
    sweep.sweep(clock.now())
    pair = PolicyAssetStatus.objects.get(policy=stored.policy, asset=stored.asset)
    assert pair.verification == "verified"


def test_a_checksum_mismatch_fails_and_revokes_viability(stored, alice, queue, django_capture_on_commit_callbacks,
                                                         tmp_path):
    (tmp_path / "dumps" / "acme-db" / "today.dump").write_bytes(b"PGDMP tampered")
    with django_capture_on_commit_callbacks(execute=True):
        test = jobs.request_restore_test(stored, requested_by=alice)
    work(queue)
    test.refresh_from_db()
    assert test.state == "failed"
    assert "checksum mismatch" in test.detail
    assert BackupRecord.objects.get(pk=stored.pk).checksum_ok is False
    sweep.sweep(clock.now())
    assert PolicyAssetStatus.objects.get(policy=stored.policy, asset=stored.asset).recovery_point is None


def test_a_duplicated_job_runs_the_test_once(stored, alice, queue, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        test = jobs.request_restore_test(stored, requested_by=alice)
    assert jobs.request_restore_test(stored, requested_by=alice).pk == test.pk  # one open test per record
    queue.enqueue("backups.jobs.run_restore_test", test.pk)
    work(queue)
    assert RestoreTest.objects.get().state == "passed"


def test_the_verify_task_requests_tests_for_unverified_pairs(stored, queue, django_capture_on_commit_callbacks):
    sweep.sweep(clock.now())
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.schedule_verifications(clock.now()) == 1
        assert jobs.schedule_verifications(clock.now()) == 0  # already queued
    work(queue)
    assert RestoreTest.objects.get().state == "passed"


def test_a_file_copy_in_s3_is_checked_against_its_reported_checksum(world, aws, alice, queue,
                                                                     django_capture_on_commit_callbacks):
    import boto3

    s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=aws.options["endpoint_url"],
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    s3.create_bucket(Bucket="records")
    body = b"financial records, 2026-11"
    s3.put_object(Bucket="records", Key="acme-db/ledger.tar", Body=body)
    BackupSource.objects.create(name="records", kind=SourceKind.S3, policy=world.weekly, account=aws,
                                container="records", region=world.use1)
    rec = record(world.weekly, world.acme_db, clock.now() - timedelta(hours=2), region=world.use1,
                 container="records", key="acme-db/ledger.tar", sha256=hashlib.sha256(body).hexdigest(),
                 size=len(body))
    with django_capture_on_commit_callbacks(execute=True):
        test = jobs.request_restore_test(rec, requested_by=alice)
    work(queue)
    test.refresh_from_db()
    assert (test.state, test.method) == ("passed", "checksum")
    assert BackupRecord.objects.get(pk=rec.pk).observed_sha256 == hashlib.sha256(body).hexdigest()


def test_an_object_that_is_gone_fails_the_test(stored, alice, queue, django_capture_on_commit_callbacks, tmp_path):
    (tmp_path / "dumps" / "acme-db" / "today.dump").unlink()
    with django_capture_on_commit_callbacks(execute=True):
        test = jobs.request_restore_test(stored, requested_by=alice)
    work(queue)
    test.refresh_from_db()
    assert (test.state, test.method) == ("failed", "fetch")
    assert BackupRecord.objects.get(pk=stored.pk).verified_ok is False
