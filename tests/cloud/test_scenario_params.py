"""The actions take the short parameters the scenario library uses ({server}, {kind}, {mode}) and fill in
the rest from the inventory."""

from __future__ import annotations

import sys
import time

import boto3
import pytest

from drportal.cloud.actions.base import REGISTRY
from drportal.cloud.adapters.errors import AdapterError
from drportal.inventory.models import Asset
from tests.cloud.conftest import make_server
from tests.cloud.helpers import ctx, launch, run

pytestmark = pytest.mark.django_db


def test_dns_cutover_and_verify_need_only_the_server(pdns_zone, pdns_account, sim_location, sim_account):
    make_server(sim_location, sim_account, name="app1", dns_names=[f"app.{pdns_zone[:-1]}"],
                public_ips=["198.51.100.77"])
    cut = run("dns_cutover", ctx("s1", server="app1"))
    assert cut.output["zone"] == pdns_zone
    assert run("verify_dns_propagation", ctx("s2", server="app1")).done


def test_a_server_outside_every_zone_names_the_field(pdns_account, sim_location, sim_account):
    make_server(sim_location, sim_account, name="app1", dns_names=["app.elsewhere.test"], public_ips=["198.51.100.7"])
    with pytest.raises(AdapterError, match=r"params\.zone: no zone"):
        REGISTRY["dns_cutover"].execute(ctx("s3", server="app1"))


def test_verify_failover_kind_rds_checks_the_inventorys_managed_databases(moto, moto_account):
    boto3.client("rds", endpoint_url=moto.endpoint, region_name="us-east-1", aws_access_key_id="a",
                 aws_secret_access_key="b").create_db_instance(
        DBInstanceIdentifier="cybernance-prod", DBInstanceClass="db.t3.medium", Engine="postgres", MasterUsername="u",
        MasterUserPassword="password123", AllocatedStorage=20, MultiAZ=True)
    Asset.objects.create(name="cyb-rds-prod", kind="managed_database", account=moto_account,
                         external_id="cybernance-prod")
    outcome = REGISTRY["verify_failover"].execute(ctx("s4", kind="rds"))
    assert outcome.output["checks"][0]["instance"] == "cybernance-prod"
    assert outcome.output["problems"] == []


def test_verify_failover_kind_redis_expects_the_replica_to_have_taken_over(redis_pair):
    _, replica = redis_pair
    Asset.objects.create(name="cyb-redis-2", kind="cache", metadata={"role": "replica", "redis_url": replica.url})
    Asset.objects.create(name="cyb-redis-3", kind="cache", metadata={"role": "replica"})
    outcome = REGISTRY["verify_failover"].execute(ctx("s5", kind="redis"))
    assert outcome.handover == "manual"
    assert len(outcome.output["problems"]) == 2
    assert "no metadata.redis_url" in outcome.output["problems"][1]


def test_restore_database_point_in_time_finds_the_managed_database(moto, moto_account):
    rds = boto3.client("rds", endpoint_url=moto.endpoint, region_name="us-east-1", aws_access_key_id="a",
                       aws_secret_access_key="b")
    rds.create_db_instance(DBInstanceIdentifier="cybernance-prod", DBInstanceClass="db.t3.medium", Engine="postgres",
                           MasterUsername="u", MasterUserPassword="password123", AllocatedStorage=20)
    Asset.objects.create(name="cyb-rds-prod", kind="managed_database", account=moto_account,
                         external_id="cybernance-prod")
    outcome = run("restore_database", ctx("s6", mode="point_in_time", use_latest_restorable_time=True))
    assert outcome.done
    assert outcome.output["source"] == "cybernance-prod"


def test_rotate_load_balancer_reads_the_target_group_from_the_servers(moto, moto_account, aws_location):
    ec2 = boto3.client("ec2", endpoint_url=moto.endpoint, region_name="us-east-1", aws_access_key_id="a",
                       aws_secret_access_key="b")
    elb = boto3.client("elbv2", endpoint_url=moto.endpoint, region_name="us-east-1", aws_access_key_id="a",
                       aws_secret_access_key="b")
    arn = elb.create_target_group(Name="cybernance-app", Protocol="HTTP", Port=80,
                                  VpcId=ec2.describe_vpcs()["Vpcs"][0]["VpcId"])["TargetGroups"][0]["TargetGroupArn"]
    failed, new = launch(moto, "cyb-app1"), launch(moto, "cyb-app1")
    elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": failed}])
    make_server(aws_location, moto_account, name="cyb-app1", provider_node_id=new,
                metadata={"target_group": "cybernance-app", "previous_node": {"node_id": failed}})
    outcome = REGISTRY["rotate_load_balancer"].execute(ctx("s7", server="cyb-app1"))
    assert outcome.output["members"] == {new: outcome.output["members"][new]}


def test_run_deployment_uses_the_servers_deploy_command(sim_location, sim_account, settings, tmp_path):
    settings.CLOUD_DEPLOY_DIR = tmp_path
    make_server(sim_location, sim_account, name="cyb-app2",
                metadata={"deploy_command": [sys.executable, "-c", "import sys; print('deploying', sys.argv[1:])",
                                             "{server}", "{region}"]})
    context = ctx("s8", server="cyb-app2", region="us-east-2")
    outcome = REGISTRY["run_deployment"].execute(context)
    for _ in range(100):
        if outcome.done:
            break
        time.sleep(0.1)
        outcome = REGISTRY["run_deployment"].execute(context)
    assert "deploying ['cyb-app2', 'us-east-2']" in outcome.output["output"]


def test_dns_cutover_takes_several_servers_as_the_scenario_binds_them(powerdns, pdns_zone, pdns_account, sim_location,
                                                                      sim_account):
    make_server(sim_location, sim_account, name="app1", dns_names=[f"app.{pdns_zone[:-1]}"],
                public_ips=["198.51.100.1"])
    make_server(sim_location, sim_account, name="db1", dns_names=[f"db.{pdns_zone[:-1]}"], public_ips=["198.51.100.2"])
    cut = run("dns_cutover", ctx("s9", servers="app1, db1"))
    assert sorted(cut.output["changed"]) == [f"app.{pdns_zone} A", f"db.{pdns_zone} A"]
    assert run("verify_dns_propagation", ctx("s10", servers=["app1", "db1"])).done
    with pytest.raises(AdapterError, match=r"params\.servers\[1\]: no server 'ghost'"):
        REGISTRY["dns_cutover"].execute(ctx("s11", servers=["app1", "ghost"]))
