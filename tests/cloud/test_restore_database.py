from __future__ import annotations

import boto3
import pytest

from drportal.audit.models import AuditEvent
from drportal.cloud.actions.base import REGISTRY
from drportal.cloud.actions.database import restore_target
from drportal.cloud.models import SimNode, SimVolume
from drportal.inventory.models import Asset
from drportal.lib import clock
from tests.cloud.conftest import make_server
from tests.cloud.helpers import ctx, run

pytestmark = pytest.mark.django_db


@pytest.fixture
def rds(moto, moto_account):
    client = boto3.client("rds", endpoint_url=moto.endpoint, region_name="us-east-1", aws_access_key_id="a",
                          aws_secret_access_key="b")
    client.create_db_instance(DBInstanceIdentifier="cyber-db", DBInstanceClass="db.t3.medium", Engine="postgres",
                              MasterUsername="u", MasterUserPassword="password123", AllocatedStorage=20, MultiAZ=True)
    return client


def instances(rds) -> set[str]:
    return {d["DBInstanceIdentifier"] for d in rds.describe_db_instances()["DBInstances"]}


def test_it_restores_to_the_latest_restorable_time_once(rds, moto_account):
    asset = Asset.objects.create(name="cybernance-db", kind="managed_database", account=moto_account,
                                 external_id="cyber-db")
    outcome = run("restore_database", ctx("r1", asset="cybernance-db"))
    assert outcome.done
    target = restore_target("cyber-db", "r1")
    assert outcome.output["target"] == target
    assert instances(rds) == {"cyber-db", target}
    run("restore_database", ctx("r1", asset="cybernance-db"))
    assert instances(rds) == {"cyber-db", target}
    asset.refresh_from_db()
    assert asset.external_id == target
    assert list(AuditEvent.objects.filter(actor_label="job:restore_database#r1").order_by("id")
                .values_list("action", flat=True)) == ["rds.restore_started", "asset.restored"]


def test_it_restores_from_the_latest_snapshot(rds, moto_account):
    rds.create_db_snapshot(DBInstanceIdentifier="cyber-db", DBSnapshotIdentifier="cyber-db-manual-1")
    outcome = run("restore_database", ctx("r2", account="aws-test", instance="cyber-db", snapshot="latest",
                                          target="cyber-db-restored"))
    assert outcome.done
    assert "cyber-db-restored" in instances(rds)


def test_a_bad_restore_time_names_the_field(rds, moto_account):
    from drportal.cloud.adapters.errors import AdapterError

    with pytest.raises(AdapterError, match=r"params\.restore_time"):
        REGISTRY["restore_database"].execute(ctx("r3", account="aws-test", instance="cyber-db",
                                                 restore_time="yesterday"))
    assert instances(rds) == {"cyber-db"}


def test_it_moves_the_data_volume_to_the_replacement(sim_account, sim_location):
    now = clock.now()
    old = SimNode.objects.create(account=sim_account, node_id="sim-old", name="db1", image_id="i", size_id="4GB",
                                 location="dfw", created_at=now, ready_at=now)
    new = SimNode.objects.create(account=sim_account, node_id="sim-new", name="db1", image_id="i", size_id="4GB",
                                 location="dfw", created_at=now, ready_at=now)
    SimVolume.objects.create(account=sim_account, volume_id="vol-data", name="db1-data", node=old, device="/dev/xvdb")
    make_server(sim_location, sim_account, name="db1", provider_node_id="sim-new")
    outcome = run("restore_database", ctx("r4", server="db1", volume="vol-data"))
    assert outcome.output["moved"]
    assert SimVolume.objects.get(volume_id="vol-data").node == new
    again = run("restore_database", ctx("r4", server="db1", volume="vol-data"))
    assert again.output["moved"] is False


