"""Both ways, for real (not drills): each company fails over on its local peers (Jivosoft's Dallas on the simulated
cloud, PowerDNS and a PostgreSQL of its own; Cybernance on a moto server), keeps working away from home, then runs
its return-home scenario through the engine and the worker's jobs: re-protect, approve, tell customers, provision
at home, bring the data home, point DNS / the load balancer home, retire the stand-ins. Afterwards what the peers
hold is compared with what drportal recorded, and every automated step of the return is performed once more with
no memory of its earlier attempt (as a worker that died before its result was written would leave it): nothing is
provisioned, restored or destroyed a second time.

What these peers cannot prove: the Jivosoft notes in tests/recovery/test_jivosoft_real_recovery.py and the
Cybernance ones in test_cybernance_real_recovery.py hold here too."""

from __future__ import annotations

import os
import time

import pytest

from drportal.audit.models import AuditEvent
from drportal.cloud.actions.base import REGISTRY, StepContext
from drportal.cloud.models import SimImage, SimNode
from drportal.incidents import services as incidents
from drportal.inventory.choices import AssetKind, CustomerStatus
from drportal.inventory.models import Asset, Region, Server
from drportal.lib import clock
from scenarios import engine, loader
from scenarios.choices import RunState, StepKind, StepState
from tests.recovery.conftest import PostgresPeer, run_to_the_end
from tests.recovery.test_cybernance_real_recovery import (  # noqa: F401 - cybernance is a fixture
    WEST,
    client,
    cybernance,
    live_instances,
    tag,
)
from tests.recovery.test_jivosoft_real_recovery import DAILY, add_orders, ask, jivosoft  # noqa: F401
from tests.scenarios.conftest import drain

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def home_pg():
    """A second PostgreSQL: the new database servers back in Dallas (the first one stood in for Kansas City)."""
    peer = PostgresPeer()
    yield peer
    peer.stop()


def fail_over(scenario_id: str, disaster_class: str, region: Region, alice, mona):
    incident = incidents.declare(alice, title=f"{region} lost", disaster_class=disaster_class,
                                 impacted={"regions": [region]})
    run, _ = engine.start_run(incident, loader.library().get(scenario_id), alice)
    run = run_to_the_end(run, alice, mona)
    assert {r.step_id: r.error for r in run.steps.filter(state=StepState.FAILED)} == {}
    assert run.state == RunState.SUCCEEDED
    return run


def start_return(scenario_id: str, region: Region, alice):
    incident = incidents.declare(alice, title=f"{region} is back: return home", disaster_class="other",
                                 impacted={"regions": [region]})
    run, _ = engine.start_run(incident, loader.library().get(scenario_id), alice)
    return run


def until_approval(run, alice):
    """The return up to the manager's approval: the people's steps before it done, re-protection performed by
    the workers. The approval waits: what happens meanwhile (the re-protected backups running) is the test's."""
    for _ in range(20):
        drain()
        ready = run.steps.filter(state=StepState.READY, kind=StepKind.MANUAL)
        if not ready.exists():
            break
        for row in ready:
            engine.complete_step(row.pk, alice, notes="done", evidence="ticket 2")
    assert run.steps.get(step_id="approve-failback").state == StepState.READY
    return run


def replay_every_automated_step(run) -> None:
    """Perform each automated step of the run again through its action, with the step's key and parameters but
    none of its remembered state: what a retried or duplicated job after a lost result would do."""
    for row in run.steps.filter(kind=StepKind.AUTOMATED, state=StepState.SUCCEEDED):
        ctx = StepContext(idempotency_key=row.idempotency_key, params=dict(row.params), state={},
                          incident_id=run.incident_id)
        for _ in range(50):
            if REGISTRY[row.spec["action"]].execute(ctx).done:
                break
            time.sleep(0.1)  # a detached command (a deployment, a restore) is looked at again


def return_audit(run, action: str) -> int:
    return AuditEvent.objects.filter(action=action, actor_label__contains=f"#r{run.pk}-").count()


