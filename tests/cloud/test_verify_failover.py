from __future__ import annotations

import time

import boto3
import pytest
import redis

from drportal.cloud.actions.base import REGISTRY
from drportal.cloud.adapters.errors import AdapterError
from tests.cloud.helpers import ctx

pytestmark = pytest.mark.django_db


def wait_for_link(replica_url: str) -> None:
    client = redis.Redis.from_url(replica_url)
    for _ in range(100):
        if client.info("replication").get("master_link_status") == "up":
            return
        time.sleep(0.05)
    raise AssertionError("replica never linked to its primary")


def test_a_replica_not_promoted_raises_a_manual_step(redis_pair):
    primary, replica = redis_pair
    wait_for_link(replica.url)
    outcome = REGISTRY["verify_failover"].execute(ctx("f1", redis=[{"url": replica.url, "expect": "master"}]))
    assert outcome.done
    assert outcome.handover == "manual"
    assert f"127.0.0.1:{replica.port} is replica" in outcome.output["manual_step"]
    assert outcome.output["checks"][0]["master"] == f"127.0.0.1:{primary.port}"


def test_it_passes_when_the_replica_has_taken_over(redis_pair):
    primary, replica = redis_pair
    wait_for_link(replica.url)
    client = redis.Redis.from_url(replica.url)
    client.execute_command("REPLICAOF", "NO", "ONE")  # what the managed service does on failover
    try:
        outcome = REGISTRY["verify_failover"].execute(ctx("f2", redis=[{"url": replica.url, "expect": "master"}]))
        assert outcome.done
        assert outcome.handover == ""
        assert outcome.output["checks"][0]["role"] == "master"
    finally:
        client.execute_command("REPLICAOF", "127.0.0.1", str(primary.port))


def test_a_replica_can_be_expected_as_replica(redis_pair):
    _, replica = redis_pair
    wait_for_link(replica.url)
    outcome = REGISTRY["verify_failover"].execute(ctx("f3", redis=[{"url": replica.url, "expect": "replica"}]))
    assert outcome.output["problems"] == []


def test_it_waits_before_calling_a_human_when_asked(redis_pair):
    _, replica = redis_pair
    wait_for_link(replica.url)
    outcome = REGISTRY["verify_failover"].execute(ctx("f4", redis=[{"url": replica.url}], wait_s=120, poll_s=10))
    assert not outcome.done
    assert outcome.poll_after == 10


def test_it_checks_rds_multi_az(moto, moto_account):
    rds = boto3.client("rds", endpoint_url=moto.endpoint, region_name="us-east-1", aws_access_key_id="a",
                       aws_secret_access_key="b")
    for name, multi_az in (("cyber-db", True), ("single-db", False)):
        rds.create_db_instance(DBInstanceIdentifier=name, DBInstanceClass="db.t3.medium", Engine="postgres",
                               MasterUsername="u", MasterUserPassword="password123", AllocatedStorage=20,
                               MultiAZ=multi_az)
    ok = REGISTRY["verify_failover"].execute(ctx("f5", account="aws-test", rds=["cyber-db"]))
    assert ok.output["problems"] == []
    assert ok.output["checks"][0]["multi_az"] is True
    bad = REGISTRY["verify_failover"].execute(ctx("f6", account="aws-test", rds=["single-db"]))
    assert bad.handover == "manual"
    assert "Multi-AZ False" in bad.output["problems"][0]


def test_an_unknown_rds_instance_fails_permanently(moto, moto_account):
    with pytest.raises(AdapterError) as caught:
        REGISTRY["verify_failover"].execute(ctx("f7", account="aws-test", rds=["nope"]))
    assert caught.value.permanent


def test_an_unreachable_redis_is_a_problem_and_its_password_is_not_shown():
    from drportal.cloud.devpeers import free_port

    url = f"redis://:hunter2secret@127.0.0.1:{free_port()}/0"
    outcome = REGISTRY["verify_failover"].execute(ctx("f8", redis=[{"url": url}]))
    assert outcome.handover == "manual"
    assert "hunter2secret" not in str(outcome.output)