def test_a_lost_volume_hands_over_to_a_cloud_storage_restore(sim_account, sim_location):
    make_server(sim_location, sim_account, name="db1", provider_node_id="sim-new")
    outcome = run("restore_database", ctx("r5", server="db1", volume="vol-gone"))
    assert outcome.handover == "restore_from_cloud_storage"


def test_without_a_volume_it_restores_the_newest_viable_backup_from_cloud_storage(sim_location, sim_account, tmp_path,
                                                                                   settings):
    import sys
    import time
    from datetime import timedelta

    from backups.models import BackupPolicy, BackupRecord
    from drportal.inventory.models import ProviderAccount

    settings.CLOUD_DEPLOY_DIR = tmp_path / "work"
    store = tmp_path / "store"
    (store / "backups" / "db1").mkdir(parents=True)
    (store / "backups" / "db1" / "old.dump").write_text("old rows")
    (store / "backups" / "db1" / "new.dump").write_text("customer rows as of 03:00")
    files = ProviderAccount.objects.create(provider=sim_account.provider, name="files", driver="local",
                                           options={"path": str(store)})
    server = make_server(sim_location, sim_account, name="db1", provider_node_id="sim-new")
    asset = Asset.objects.create(name="db1-customers", kind="database", server=server)
    policy = BackupPolicy.objects.create(name="daily", kind="database_dump", schedule="0 3 * * *",
                                         rpo_objective=timedelta(days=1))
    now = clock.now()
    for key, age, viable in (("db1/old.dump", 48, True), ("db1/new.dump", 24, True), ("db1/bad.dump", 1, False)):
        BackupRecord.objects.create(policy=policy, asset=asset, started_at=now - timedelta(hours=age),
                                    completed_at=now - timedelta(hours=age), outcome="succeeded", container="backups",
                                    key=key, viable=viable, recovery_point=now - timedelta(hours=age))
    loaded = tmp_path / "loaded.txt"
    command = [sys.executable, "-c", f"import shutil, sys; shutil.copy(sys.argv[1], {str(loaded)!r})", "{path}"]
    context = ctx("r6", server="db1", volume="vol-gone", asset=asset.name, storage_account=files.name,
                  restore_command=command)
    outcome = REGISTRY["restore_database"].execute(context)
    for _ in range(100):
        if outcome.done:
            break
        time.sleep(0.1)
        outcome = REGISTRY["restore_database"].execute(context)
    assert outcome.done
    assert loaded.read_text() == "customer rows as of 03:00"
    assert outcome.output["backup"]["key"] == "db1/new.dump"


def test_it_moves_an_ebs_volume_to_the_replacement_on_ec2(moto, moto_account, aws_location):
    from tests.cloud.helpers import ec2, launch

    client = ec2(moto)
    old, new = launch(moto, "db1"), launch(moto, "db1")
    zone = client.describe_instances(InstanceIds=[old])["Reservations"][0]["Instances"][0]["Placement"][
        "AvailabilityZone"]
    volume = client.create_volume(Size=10, AvailabilityZone=zone)["VolumeId"]
    client.attach_volume(VolumeId=volume, InstanceId=old, Device="/dev/sdf")
    make_server(aws_location, moto_account, name="db1", provider_node_id=new)
    outcome = run("restore_database", ctx("r7", server="db1", volume=volume))
    assert outcome.done
    attachments = client.describe_volumes(VolumeIds=[volume])["Volumes"][0]["Attachments"]
    assert [a["InstanceId"] for a in attachments] == [new]


def west(moto, service: str = "rds"):
    return boto3.client(service, endpoint_url=moto.endpoint, region_name="us-west-2", aws_access_key_id="a",
                        aws_secret_access_key="b")


@pytest.fixture
def cyber_db_asset(moto_account):
    return Asset.objects.create(name="cybernance-db", kind="managed_database", account=moto_account,
                                external_id="cyber-db")


