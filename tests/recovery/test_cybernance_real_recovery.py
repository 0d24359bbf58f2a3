"""Cybernance loses all three datacenters, for real (not a drill), on a moto server: the seed inventory with its
AWS account pointed at moto, three running application instances behind the ELBv2 target group in us-east-1, AMIs
of each server, the RDS instance, and in us-west-2 (the scenario's target region) what the plan's distributed
backups leave there: a copy of each newest AMI, a copy of the database's snapshot, a balancer and an empty target
group. The seed scenario re-provisions each server in us-west-2 through its deployment (a stand-in for the
playbook, tests/recovery/ec2_deploy.py, which launches from the newest AMI in the region it is told and tags what
it makes with drportal's key), restores RDS in us-west-2, rotates the target group there and points the
platform's public name (app.cybernance.example, in PowerDNS) at the us-west-2 balancer, checked with dnspython;
afterwards what moto and PowerDNS hold is compared with what drportal recorded: every resource once, none twice,
nothing new in us-east-1. A playbook that builds in us-east-1 whatever it is told fails its steps instead.

What moto cannot prove: real instance boot and health checks (moto's targets are never "healthy"), RDS restore
duration, and that the real playbook honours the tagging contract. What moto cannot do: replicate automated
backups to another region (StartDBInstanceAutomatedBackupsReplication is not implemented), nor restore to a point
in time from a source in another region, so the database is restored from a cross-region snapshot copy, and the
step says which point it restored to."""

from __future__ import annotations

import sys
from pathlib import Path

import boto3
import dns.resolver
import pytest

from drportal.audit.models import AuditEvent
from drportal.incidents import services as incidents
from drportal.inventory.importer import import_inventory
from drportal.inventory.models import Asset, Provider, ProviderAccount, Region, Server
from scenarios import engine, loader
from scenarios.choices import RunState, StepState
from tests.recovery.conftest import run_to_the_end

pytestmark = pytest.mark.django_db(transaction=True)

SEED = Path(__file__).resolve().parents[2] / "inventories" / "cybernance.yaml"
ZONE = "cybernance.example."
DEPLOY = Path(__file__).resolve().parent / "ec2_deploy.py"
WEST = "us-west-2"  # the scenario's target_region: where the plan rebuilds when us-east-1 is lost


def client(moto, service: str, region: str = "us-east-1"):
    return boto3.client(service, endpoint_url=moto.endpoint, region_name=region, aws_access_key_id="AKIDTEST",
                        aws_secret_access_key="moto-secret")


@pytest.fixture
def cybernance(db, moto, powerdns, tmp_path, settings):
    """The Cybernance seed on moto (on_moto), and its public zone in PowerDNS, the platform's name still pointing
    at an old balancer."""
    settings.CLOUD_DEPLOY_DIR = tmp_path / "deployments"
    found = on_moto(moto)
    settings.CLOUD_DNS_RESOLVERS = ""  # the authoritative PowerDNS is the one server asked
    public_zone(powerdns)
    yield found
    powerdns.delete_zone(ZONE)


def public_zone(powerdns) -> None:
    """Cybernance's public zone in PowerDNS, the platform's name still pointing at an old balancer, and the DNS
    account drportal changes it through. Also the browser journey's (tests/browser)."""
    provider, _ = Provider.objects.get_or_create(slug="pdns", defaults={"name": "PowerDNS", "kind": "other"})
    dns_account = ProviderAccount.objects.create(provider=provider, name="cybernance-dns", driver="powerdns", options={
        "host": "127.0.0.1", "port": powerdns.api_port, "dns_port": powerdns.dns_port})
    dns_account.set_credentials({"key": powerdns.api_key})
    dns_account.save()
    powerdns.delete_zone(ZONE)
    powerdns.create_zone(ZONE, [(f"app.{ZONE}", "CNAME", "old-platform-alb.elb.example.", 3600)])