def test_jivosoft_fails_over_to_kansas_city_and_comes_home_to_dallas(
        jivosoft, powerdns, pg_peer, home_pg, alice, mona):  # noqa: F811 - jivosoft is the imported fixture
    servers = jivosoft["servers"]
    dallas = Region.objects.get(provider__slug="rackspace", slug="dfw")
    away = fail_over("jivosoft-datacenter-offline", "datacenter_offline", dallas, alice, mona)
    stand_ins = {s.name: s.provider_node_id for s in Server.objects.filter(pk__in=[s.pk for s in servers])}
    active = list(Asset.objects.filter(kind=AssetKind.DATABASE, server__in=servers)
                  .exclude(customer__status=CustomerStatus.TERMINATED).order_by("name"))
    # Customers keep working in Kansas City: two orders each that only the Kansas City databases hold.
    for asset in active:
        rows = jivosoft["expected"][asset.restore["database"]]["public.orders"]
        add_orders(pg_peer, asset.restore["database"], rows + 100, rows + 101)

    home = until_approval(start_return("jivosoft-return-home", dallas, alice), alice)
    # Re-protected, the backups run from Kansas City to Dallas (the agent's work, not drportal's): a dump of each
    # database into the Dallas container and an image of each server kept in Dallas.
    for asset in active:
        path = jivosoft["storage"] / DAILY / asset.name / "20261206T0400.dump"
        pg_peer.dump(asset.restore["database"], path)
        os.utime(path, (clock.now().timestamp(), clock.now().timestamp()))
        asset.restore = {**asset.restore, "host": home_pg.host, "port": home_pg.port}  # the new server at home
        asset.save(update_fields=["restore"])
    for server in servers:
        SimImage.objects.create(account=server.account, image_id=f"img-{server.name}-home", server_name=server.name,
                                name=f"{server.name}-from-kansas-city", location="dfw1", created_at=clock.now())
    home = run_to_the_end(home, alice, mona)

    assert {f"{r.step_id}[{r.item}]": r.error for r in home.steps.filter(state=StepState.FAILED)} == {}
    assert home.state == RunState.SUCCEEDED
    assert home.steps.get(step_id="reprotect").state == StepState.SUCCEEDED
    # Compute: every server runs on a new node in Dallas from the image taken in Kansas City; the stand-in is gone.
    keys = dict(home.steps.filter(step_id="provision-home").values_list("item", "idempotency_key"))
    for server in Server.objects.filter(pk__in=[s.pk for s in servers]):
        node = SimNode.objects.get(node_id=server.provider_node_id)
        assert (node.idempotency_key, node.location, node.image_id) == (keys[server.name], "dfw1",
                                                                         f"img-{server.name}-home")
        assert node.terminated_at is None
        assert SimNode.objects.get(node_id=stand_ins[server.name]).terminated_at is not None
        assert server.metadata["retired_nodes"] == [stand_ins[server.name]]
        for name in server.dns_names:
            assert ask(powerdns, name) == [node.public_ip], name
    # Data: each active customer's database at home holds what was written in Kansas City.
    for asset in active:
        database = asset.restore["database"]
        rows = jivosoft["expected"][database]["public.orders"] + 2
        assert int(home_pg.sql("SELECT count(*) FROM orders", database)) == rows, database
    assert return_audit(home, "server.replaced") == len(servers)
    assert return_audit(home, "server.temporary_node_retired") == len(servers)
    assert return_audit(home, "database.restored") == len(active)
    assert return_audit(home, "dns.cutover") >= len(servers)
    assert away.state == RunState.SUCCEEDED

    nodes = SimNode.objects.count()
    replay_every_automated_step(home)

    assert SimNode.objects.count() == nodes
    assert SimNode.objects.filter(terminated_at=None, node_id__in=list(stand_ins.values())).count() == 0
    assert return_audit(home, "server.replaced") == len(servers)
    assert return_audit(home, "server.temporary_node_retired") == len(servers)
    assert return_audit(home, "database.restored") == len(active)
    assert return_audit(home, "database.restore_started") == len(active)


