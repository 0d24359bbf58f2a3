from __future__ import annotations

import pytest

from drportal.audit.models import AuditEvent
from drportal.cloud.actions.base import REGISTRY
from drportal.cloud.adapters.errors import AdapterError
from drportal.cloud.models import SimAddress, SimNode
from drportal.lib import clock
from tests.cloud.conftest import make_server
from tests.cloud.helpers import ctx, ec2, launch

pytestmark = pytest.mark.django_db


def replaced_ec2_server(moto, zone, account):
    client = ec2(moto)
    old, new = launch(moto, "web1"), launch(moto, "web1")
    eip = client.allocate_address(Domain="vpc")
    client.associate_address(InstanceId=old, AllocationId=eip["AllocationId"])
    server = make_server(zone, account, provider_node_id=new,
                         metadata={"previous_node": {"node_id": old, "public_ips": [eip["PublicIp"]]}})
    return server, eip["PublicIp"], old, new


def holder(moto, ip: str) -> str | None:
    return ec2(moto).describe_addresses(PublicIps=[ip])["Addresses"][0].get("InstanceId")


def test_it_moves_the_elastic_ip_to_the_replacement(moto, moto_account, aws_location):
    server, ip, _, new = replaced_ec2_server(moto, aws_location, moto_account)
    outcome = REGISTRY["transfer_ip"].execute(ctx("t1", server="web1"))
    assert outcome.done
    assert outcome.output["moved"]
    assert holder(moto, ip) == new
    server.refresh_from_db()
    assert server.public_ips[0] == ip
    assert AuditEvent.objects.get(action="server.ip_transferred").actor_label == "job:transfer_ip#t1"


def test_a_second_run_sees_the_address_already_moved(moto, moto_account, aws_location):
    _, ip, _, new = replaced_ec2_server(moto, aws_location, moto_account)
    REGISTRY["transfer_ip"].execute(ctx("t2", server="web1"))
    again = REGISTRY["transfer_ip"].execute(ctx("t2", server="web1"))
    assert again.output["moved"] is False
    assert holder(moto, ip) == new
    assert AuditEvent.objects.filter(action="server.ip_transferred").count() == 1


def test_it_refuses_an_address_in_use_by_another_server(moto, moto_account, aws_location):
    _, ip, _, _ = replaced_ec2_server(moto, aws_location, moto_account)
    bystander = launch(moto, "other")
    client = ec2(moto)
    allocation = client.describe_addresses(PublicIps=[ip])["Addresses"][0]["AllocationId"]
    client.associate_address(InstanceId=bystander, AllocationId=allocation, AllowReassociation=True)
    with pytest.raises(AdapterError) as caught:
        REGISTRY["transfer_ip"].execute(ctx("t3", server="web1"))
    assert caught.value.code == "AddressInUse"
    assert bystander in str(caught.value)
    assert holder(moto, ip) == bystander


def test_it_moves_a_floating_ip_on_the_simulated_cloud(sim_account, sim_location):
    now = clock.now()
    old = SimNode.objects.create(account=sim_account, node_id="sim-old", name="db1", image_id="i", size_id="4GB",
                                 location="dfw", created_at=now, ready_at=now)
    new = SimNode.objects.create(account=sim_account, node_id="sim-new", name="db1", image_id="i", size_id="4GB",
                                 location="dfw", created_at=now, ready_at=now)
    SimAddress.objects.create(account=sim_account, ip="192.0.2.50", node=old)
    make_server(sim_location, sim_account, name="db1", provider_node_id="sim-new",
                metadata={"previous_node": {"node_id": "sim-old", "public_ips": ["192.0.2.50"]}})
    assert REGISTRY["transfer_ip"].execute(ctx("t4", server="db1")).done
    assert SimAddress.objects.get(ip="192.0.2.50").node == new


def test_it_hands_over_to_dns_where_the_provider_cannot_move_addresses(sim_account, sim_location):
    sim_account.options = {**sim_account.options, "floating_ips": False}
    sim_account.save()
    make_server(sim_location, sim_account, name="db1", provider_node_id="sim-new", public_ips=["198.18.0.9"],
                metadata={"previous_node": {"node_id": "sim-old", "public_ips": ["192.0.2.51"]}})
    outcome = REGISTRY["transfer_ip"].execute(ctx("t5", server="db1"))
    assert outcome.done
    assert outcome.handover == "dns_cutover"
    assert "cannot move" in outcome.output["reason"]
    assert "hand over" in REGISTRY["transfer_ip"].plan(ctx("t5", server="db1"))[0]


def test_an_address_outside_the_account_fails_permanently(moto, moto_account, aws_location):
    replaced_ec2_server(moto, aws_location, moto_account)
    with pytest.raises(AdapterError) as caught:
        REGISTRY["transfer_ip"].execute(ctx("t6", server="web1", address="192.0.2.200"))
    assert caught.value.permanent
    assert caught.value.code == "AddressNotFound"


def test_rackspace_hands_over_to_dns_at_once(sim_location):
    from drportal.inventory.models import ProviderAccount

    account = ProviderAccount.objects.create(provider=sim_location.region.provider, name="jv-rackspace",
                                             driver="rackspace", options={"region": "dfw"},
                                             credentials_env={"key": "JV_USER", "secret": "JV_KEY"})
    make_server(sim_location, account, name="jv-web1", provider_node_id="new-node",
                metadata={"previous_node": {"node_id": "old-node", "public_ips": ["203.0.113.21"]}})
    outcome = REGISTRY["transfer_ip"].execute(ctx("t7", server="jv-web1"))
    assert outcome.handover == "dns_cutover"
    assert outcome.output["address"] == "203.0.113.21"