def on_moto(moto) -> dict:
    """The Cybernance seed with its AWS account pointed at moto (what an admin would configure), and in moto
    what the seed describes: the running instances in the target group behind the load balancer, their AMIs,
    the RDS instance. Also the browser journey's Cybernance cloud (tests/browser)."""
    import_inventory(SEED.read_text(), actor="test:setup", source=SEED.name)
    account = ProviderAccount.objects.get(name="cybernance-aws")
    account.options = {**account.options, "endpoint_url": moto.endpoint}
    account.set_credentials({"key": "AKIDTEST", "secret": "moto-secret"})
    account.save()
    ec2, elb, rds = client(moto, "ec2"), client(moto, "elbv2"), client(moto, "rds")
    group, alb = balancer(ec2, elb)
    servers = list(Server.objects.filter(account=account).order_by("name"))
    amis = {}
    for server in servers:
        old = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, InstanceType="m5.large",
                                TagSpecifications=[{"ResourceType": "instance",
                                                    "Tags": [{"Key": "Name", "Value": server.name}]}])
        old_id = old["Instances"][0]["InstanceId"]
        ec2.create_image(InstanceId=old_id, Name=f"{server.name}-2026-11-22")
        amis[server.name] = ec2.create_image(InstanceId=old_id, Name=f"{server.name}-2026-11-29")["ImageId"]
        elb.register_targets(TargetGroupArn=group, Targets=[{"Id": old_id}])
        server.provider_node_id = old_id
        # The stand-in playbook is told the region as the seed's playbook is ("-e region={region}").
        server.metadata = {**server.metadata,
                           "deploy_command": f"{sys.executable} {DEPLOY} {{server}} {moto.endpoint} {{region}}"}
        server.save(update_fields=["provider_node_id", "metadata"])
    rds.create_db_instance(DBInstanceIdentifier="cybernance-prod", Engine="postgres", DBInstanceClass="db.m5.xlarge",
                           AllocatedStorage=100, MasterUsername="cyb", MasterUserPassword="moto-only-pw", MultiAZ=True)
    return {"servers": servers, "group": group, "amis": amis, "old": {s.name: s.provider_node_id for s in servers},
            "alb": alb["DNSName"], **copies_in_the_west(moto, amis)}


