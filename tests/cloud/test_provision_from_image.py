from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine

from drportal.audit.models import AuditEvent
from drportal.cloud.actions.base import REGISTRY
from drportal.cloud.adapters.errors import AdapterError
from drportal.cloud.models import SimImage, SimNode
from drportal.lib import clock
from tests.cloud.conftest import make_server
from tests.cloud.helpers import ctx, ec2, instances_tagged, launch, run

pytestmark = pytest.mark.django_db


def crashed_ec2_server(moto, zone, account):
    old = launch(moto, "web1")
    client = ec2(moto)
    client.create_image(InstanceId=old, Name="web1-2026-11-01")
    newest = client.create_image(InstanceId=old, Name="web1-2026-11-08")["ImageId"]
    client.terminate_instances(InstanceIds=[old])
    server = make_server(zone, account, provider_node_id=old, public_ips=["198.51.100.7"])
    return server, newest


def test_it_provisions_from_the_newest_image_and_records_the_node(moto, moto_account, aws_location):
    server, newest = crashed_ec2_server(moto, aws_location, moto_account)
    outcome = run("provision_from_image", ctx("inc1-step3", server="web1"))
    assert outcome.done
    server.refresh_from_db()
    assert server.provider_node_id == outcome.output["node_id"] != outcome.output["previous"]["node_id"]
    assert server.image == newest
    assert server.public_ips
    assert server.status == "active"
    assert server.metadata["previous_node"]["public_ips"] == ["198.51.100.7"]
    described = ec2(moto).describe_instances(InstanceIds=[server.provider_node_id])["Reservations"][0]["Instances"][0]
    assert described["ImageId"] == newest
    assert described["InstanceType"] == "t2.micro"
    actions = list(AuditEvent.objects.filter(actor_label="job:provision_from_image#inc1-step3").order_by("id")
                   .values_list("action", flat=True))
    assert actions == ["cloud.node_created", "server.replaced"]


def test_it_never_creates_a_second_node_for_the_same_key(moto, moto_account, aws_location):
    crashed_ec2_server(moto, aws_location, moto_account)
    first = REGISTRY["provision_from_image"].execute(ctx("k-dup", server="web1"))
    # A second worker, or a retry after the state was lost, runs the same step with an empty state.
    second = REGISTRY["provision_from_image"].execute(ctx("k-dup", server="web1"))
    assert second.output["node_id"] == first.output["node_id"]
    assert len(instances_tagged(moto, "k-dup")) == 1


def test_it_waits_without_blocking_until_the_node_runs(sim_account, sim_location):
    sim_account.options = {**sim_account.options, "latency_s": 120}
    sim_account.save()
    SimImage.objects.create(account=sim_account, image_id="img-1", name="db1-weekly", server_name="db1",
                            created_at=clock.now())
    make_server(sim_location, sim_account, name="db1", size="4GB")
    context = ctx("slow", server="db1", poll_s=7)
    outcome = REGISTRY["provision_from_image"].execute(context)
    assert not outcome.done
    assert outcome.poll_after == 7
    with time_machine.travel(clock.now() + timedelta(seconds=121)):
        outcome = REGISTRY["provision_from_image"].execute(context)
    assert outcome.done
    assert SimNode.objects.filter(idempotency_key="slow").count() == 1


def test_it_skips_images_that_are_not_viable(sim_account, sim_location):
    now = clock.now()
    SimImage.objects.create(account=sim_account, image_id="img-old", name="db1-old", server_name="db1",
                            created_at=now - timedelta(days=7))
    SimImage.objects.create(account=sim_account, image_id="img-bad", name="db1-new", server_name="db1",
                            created_at=now, state="failed")
    make_server(sim_location, sim_account, name="db1", size="4GB")
    outcome = run("provision_from_image", ctx("viable", server="db1"))
    assert outcome.output["image"] == "img-old"


def test_plan_says_what_it_would_do_without_doing_it(sim_account, sim_location):
    SimImage.objects.create(account=sim_account, image_id="img-1", name="db1-weekly", server_name="db1",
                            created_at=clock.now())
    make_server(sim_location, sim_account, name="db1", size="4GB")
    lines = REGISTRY["provision_from_image"].plan(ctx("plan", server="db1", zone="mci"))
    assert "db1-weekly" in lines[0]
    assert "mci" in lines[0]
    assert not SimNode.objects.exists()


def test_it_fails_permanently_on_a_missing_image(moto, moto_account, aws_location):
    make_server(aws_location, moto_account)
    with pytest.raises(AdapterError) as caught:
        REGISTRY["provision_from_image"].execute(ctx("noimg", server="web1", image="ami-00000000deadbeef0"))
    assert caught.value.permanent
    assert "InvalidAMIID" in str(caught.value)
    assert instances_tagged(moto, "noimg") == []


def test_it_fails_permanently_when_the_server_has_no_image(sim_account, sim_location):
    make_server(sim_location, sim_account, name="db1", size="4GB")
    with pytest.raises(AdapterError) as caught:
        REGISTRY["provision_from_image"].execute(ctx("none", server="db1"))
    assert caught.value.permanent
    assert caught.value.code == "NoViableImage"


def test_it_names_the_field_for_an_unknown_server(sim_account):
    with pytest.raises(AdapterError, match=r"params.server: no server 'ghost'"):
        REGISTRY["provision_from_image"].execute(ctx("ghost", server="ghost"))


def test_it_reports_a_node_that_never_boots(sim_account, sim_location):
    sim_account.options = {**sim_account.options, "fail": {"boot": True}}
    sim_account.save()
    SimImage.objects.create(account=sim_account, image_id="img-1", name="db1-w", server_name="db1",
                            created_at=clock.now())
    make_server(sim_location, sim_account, name="db1", size="4GB")
    with pytest.raises(AdapterError, match="failed to boot"):
        run("provision_from_image", ctx("broken", server="db1"))


def test_a_target_region_places_the_node_in_one_of_its_zones(sim_account, sim_location):
    from drportal.inventory.models import Region, Zone

    kc = Region.objects.create(provider=sim_location.region.provider, slug="kansas-city", name="Kansas City")
    Zone.objects.create(region=kc, slug="mci", name="MCI")
    SimImage.objects.create(account=sim_account, image_id="img-1", name="db1-weekly", server_name="db1",
                            created_at=clock.now())
    make_server(sim_location, sim_account, name="db1", size="4GB")
    outcome = run("provision_from_image", ctx("kc", server="db1", region="sim/kansas-city"))
    assert SimNode.objects.get(node_id=outcome.output["node_id"]).location == "mci"
