"""A drill in a bubble for Cybernance: "an application server is lost" drilled with the real actions on a moto
server, in a sandbox of its own (the account "cybernance-aws-drill", region us-west-2, with its own AMIs and its
own copy of the target group). The deployment made for drills (metadata.drill_deploy_command) launches the
replacement there, tagged with drportal's key; the sandbox's target group takes exactly that instance. The
production account points at nothing that answers (a drill that touched it would fail), the production inventory
is compared before and after, and the teardown terminates what the drill made and proves nothing tagged with it
is left running.

What moto cannot prove: that the real playbook honours drill_deploy_command's sandbox, real instance boot and
health checks, and separate AWS accounts (moto serves one account; the sandbox is a region of its own here)."""

from __future__ import annotations

import sys
from pathlib import Path

import boto3
import pytest

from drportal.audit.models import AuditEvent
from drportal.inventory.importer import import_inventory
from drportal.inventory.models import ProviderAccount, Server
from scenarios import drills, loader
from scenarios.choices import RunState, StepState
from tests.recovery.conftest import run_to_the_end
from tests.recovery.test_bubble_drill import inventory

pytestmark = pytest.mark.django_db(transaction=True)

SEED = Path(__file__).resolve().parents[2] / "inventories" / "cybernance.yaml"
DEPLOY = Path(__file__).resolve().parent / "ec2_deploy.py"
SANDBOX_REGION = "us-west-2"


def client(moto, service: str, region: str = SANDBOX_REGION):
    return boto3.client(service, endpoint_url=moto.endpoint, region_name=region, aws_access_key_id="AKIDTEST",
                        aws_secret_access_key="moto-secret")


def running(moto, region: str) -> list[dict]:
    found = client(moto, "ec2", region).describe_instances(
        Filters=[{"Name": "instance-state-name", "Values": ["pending", "running"]}])
    return [i for r in found["Reservations"] for i in r["Instances"]]


def tag(instance: dict, key: str) -> str | None:
    return next((t["Value"] for t in instance.get("Tags", []) if t["Key"] == key), None)


@pytest.fixture
def sandbox(db, moto, tmp_path, settings):
    """The Cybernance seed; production's AWS account answers nowhere (port 9 discards), the drill's sandbox is
    moto's us-west-2 with an AMI of each server and the target group the servers' metadata names."""
    import_inventory(SEED.read_text(), actor="test:setup", source=SEED.name)
    settings.CLOUD_DEPLOY_DIR = tmp_path / "deployments"
    production = ProviderAccount.objects.get(name="cybernance-aws")
    production.options = {**production.options, "endpoint_url": "http://127.0.0.1:9"}
    production.save()
    drill_account = ProviderAccount.objects.create(
        provider=production.provider, name="cybernance-aws-drill", driver="aws",
        options={"region": SANDBOX_REGION, "endpoint_url": moto.endpoint})
    drill_account.set_credentials({"key": "AKIDTEST", "secret": "moto-secret"})
    drill_account.save()
    ec2, elb = client(moto, "ec2"), client(moto, "elbv2")
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    group = elb.create_target_group(Name="cybernance-app", Protocol="HTTP", Port=80, VpcId=vpc,
                                    TargetType="instance")["TargetGroups"][0]["TargetGroupArn"]
    servers = list(Server.objects.filter(account=production).order_by("name"))
    for server in servers:
        base = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, InstanceType="m5.large")
        base_id = base["Instances"][0]["InstanceId"]
        ec2.create_image(InstanceId=base_id, Name=f"{server.name}-2026-11-29")
        ec2.terminate_instances(InstanceIds=[base_id])  # only its image is the sandbox's
        server.metadata = {**server.metadata, "drill_deploy_command":
                           f"{sys.executable} {DEPLOY} {{server}} {moto.endpoint} {SANDBOX_REGION}"}
        server.save(update_fields=["metadata"])
    return {"servers": servers, "group": group}


def test_a_cybernance_drill_in_a_bubble_replaces_a_server_in_the_sandbox_and_leaves_nothing_running(
        sandbox, moto, alice, mona):
    lost = sandbox["servers"][0]
    before = inventory()

    drill = drills.start_drill(loader.library().get("cybernance-app-server-lost"), alice, servers=[lost],
                               bubble=True)
    run = run_to_the_end(drill.run, alice, mona)

    failed = {f"{r.step_id}[{r.item}]": r.error for r in run.steps.filter(state=StepState.FAILED)}
    assert failed == {}
    assert run.state == RunState.SUCCEEDED
    # Verified in the bubble: one instance, in the sandbox's region, tagged with the deployment step's key, from
    # the sandbox's AMI; the sandbox's target group holds exactly it.
    [deploy_step] = [s for s in run.steps.all() if s.spec.get("action") == "run_deployment"]
    made = [i for i in running(moto, SANDBOX_REGION) if tag(i, "drportal_key")]
    assert [(tag(i, "drportal_key"), tag(i, "drportal_server")) for i in made] == [
        (deploy_step.idempotency_key, lost.name)]
    assert deploy_step.outputs["node_id"] == made[0]["InstanceId"]
    health = client(moto, "elbv2").describe_target_health(TargetGroupArn=sandbox["group"])
    assert [d["Target"]["Id"] for d in health["TargetHealthDescriptions"]] == [made[0]["InstanceId"]]
    assert running(moto, "us-east-1") == []  # production's region: nothing made there
    drill.refresh_from_db()
    assert drill.measured_rto is not None
    assert inventory() == before  # the production inventory never changed

    proof = drills.tear_down(drill, mona)

    assert proof["destroyed_nodes"] == [made[0]["InstanceId"]]
    assert proof["remaining"] == {"nodes": [], "databases": [], "dns": []}
    assert [i for i in running(moto, SANDBOX_REGION) if tag(i, "drportal_key")] == []
    assert AuditEvent.objects.filter(action="drill.torn_down").count() == 1
    assert drills.tear_down(drill, mona)["destroyed_nodes"] == []  # a second teardown finds nothing
    assert inventory() == before
