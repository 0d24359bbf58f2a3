from __future__ import annotations

import boto3
import pytest

from drportal.audit.models import AuditEvent
from drportal.cloud.actions.base import REGISTRY
from drportal.cloud.adapters.errors import AdapterError
from tests.cloud.conftest import make_server
from tests.cloud.helpers import ctx, launch

pytestmark = pytest.mark.django_db


@pytest.fixture
def target_group(moto, moto_account):
    ec2 = boto3.client("ec2", endpoint_url=moto.endpoint, region_name="us-east-1", aws_access_key_id="a",
                       aws_secret_access_key="b")
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    elb = boto3.client("elbv2", endpoint_url=moto.endpoint, region_name="us-east-1", aws_access_key_id="a",
                       aws_secret_access_key="b")
    arn = elb.create_target_group(Name="app", Protocol="HTTP", Port=80, VpcId=vpc,
                                  TargetType="instance")["TargetGroups"][0]["TargetGroupArn"]
    return elb, arn


def members(elb, arn) -> set[str]:
    return {d["Target"]["Id"] for d in elb.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]}


def test_it_swaps_the_failed_member_for_its_replacement(moto, moto_account, aws_location, target_group):
    elb, arn = target_group
    failed, healthy, replacement = launch(moto, "app1"), launch(moto, "app2"), launch(moto, "app1")
    elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": failed}, {"Id": healthy}])
    make_server(aws_location, moto_account, name="app1", provider_node_id=replacement,
                metadata={"previous_node": {"node_id": failed}})
    outcome = REGISTRY["rotate_load_balancer"].execute(ctx("lb1", account="aws-test", target_group_arn=arn,
                                                           remove=["app1"], add=["app1"]))
    assert outcome.done
    assert members(elb, arn) == {healthy, replacement}
    again = REGISTRY["rotate_load_balancer"].execute(ctx("lb1", account="aws-test", target_group_arn=arn,
                                                         remove=["app1"], add=["app1"]))
    assert again.output["attached"] == []
    assert again.output["detached"] == []
    assert AuditEvent.objects.filter(action="loadbalancer.rotated").count() == 1


def test_an_unknown_server_names_the_field(moto, moto_account, target_group):
    _, arn = target_group
    with pytest.raises(AdapterError, match=r"params\.add\[0\]: no server 'ghost'"):
        REGISTRY["rotate_load_balancer"].execute(ctx("lb2", account="aws-test", target_group_arn=arn, add=["ghost"]))


def test_told_a_region_it_rotates_the_target_group_of_that_name_there(moto, moto_account, aws_location, target_group):
    home, home_arn = target_group
    ec2 = boto3.client("ec2", endpoint_url=moto.endpoint, region_name="us-west-2", aws_access_key_id="a",
                       aws_secret_access_key="b")
    elb = boto3.client("elbv2", endpoint_url=moto.endpoint, region_name="us-west-2", aws_access_key_id="a",
                       aws_secret_access_key="b")
    arn = elb.create_target_group(Name="app", Protocol="HTTP", Port=80, VpcId=ec2.describe_vpcs()["Vpcs"][0]["VpcId"],
                                  TargetType="instance")["TargetGroups"][0]["TargetGroupArn"]
    failed = launch(moto, "app1")
    home.register_targets(TargetGroupArn=home_arn, Targets=[{"Id": failed}])
    base = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    rebuilt = ec2.run_instances(ImageId=base, MinCount=1, MaxCount=1, InstanceType="t2.micro")["Instances"][0]
    make_server(aws_location, moto_account, name="app1", provider_node_id=rebuilt["InstanceId"],
                metadata={"previous_node": {"node_id": failed}, "target_group": "app"})

    outcome = REGISTRY["rotate_load_balancer"].execute(ctx("lb-west", servers="app1", region="aws/us-west-2"))

    assert outcome.output["attached"] == [rebuilt["InstanceId"]]
    assert members(elb, arn) == {rebuilt["InstanceId"]}
    assert members(home, home_arn) == {failed}  # the lost region's group is not touched


def test_exact_leaves_the_group_holding_the_servers_nodes_and_nothing_else(moto, moto_account, aws_location,
                                                                           target_group):
    elb, arn = target_group
    lost, stand_in, home = launch(moto, "app1"), launch(moto, "app1"), launch(moto, "app1")
    elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": lost}])  # still listed since the region was lost
    make_server(aws_location, moto_account, name="app1", provider_node_id=home,
                metadata={"previous_node": {"node_id": stand_in}, "target_group": "app"})

    outcome = REGISTRY["rotate_load_balancer"].execute(ctx("lb-home", servers="app1", exact=True))

    assert (outcome.output["detached"], outcome.output["attached"]) == ([lost], [home])
    assert members(elb, arn) == {home}