def test_cybernance_rebuilds_away_and_comes_home_on_moto(cybernance, moto, alice, mona):  # noqa: F811 - the fixture
    servers = cybernance["servers"]
    region = Region.objects.get(provider__slug="aws", slug="us-east-1")
    fail_over("cybernance-all-datacenters-lost", "all_datacenters_lost", region, alice, mona)
    stand_ins = {s.name: s.provider_node_id for s in Server.objects.filter(pk__in=[s.pk for s in servers])}
    away_database = Asset.objects.get(name="cyb-rds-prod").external_id

    home = run_to_the_end(until_approval(start_return("cybernance-return-home", region, alice), alice), alice, mona)

    assert {f"{r.step_id}[{r.item}]": r.error for r in home.steps.filter(state=StepState.FAILED)} == {}
    assert home.state == RunState.SUCCEEDED
    # EC2: one new instance per server, tagged with its return step's key; the stand-ins are terminated.
    keys = dict(home.steps.filter(step_id="redeploy-home").values_list("item", "idempotency_key"))
    running = live_instances(moto)
    for server in Server.objects.filter(pk__in=[s.pk for s in servers]):
        [mine] = [i for i in running if tag(i, "drportal_key") == keys[server.name]]
        assert server.provider_node_id == mine["InstanceId"]
        assert server.metadata["retired_nodes"] == [stand_ins[server.name]]
    assert not {i["InstanceId"] for i in running} & set(stand_ins.values())
    # The stand-ins ran in us-west-2, where the plan rebuilt: none of them runs there any more.
    ever_west = client(moto, "ec2", WEST).describe_instances()["Reservations"]
    assert set(stand_ins.values()) <= {i["InstanceId"] for r in ever_west for i in r["Instances"]}
    assert not {i["InstanceId"] for i in live_instances(moto, WEST)} & set(stand_ins.values())
    # ELBv2: the target group holds exactly the home instances.
    health = client(moto, "elbv2").describe_target_health(TargetGroupArn=cybernance["group"])
    assert sorted(d["Target"]["Id"] for d in health["TargetHealthDescriptions"]) == sorted(
        Server.objects.filter(pk__in=[s.pk for s in servers]).values_list("provider_node_id", flat=True))
    # RDS: the database came home from the one that served while away (in us-west-2, by a snapshot of it copied
    # home), which is left as it was.
    asset = Asset.objects.get(name="cyb-rds-prod")
    assert asset.metadata["restored_from"] == away_database != asset.external_id
    assert "restored_in" not in asset.metadata
    assert asset.external_id in {d["DBInstanceIdentifier"] for d in client(moto, "rds").describe_db_instances()[
        "DBInstances"]}
    assert away_database in {d["DBInstanceIdentifier"] for d in client(moto, "rds", WEST).describe_db_instances()[
        "DBInstances"]}
    assert return_audit(home, "loadbalancer.rotated") == 1
    assert return_audit(home, "server.temporary_node_retired") == len(servers)

    instances = len(client(moto, "ec2").describe_instances()["Reservations"])
    databases = len(client(moto, "rds").describe_db_instances()["DBInstances"])
    replay_every_automated_step(home)

    assert len(client(moto, "ec2").describe_instances()["Reservations"]) == instances
    assert len(client(moto, "rds").describe_db_instances()["DBInstances"]) == databases
    assert return_audit(home, "server.temporary_node_retired") == len(servers)


def test_the_return_home_scenarios_retire_only_after_dns_or_the_load_balancer_points_home():
    # The stand-ins serve until the switch is done: retiring one earlier would cut customers off.
    for scenario_id, switch in (("jivosoft-return-home", "verify-dns-home"), ("cybernance-return-home", "dns-home")):
        steps = {s["id"]: s for s in loader.library().get(scenario_id).steps}
        assert switch in steps["retire-temporary"]["after"], scenario_id

