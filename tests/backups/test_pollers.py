"""Pollers against real peers: S3 and RDS on a moto server, libcloud's local storage driver, git bare repos."""

from __future__ import annotations

import subprocess
from datetime import timedelta

import boto3
import pytest

from backups import pollers
from backups.choices import LocationRule, PolicyKind, SourceKind
from backups.models import BackupPolicy, BackupRecord, BackupSource, UnmatchedObject
from drportal.cloud.adapters.errors import AdapterError
from drportal.inventory.choices import AssetKind
from drportal.inventory.models import Asset
from drportal.lib import clock


def s3_client(account):
    return boto3.client("s3", region_name="us-east-1", endpoint_url=account.options["endpoint_url"],
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def test_s3_objects_become_records_and_strays_are_listed(world, aws):
    s3 = s3_client(aws)
    s3.create_bucket(Bucket="jivo-dumps")
    s3.put_object(Bucket="jivo-dumps", Key="daily/acme-db/2026-11-21.dump", Body=b"x" * 100)
    s3.put_object(Bucket="jivo-dumps", Key="daily/zeta-db/2026-11-21.dump", Body=b"y" * 50)
    s3.put_object(Bucket="jivo-dumps", Key="daily/newcustomer-db/2026-11-21.dump", Body=b"z")
    source = BackupSource.objects.create(name="dumps", kind=SourceKind.S3, policy=world.daily, account=aws,
                                         container="jivo-dumps", prefix="daily/", pattern=r"^(?P<asset>[^/]+)/",
                                         zone=world.dfw1)
    result = pollers.poll(source, clock.now())
    assert (result.created, result.unmatched) == (2, 1)
    rec = BackupRecord.objects.get(asset=world.acme_db)
    assert (rec.source, rec.size_bytes, rec.key, rec.zone, rec.viable) == (
        "poller", 100, "daily/acme-db/2026-11-21.dump", world.dfw1, True)
    assert list(UnmatchedObject.objects.values_list("key", flat=True)) == ["daily/newcustomer-db/2026-11-21.dump"]
    again = pollers.poll(source, clock.now() + timedelta(minutes=15))
    assert (again.created, BackupRecord.objects.count(), UnmatchedObject.objects.count()) == (0, 2, 1)


def test_a_missing_bucket_is_a_permanent_error_noted_on_the_source(world, aws):
    source = BackupSource.objects.create(name="gone", kind=SourceKind.S3, policy=world.daily, account=aws,
                                         container="no-such-bucket")
    with pytest.raises(AdapterError) as caught:
        pollers.poll(source, clock.now())
    assert caught.value.permanent
    source.refresh_from_db()
    assert "NoSuchBucket" in source.last_error or "does not exist" in source.last_error


def test_rds_snapshots_and_the_point_in_time_window(world, aws):
    rds = boto3.client("rds", region_name="us-east-1", endpoint_url=aws.options["endpoint_url"],
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    rds.create_db_instance(DBInstanceIdentifier="cybernance-prod", DBInstanceClass="db.t3.micro", Engine="postgres",
                           MasterUsername="admin", MasterUserPassword="secret-password", AllocatedStorage=20,
                           BackupRetentionPeriod=7, AvailabilityZone="us-east-1a")
    rds.create_db_snapshot(DBInstanceIdentifier="cybernance-prod", DBSnapshotIdentifier="nightly-1")
    snapshots = BackupPolicy.objects.create(
        name="RDS snapshots", kind=PolicyKind.VOLUME_SNAPSHOT, schedule="0 5 * * *", rpo_objective=timedelta(days=2),
        location_rule=LocationRule.OFFSITE_ZONE)
    snapshots.assets.add(world.rds)
    snap_source = BackupSource.objects.create(name="rds snaps", kind=SourceKind.RDS_SNAPSHOTS, policy=snapshots,
                                              account=aws, pattern=r"^(?P<asset>.+)$", region=world.use1)
    pitr_source = BackupSource.objects.create(name="rds pitr", kind=SourceKind.RDS_PITR, policy=world.pitr,
                                              account=aws, region=world.use1)
    now = clock.now()
    assert pollers.poll(snap_source, now).created >= 1
    snap = BackupRecord.objects.filter(policy=snapshots, key="nightly-1").get()
    assert (snap.asset, snap.provider_state, snap.viable) == (world.rds, "available", True)
    assert pollers.poll(pitr_source, now).created == 1
    pitr = BackupRecord.objects.get(policy=world.pitr)
    assert pitr.viable
    assert abs((now - pitr.recovery_point).total_seconds()) < 600
    assert pitr.region == world.use1


def test_libcloud_local_storage_container(world, tmp_path):
    from drportal.inventory.models import ProviderAccount

    (tmp_path / "weekly" / "acme-db").mkdir(parents=True)
    (tmp_path / "weekly" / "acme-db" / "2026-11-15.dump").write_bytes(b"dump" * 10)
    (tmp_path / "weekly" / "README").write_text("not a backup")
    account = ProviderAccount.objects.create(provider=world.rackspace, name="kc-files", driver="local",
                                             options={"path": str(tmp_path)})
    source = BackupSource.objects.create(name="kc weekly", kind=SourceKind.OBJECTSTORE, policy=world.weekly,
                                         account=account, container="weekly", zone=world.mci1)
    result = pollers.poll(source, clock.now())
    assert (result.created, result.unmatched) == (1, 1)
    rec = BackupRecord.objects.get()
    assert (rec.asset, rec.size_bytes, rec.zone, rec.container) == (world.acme_db, 40, world.mci1, "weekly")


def git(*args, cwd=None):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def repos(world, tmp_path):
    """An origin with one commit and two mirrors; the second mirror falls behind."""
    work = tmp_path / "work"
    work.mkdir()
    git("init", "-q", "-b", "main", str(work))
    git("-c", "user.email=a@b.c", "-c", "user.name=a", "commit", "-q", "--allow-empty", "-m", "one", cwd=work)
    origin, github, local = (tmp_path / n for n in ("origin.git", "mirror-github.git", "mirror-office.git"))
    for bare in (origin, github, local):
        git("init", "-q", "--bare", str(bare))
        git("push", "-q", str(bare), "main", cwd=work)
    git("-c", "user.email=a@b.c", "-c", "user.name=a", "commit", "-q", "--allow-empty", "-m", "two", cwd=work)
    git("push", "-q", str(origin), "main", cwd=work)
    git("push", "-q", str(github), "main", cwd=work)
    code = Asset.objects.create(name="platform-code", kind=AssetKind.CODE_REPOSITORY, zone=world.use1a,
                                external_id=str(origin))
    Asset.objects.create(name="platform-code-github", kind=AssetKind.CODE_REPOSITORY, zone=world.use1b,
                         external_id=str(github), mirror_of=code)
    Asset.objects.create(name="platform-code-office", kind=AssetKind.CODE_REPOSITORY, zone=world.mci1,
                         external_id=str(local), mirror_of=code)
    policy = BackupPolicy.objects.create(name="Code in three places", kind=PolicyKind.REPOSITORY_MIRROR,
                                         schedule="0 * * * *", rpo_objective=timedelta(hours=2))
    policy.assets.add(code)
    return BackupSource.objects.create(name="mirrors", kind=SourceKind.GIT, policy=policy, pattern="")


def test_mirrors_are_viable_only_when_their_heads_equal_the_origin(repos):
    result = pollers.poll(repos, clock.now())
    assert result.created == 2
    states = dict(BackupRecord.objects.values_list("container", "provider_state"))
    assert states == {"platform-code-github": "in_sync", "platform-code-office": "diverged"}
    assert list(BackupRecord.objects.filter(viable=True).values_list("container", flat=True)) == [
        "platform-code-github"]
    behind = BackupRecord.objects.get(container="platform-code-office")
    assert "refs/heads/main" in behind.error


def test_an_unreachable_mirror_is_a_failed_record(repos, tmp_path):
    Asset.objects.filter(name="platform-code-office").update(external_id=str(tmp_path / "missing.git"))
    pollers.poll(repos, clock.now())
    failed = BackupRecord.objects.get(container="platform-code-office")
    assert failed.outcome == "failed"
    assert "mirror" in failed.error
