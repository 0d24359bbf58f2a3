"""retire_node, the last step home: the temporary node that stood in for a server is destroyed, once, on the
simulated cloud and on EC2 (moto); the node the server runs on now is never touched."""

from __future__ import annotations

import boto3
import pytest

from drportal.audit.models import AuditEvent
from drportal.cloud.adapters.compute import driver_for
from drportal.cloud.adapters.errors import AdapterError
from drportal.cloud.models import SimImage, SimNode
from drportal.lib import clock
from tests.cloud.conftest import make_server
from tests.cloud.helpers import ctx, ec2, launch, run

pytestmark = pytest.mark.django_db


@pytest.fixture
def away(sim_account, sim_location):
    """db1 back home on node sim-home; the node that stood in for it in Kansas City still runs."""
    SimImage.objects.create(account=sim_account, image_id="img-1", name="db1-w", server_name="db1",
                            created_at=clock.now())
    driver = driver_for(sim_account)
    size = next(s for s in driver.list_sizes() if s.id == "4GB")
    temporary = driver.create_node("db1", size, driver.get_image("img-1"), ex_metadata={"drportal_key": "kc"})
    server = make_server(sim_location, sim_account, name="db1", provider_node_id="sim-home",
                         metadata={"previous_node": {"node_id": temporary.id}})
    return server, temporary.id


def test_the_temporary_node_is_destroyed_and_recorded(away):
    server, temporary = away

    outcome = run("retire_node", ctx("r1", server="db1"))

    assert outcome.output == {"node_id": temporary, "retired": True}
    assert SimNode.objects.get(node_id=temporary).terminated_at is not None
    server.refresh_from_db()
    assert server.metadata["retired_nodes"] == [temporary]
    assert server.provider_node_id == "sim-home"
    assert AuditEvent.objects.filter(action="cloud.node_retiring").count() == 1


def test_retiring_again_finds_it_gone_and_destroys_nothing_more(away):
    run("retire_node", ctx("r1", server="db1"))

    second = ctx("r1", server="db1")
    outcome = run("retire_node", second)

    assert outcome.done
    assert any("is gone" in line for line in second.log)
    assert AuditEvent.objects.filter(action="server.temporary_node_retired").count() == 1


def test_the_node_the_server_runs_on_is_never_retired(away):
    with pytest.raises(AdapterError, match="is the node db1 runs on now"):
        run("retire_node", ctx("r1", server="db1", node="sim-home"))


def test_a_server_that_never_left_home_has_nothing_to_retire(sim_account, sim_location):
    make_server(sim_location, sim_account, name="web1", provider_node_id="sim-1")

    outcome = run("retire_node", ctx("r1", server="web1"))

    assert outcome.output == {"retired": False}


def test_the_temporary_instance_is_terminated_on_ec2(moto, moto_account, aws_location):
    temporary, home = launch(moto, "db1"), launch(moto, "db1")
    make_server(aws_location, moto_account, name="db1", provider_node_id=home,
                metadata={"previous_node": {"node_id": temporary}})

    outcome = run("retire_node", ctx("r2", server="db1"))

    assert outcome.done
    states = {i["InstanceId"]: i["State"]["Name"] for r in ec2(moto).describe_instances()["Reservations"]
              for i in r["Instances"]}
    assert states[temporary] in ("shutting-down", "terminated")
    assert states[home] == "running"


def test_a_stand_in_recorded_in_another_region_is_terminated_there(moto, moto_account, aws_location):
    west = boto3.client("ec2", endpoint_url=moto.endpoint, region_name="us-west-2", aws_access_key_id="a",
                        aws_secret_access_key="b")
    base = west.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    temporary = west.run_instances(ImageId=base, MinCount=1, MaxCount=1, InstanceType="t2.micro")["Instances"][0]
    home = launch(moto, "db1")
    make_server(aws_location, moto_account, name="db1", provider_node_id=home,
                metadata={"previous_node": {"node_id": temporary["InstanceId"], "region": "us-west-2"}})

    outcome = run("retire_node", ctx("r-west", server="db1"))

    assert outcome.output == {"node_id": temporary["InstanceId"], "retired": True}
    [state] = [i["State"]["Name"] for r in west.describe_instances()["Reservations"] for i in r["Instances"]]
    assert state in ("shutting-down", "terminated")
    assert AuditEvent.objects.filter(action="server.temporary_node_retired").count() == 1


def test_a_server_fails_over_comes_home_and_its_stand_in_is_retired_once(sim_account, sim_location):
    from drportal.inventory.models import Region, Zone

    Zone.objects.create(region=Region.objects.create(provider=sim_location.region.provider, slug="mci",
                                                     name="Kansas City"), slug="mci", name="MCI")
    SimImage.objects.create(account=sim_account, image_id="img-db1", name="db1-weekly", server_name="db1",
                            location="mci", created_at=clock.now())
    server = make_server(sim_location, sim_account, name="db1", size="4GB", provider_node_id="sim-dallas-lost")

    away = run("provision_from_image", ctx("failover", server="db1", region="sim/mci"))
    home_step = ctx("home", server="db1", region="sim/dallas")
    home = run("provision_from_image", home_step)
    retired = run("retire_node", ctx("retire", server="db1", region="sim/mci"))
    # The whole way home once more, as a resumed run would: nothing new is created or destroyed.
    run("provision_from_image", ctx("home", server="db1", region="sim/dallas"))
    run("retire_node", ctx("retire", server="db1", region="sim/mci"))

    nodes = {n.node_id: n for n in SimNode.objects.all()}
    assert nodes[away.output["node_id"]].location == "mci"
    assert nodes[home.output["node_id"]].location == "dfw"
    assert nodes[away.output["node_id"]].terminated_at is not None
    assert nodes[home.output["node_id"]].terminated_at is None
    assert len(nodes) == 2
    server.refresh_from_db()
    assert server.provider_node_id == home.output["node_id"]
    assert retired.output["node_id"] == away.output["node_id"]
    assert AuditEvent.objects.filter(action="server.temporary_node_retired").count() == 1
