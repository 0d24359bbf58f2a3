"""A worker SIGKILLed during each kind of automated step, at the worst moment: the action has acted on the
provider and the engine has not yet written the result. After the reconciler and a second worker the run
completes, and the provider's own state (moto's EC2 and RDS, PowerDNS's records) shows nothing done twice."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
import pytest
import requests

from drportal.inventory.models import Asset
from scenarios import engine
from scenarios.choices import RunState, StepState
from tests.cloud.conftest import make_server
from tests.cloud.helpers import ec2, instances_tagged, launch
from tests.faults.engine_support import finish, one_step, run_row_locked, sigkill, start_worker, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("clean_redis")]


@dataclass
class Case:
    params: dict[str, Any]
    acted: Any           # (idempotency key) -> bool: the provider shows the action's effect
    provider_state: Any  # (idempotency key) -> the provider's view, compared before the kill and at the end


def rds_client(moto):
    return boto3.client("rds", endpoint_url=moto.endpoint, region_name="us-east-1", aws_access_key_id="a",
                        aws_secret_access_key="b")


def pdns_rrsets(powerdns, zone: str) -> list[tuple[str, str, tuple[str, ...]]]:
    answer = requests.get(f"{powerdns.api}/zones/{zone}", headers=powerdns.headers(), timeout=5).json()
    return sorted((r["name"], r["type"], tuple(sorted(x["content"] for x in r["records"])))
                  for r in answer["rrsets"] if r["type"] == "A")


def provision_case(request) -> Case:
    moto, zone, account = (request.getfixturevalue(n) for n in ("moto", "aws_location", "moto_account"))
    old = launch(moto, "web1")
    ec2(moto).create_image(InstanceId=old, Name="web1-2026-11-08")
    ec2(moto).terminate_instances(InstanceIds=[old])
    make_server(zone, account, provider_node_id=old, public_ips=["198.51.100.7"])
    return Case({"server": "web1"}, lambda key: len(instances_tagged(moto, key)) == 1,
                lambda key: [i["InstanceId"] for i in instances_tagged(moto, key)])


def transfer_ip_case(request) -> Case:
    moto, zone, account = (request.getfixturevalue(n) for n in ("moto", "aws_location", "moto_account"))
    client = ec2(moto)
    old, new = launch(moto, "web1"), launch(moto, "web1")
    eip = client.allocate_address(Domain="vpc")
    client.associate_address(InstanceId=old, AllocationId=eip["AllocationId"])
    make_server(zone, account, provider_node_id=new,
                metadata={"previous_node": {"node_id": old, "public_ips": [eip["PublicIp"]]}})

    def addresses(key=None):
        return sorted((a["PublicIp"], a.get("InstanceId")) for a in client.describe_addresses()["Addresses"])

    return Case({"server": "web1"}, lambda key: addresses() == [(eip["PublicIp"], new)], addresses)


def dns_cutover_case(request) -> Case:
    powerdns, zone = request.getfixturevalue("powerdns"), request.getfixturevalue("pdns_zone")
    request.getfixturevalue("pdns_account")
    records = [{"name": "app", "values": ["198.51.100.1", "198.51.100.2"]}]
    return Case({"account": "pdns", "zone": zone, "records": records, "ttl": 60},
                lambda key: (f"app.{zone}", "A", ("198.51.100.1", "198.51.100.2")) in pdns_rrsets(powerdns, zone),
                lambda key: pdns_rrsets(powerdns, zone))


def verify_dns_case(request) -> Case:
    powerdns, zone = request.getfixturevalue("powerdns"), request.getfixturevalue("pdns_zone")
    request.getfixturevalue("pdns_account")
    # Already cut over (by hand, say): verifying reads, and must not write anything on its retry either.
    requests.patch(f"{powerdns.api}/zones/{zone}", headers=powerdns.headers(), timeout=5, json={"rrsets": [
        {"name": f"app.{zone}", "type": "A", "ttl": 300, "changetype": "REPLACE",
         "records": [{"content": "198.51.100.9", "disabled": False}]}]}).raise_for_status()
    return Case({"account": "pdns", "zone": zone, "records": [{"name": "app", "values": ["198.51.100.9"]}]},
                lambda key: True, lambda key: pdns_rrsets(powerdns, zone))


def restore_database_case(request) -> Case:
    moto, account = request.getfixturevalue("moto"), request.getfixturevalue("moto_account")
    rds = rds_client(moto)
    rds.create_db_instance(DBInstanceIdentifier="cyber-db", DBInstanceClass="db.t3.medium", Engine="postgres",
                           MasterUsername="u", MasterUserPassword="password123", AllocatedStorage=20)
    Asset.objects.create(name="cybernance-db", kind="managed_database", account=account, external_id="cyber-db")

    def instances(key=None):
        return sorted(d["DBInstanceIdentifier"] for d in rds.describe_db_instances()["DBInstances"])

    return Case({"asset": "cybernance-db", "mode": "point_in_time", "use_latest_restorable_time": True},
                lambda key: len(instances()) == 2, instances)


def rotate_load_balancer_case(request) -> Case:
    moto, zone, account = (request.getfixturevalue(n) for n in ("moto", "aws_location", "moto_account"))
    vpc = ec2(moto).describe_vpcs()["Vpcs"][0]["VpcId"]
    elb = boto3.client("elbv2", endpoint_url=moto.endpoint, region_name="us-east-1", aws_access_key_id="a",
                       aws_secret_access_key="b")
    arn = elb.create_target_group(Name="app", Protocol="HTTP", Port=80, VpcId=vpc,
                                  TargetType="instance")["TargetGroups"][0]["TargetGroupArn"]
    failed, healthy, replacement = launch(moto, "app1"), launch(moto, "app2"), launch(moto, "app1")
    elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": failed}, {"Id": healthy}])
    make_server(zone, account, name="app1", provider_node_id=replacement,
                metadata={"previous_node": {"node_id": failed}})

    def members(key=None):
        return sorted(d["Target"]["Id"] for d in elb.describe_target_health(TargetGroupArn=arn)
                      ["TargetHealthDescriptions"])

    return Case({"account": "aws-test", "target_group_arn": arn, "remove": ["app1"], "add": ["app1"]},
                lambda key: members() == sorted([healthy, replacement]), members)


def reconfigure_offsite_case(request) -> Case:
    """Our own state is the provider here: the backup policy's target region."""
    from datetime import timedelta

    from backups.models import BackupPolicy
    from drportal.inventory.models import Provider, Region

    provider = Provider.objects.create(slug="rackspace", name="Rackspace", kind="rackspace")
    regions = {slug: Region.objects.create(provider=provider, slug=slug, name=slug) for slug in ("dfw", "mci", "ord")}
    policy = BackupPolicy.objects.create(name="weekly to Kansas City", kind="database_dump", schedule="0 3 * * 0",
                                         rpo_objective=timedelta(days=7), location_rule="named_region",
                                         target_region=regions["mci"])

    def target(key=None):
        return BackupPolicy.objects.filter(pk=policy.pk).values_list("target_region__slug", flat=True).get()

    return Case({"region": "rackspace/mci", "failed_region": "rackspace/dfw"}, lambda key: target() == "ord", target)