def test_in_another_region_it_restores_the_newest_snapshot_copy_there_and_says_its_point(rds, moto, cyber_db_asset):
    [home] = rds.describe_db_snapshots(DBInstanceIdentifier="cyber-db")["DBSnapshots"]
    copy = west(moto).copy_db_snapshot(SourceDBSnapshotIdentifier=home["DBSnapshotArn"], SourceRegion="us-east-1",
                                       TargetDBSnapshotIdentifier="cyber-db-west")["DBSnapshot"]
    context = ctx("r-west", asset="cybernance-db", mode="snapshot", region="aws/us-west-2")

    outcome = run("restore_database", context)

    target = restore_target("cyber-db", "r-west")
    assert (outcome.output["target"], outcome.output["region"]) == (target, "us-west-2")
    assert outcome.output["restore_point"] == copy["SnapshotCreateTime"].isoformat()
    assert instances(west(moto)) == {target}
    assert instances(rds) == {"cyber-db"}
    assert any("from its snapshot copy cyber-db-west" in line and "is not restored" in line for line in context.log)
    cyber_db_asset.refresh_from_db()
    assert cyber_db_asset.metadata["restored_in"] == "us-west-2"


def test_in_another_region_without_a_snapshot_copy_there_it_fails_naming_the_region(rds, cyber_db_asset):
    from drportal.cloud.adapters.errors import AdapterError

    with pytest.raises(AdapterError, match="RDS cyber-db has no available snapshot in us-west-2"):
        run("restore_database", ctx("r-nowhere", asset="cybernance-db", mode="snapshot", region="aws/us-west-2"))
    assert instances(rds) == {"cyber-db"}


def test_a_point_in_time_restore_in_another_region_is_refused_before_anything_is_restored(rds, moto, cyber_db_asset):
    from drportal.cloud.adapters.errors import AdapterError

    with pytest.raises(AdapterError, match=r"params\.mode: a point-in-time restore of cyber-db in us-west-2 needs "
                                           r"its automated backups replicated to us-west-2"):
        run("restore_database", ctx("r-pitr", asset="cybernance-db", mode="point_in_time", region="us-west-2"))
    assert instances(rds) == {"cyber-db"}
    assert instances(west(moto)) == set()


def test_a_database_running_in_another_region_comes_home_by_a_snapshot_copied_across(rds, moto, cyber_db_asset):
    west(moto).create_db_instance(DBInstanceIdentifier="cyber-db-rwest", DBInstanceClass="db.t3.medium",
                                  Engine="postgres", MasterUsername="u", MasterUserPassword="password123",
                                  AllocatedStorage=20)
    cyber_db_asset.external_id = "cyber-db-rwest"
    cyber_db_asset.metadata = {"restored_from": "cyber-db", "restored_in": "us-west-2", "restored_by": "r-away"}
    cyber_db_asset.save()
    context = ctx("r-home", asset="cybernance-db", mode="point_in_time")

    outcome = run("restore_database", context)
    run("restore_database", context)

    target = restore_target("cyber-db-rwest", "r-home")
    assert outcome.output["target"] == target
    assert instances(rds) == {"cyber-db", target}
    assert instances(west(moto)) == {"cyber-db-rwest"}
    taken = west(moto).describe_db_snapshots(DBSnapshotIdentifier=f"{target}-now")["DBSnapshots"][0]
    assert outcome.output["restore_point"] == taken["SnapshotCreateTime"].isoformat()
    assert rds.describe_db_snapshots(DBSnapshotIdentifier=f"{target}-copy")["DBSnapshots"]
    cyber_db_asset.refresh_from_db()
    assert (cyber_db_asset.external_id, cyber_db_asset.metadata["restored_from"]) == (target, "cyber-db-rwest")
    assert "restored_in" not in cyber_db_asset.metadata
    assert list(AuditEvent.objects.filter(actor_label="job:restore_database#r-home").order_by("id")
                .values_list("action", flat=True)) == ["rds.snapshot_started", "rds.snapshot_copied",
                                                       "rds.restore_started", "asset.restored"]
