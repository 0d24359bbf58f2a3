from __future__ import annotations

import boto3

from drportal.cloud.actions.base import REGISTRY, Outcome, StepContext


def ctx(key: str = "step-1", **params) -> StepContext:
    return StepContext(idempotency_key=key, params=params, state={})


def run(name: str, context: StepContext, polls: int = 20) -> Outcome:
    """Call the action the way the engine does, re-calling while it says not done (without sleeping)."""
    action = REGISTRY[name]
    outcome = action.execute(context)
    for _ in range(polls):
        if outcome.done:
            return outcome
        outcome = action.execute(context)
    return outcome


def ec2(moto):
    return boto3.client("ec2", endpoint_url=moto.endpoint, region_name="us-east-1",
                        aws_access_key_id="AKIDTEST", aws_secret_access_key="moto-secret")


def launch(moto, name: str, image: str = "ami-12c6146b") -> str:
    found = ec2(moto).run_instances(
        ImageId=image, MinCount=1, MaxCount=1, InstanceType="t2.micro",
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": name}]}],
    )
    return found["Instances"][0]["InstanceId"]


def instances_tagged(moto, key: str) -> list[dict]:
    found = ec2(moto).describe_instances(Filters=[{"Name": "tag:drportal_key", "Values": [key]}])
    return [i for r in found["Reservations"] for i in r["Instances"] if i["State"]["Name"] != "terminated"]