def balancer(ec2, elb) -> tuple[str, dict]:
    """The platform's balancer in the clients' region: a target group "cybernance-app" behind a listener."""
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    group = elb.create_target_group(Name="cybernance-app", Protocol="HTTP", Port=80, VpcId=vpc,
                                    TargetType="instance")["TargetGroups"][0]["TargetGroupArn"]
    subnets = [n["SubnetId"] for n in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]]
    alb = elb.create_load_balancer(Name="cybernance-platform-alb", Subnets=subnets[:2])["LoadBalancers"][0]
    elb.create_listener(LoadBalancerArn=alb["LoadBalancerArn"], Protocol="HTTP", Port=80,
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": group}])
    return group, alb


def copies_in_the_west(moto, amis: dict[str, str]) -> dict:
    """What "distributed backups of both the servers themselves, the code, and the deployment mechanisms" leave in
    us-west-2, where the plan rebuilds when us-east-1 is lost: a copy of each server's newest AMI, a copy of the
    database's snapshot, and a balancer with an (empty) target group of the same name as at home. moto keeps
    no automated backups replicated across regions (StartDBInstanceAutomatedBackupsReplication is not
    implemented), so the database comes back from the snapshot copy, not to a point in time."""
    ec2, elb, rds = client(moto, "ec2", WEST), client(moto, "elbv2", WEST), client(moto, "rds", WEST)
    copied = {name: ec2.copy_image(SourceImageId=ami, SourceRegion="us-east-1", Name=f"{name}-2026-11-29")["ImageId"]
              for name, ami in amis.items()}
    group, alb = balancer(ec2, elb)
    [home] = client(moto, "rds").describe_db_snapshots(DBInstanceIdentifier="cybernance-prod")["DBSnapshots"]
    snapshot = rds.copy_db_snapshot(SourceDBSnapshotIdentifier=home["DBSnapshotArn"], SourceRegion="us-east-1",
                                    TargetDBSnapshotIdentifier="cybernance-prod-west")["DBSnapshot"]
    return {"west_amis": copied, "west_group": group, "west_alb": alb["DNSName"],
            "west_snapshot": snapshot["DBSnapshotIdentifier"]}


def live_instances(moto, region: str = "us-east-1") -> list[dict]:
    found = client(moto, "ec2", region).describe_instances(
        Filters=[{"Name": "instance-state-name", "Values": ["pending", "running"]}])
    return [i for r in found["Reservations"] for i in r["Instances"]]


def tag(instance: dict, key: str) -> str | None:
    return next((t["Value"] for t in instance.get("Tags", []) if t["Key"] == key), None)


def lose_us_east_1(alice, mona):
    """Region-only, as ops would declare it: the scope resolver finds every server in us-east-1."""
    region = Region.objects.get(provider__slug="aws", slug="us-east-1")
    incident = incidents.declare(alice, title="All three datacenters lost", disaster_class="all_datacenters_lost",
                                 impacted={"regions": [region]})
    run, _ = engine.start_run(incident, loader.library().get("cybernance-all-datacenters-lost"), alice)
    return run_to_the_end(run, alice, mona)


def test_cybernance_rebuilds_its_platform_in_us_west_2_and_moto_holds_exactly_what_drportal_recorded(
        cybernance, moto, powerdns, alice, mona):
    servers = cybernance["servers"]
    run = lose_us_east_1(alice, mona)

    failed = {f"{r.step_id}[{r.item}]": r.error for r in run.steps.filter(state=StepState.FAILED)}
    assert failed == {}
    assert run.drill is False
    assert run.state == RunState.SUCCEEDED

    # EC2: one new instance per server in us-west-2, from the copy there of its newest AMI, tagged with its step's
    # key, recorded on the server; nothing new in us-east-1, the region that was lost.
    keys = dict(run.steps.filter(step_id="reprovision").values_list("item", "idempotency_key"))
    created = [i for i in live_instances(moto, WEST) if tag(i, "drportal_key")]
    assert sorted(tag(i, "drportal_server") for i in created) == [s.name for s in servers]
    assert [i for i in live_instances(moto) if tag(i, "drportal_key")] == []
    for server in Server.objects.filter(pk__in=[s.pk for s in servers]):
        [mine] = [i for i in created if tag(i, "drportal_key") == keys[server.name]]
        assert server.provider_node_id == mine["InstanceId"]
        assert mine["ImageId"] == cybernance["west_amis"][server.name]
        assert server.metadata["previous_node"]["node_id"] == cybernance["old"][server.name]
    outputs = [r.outputs for r in run.steps.filter(step_id="reprovision")]
    assert {o["region"] for o in outputs} == {WEST}
    assert not any("asked_region" in o for o in outputs)

    # ELBv2: the target group in us-west-2 holds exactly the instances this run created, rotated once.
    health = client(moto, "elbv2", WEST).describe_target_health(TargetGroupArn=cybernance["west_group"])
    assert sorted(d["Target"]["Id"] for d in health["TargetHealthDescriptions"]) == sorted(
        i["InstanceId"] for i in created)
    assert AuditEvent.objects.filter(action="loadbalancer.rotated").count() == 1

    # RDS: one instance restored in us-west-2 from the snapshot copy there, the one the inventory now names; the
    # source left as it was, nothing restored in us-east-1.
    restored = [d["DBInstanceIdentifier"] for d in client(moto, "rds", WEST).describe_db_instances()["DBInstances"]]
    asset = Asset.objects.get(name="cyb-rds-prod")
    assert restored == [asset.external_id]
    assert [d["DBInstanceIdentifier"] for d in client(moto, "rds").describe_db_instances()["DBInstances"]] == [
        "cybernance-prod"]
    assert (asset.metadata["restored_from"], asset.metadata["restored_in"]) == ("cybernance-prod", WEST)
    restore = run.steps.get(step_id="restore-database")
    assert (restore.outputs["target"], restore.outputs["region"]) == (asset.external_id, WEST)
    assert restore.outputs["restore_point"]
    [started] = AuditEvent.objects.filter(action="rds.restore_started")
    assert started.after["snapshot"] == cybernance["west_snapshot"]

    # DNS: the public name now answers, at the authoritative server, with the us-west-2 balancer holding this
    # run's instances; the check step saw it too.
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers, resolver.port, resolver.cache = ["127.0.0.1"], powerdns.dns_port, None
    answer = resolver.resolve("app.cybernance.example", "CNAME")
    assert [r.target.to_text() for r in answer] == [cybernance["west_alb"] + "."]
    cutover = run.steps.get(step_id="dns-cutover")
    assert cutover.params["cname"] == "app.cybernance.example"  # bound from the load-balancer step's row
    assert cutover.outputs["changed"] == ["app.cybernance.example. CNAME"]
    assert run.steps.get(step_id="verify-dns").outputs["percent"] == 100
    assert AuditEvent.objects.filter(action="dns.cutover").count() == 1


def test_a_deployment_that_ignores_the_region_fails_its_steps_and_the_run_does_not_succeed(
        cybernance, moto, alice, mona):
    # A playbook hard-wired to us-east-1: it builds there whatever drportal asks.
    for server in Server.objects.filter(pk__in=[s.pk for s in cybernance["servers"]]):
        server.metadata = {**server.metadata,
                           "deploy_command": f"{sys.executable} {DEPLOY} {{server}} {moto.endpoint} us-east-1"}
        server.save(update_fields=["metadata"])

    run = lose_us_east_1(alice, mona)

    assert run.state == RunState.FAILED
    rows = list(run.steps.filter(step_id="reprovision"))
    assert {r.state for r in rows} == {StepState.FAILED}
    built = {tag(i, "drportal_key"): i["InstanceId"] for i in live_instances(moto) if tag(i, "drportal_key")}
    for row in rows:
        assert (f"the deployment built {built[row.idempotency_key]} in us-east-1, not in us-west-2 as the step "
                f"asked: {row.item} is not recovered in us-west-2") in row.error
    # Each node recorded where it is, once; no server takes a node in the lost region for its replacement.
    assert sorted(e.after["node_id"] for e in AuditEvent.objects.filter(action="deployment.built_elsewhere")) == \
        sorted(built.values())
    assert {s.name: s.provider_node_id for s in Server.objects.filter(pk__in=[s.pk for s in cybernance["servers"]])} \
        == cybernance["old"]
    assert run.steps.get(step_id="load-balancer").state == StepState.PENDING