def run_deployment_case(request) -> Case:
    """The deployment command appends a mark each time it runs: it must run once."""
    import sys
    import time

    marker = request.getfixturevalue("tmp_path") / "deployed"
    script = (f"import pathlib; p = pathlib.Path({str(marker)!r}); "
              "p.write_text((p.read_text() if p.exists() else '') + 'x')")

    def acted(key=None):
        deadline = time.monotonic() + 20
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        return marker.exists()

    return Case({"command": [sys.executable, "-c", script]}, acted,
                lambda key: marker.read_text() if marker.exists() else "")


def dns_rollback_case(request) -> Case:
    """After a cutover (done by hand here), the rollback puts the old record back: once."""
    powerdns, zone = request.getfixturevalue("powerdns"), request.getfixturevalue("pdns_zone")
    request.getfixturevalue("pdns_account")
    requests.patch(f"{powerdns.api}/zones/{zone}", headers=powerdns.headers(), timeout=5, json={"rrsets": [
        {"name": f"app.{zone}", "type": "A", "ttl": 60, "changetype": "REPLACE",
         "records": [{"content": "198.51.100.9", "disabled": False}]}]}).raise_for_status()
    old = {f"app.{zone} A": {"name": f"app.{zone}", "type": "A", "values": ["203.0.113.10"], "ttl": 3600}}
    return Case({"account": "pdns", "zone": zone, "old": old},
                lambda key: (f"app.{zone}", "A", ("203.0.113.10",)) in pdns_rrsets(powerdns, zone),
                lambda key: pdns_rrsets(powerdns, zone))


def verify_failover_case(request) -> Case:
    """A read of the replica's role: its retry must read again and change nothing on the server."""
    import redis

    from tests.cloud.test_verify_failover import wait_for_link

    _, replica = request.getfixturevalue("redis_pair")
    wait_for_link(replica.url)

    def replication(key=None):
        info = redis.Redis.from_url(replica.url).info("replication")
        return info["role"], info.get("master_port"), info.get("master_link_status")

    return Case({"redis": [{"url": replica.url, "expect": "replica"}]}, lambda key: True, replication)


CASES = {
    "provision_from_image": provision_case,
    "transfer_ip": transfer_ip_case,
    "dns_cutover": dns_cutover_case,
    "verify_dns_propagation": verify_dns_case,
    "restore_database": restore_database_case,
    "rotate_load_balancer": rotate_load_balancer_case,
    "reconfigure_offsite": reconfigure_offsite_case,
    "run_deployment": run_deployment_case,
    "dns_rollback": dns_rollback_case,
    "verify_failover": verify_failover_case,
}


@pytest.mark.parametrize("action", list(CASES))
def test_a_worker_killed_after_the_provider_acted_is_replaced_and_nothing_is_done_twice(request, action, declare,
                                                                                       alice):
    case = CASES[action](request)
    run, _ = engine.start_run(declare(), one_step(action, case.params), alice)
    step = run.steps.get()
    key = step.idempotency_key
    worker = start_worker()
    try:
        with run_row_locked(run.pk) as blocked:
            wait_for(blocked, 60, "the worker to act and then wait to write its result")
            step.refresh_from_db()
            assert step.state == StepState.RUNNING
            assert case.acted(key), f"{action}: the provider shows no effect before the kill"
            acted = case.provider_state(key)
            sigkill(worker)
    finally:
        if worker.poll() is None:
            sigkill(worker)
    step.refresh_from_db()
    assert (step.state, step.attempts, step.outputs) == (StepState.RUNNING, 1, {})  # nothing was recorded

    run = finish(run)

    step.refresh_from_db()
    assert run.state == RunState.SUCCEEDED, step.error
    assert step.state == StepState.SUCCEEDED
    assert step.attempts == 2
    assert "worker lost" in " ".join(step.log)
    # The second worker found the first one's work at the provider instead of doing it again.
    assert case.provider_state(key) == acted
