"""The demo and drill path end to end: the simulated cloud (PostgreSQL) and its in-process DNS server."""

from __future__ import annotations

import pytest

from drportal.cloud.actions.base import REGISTRY
from drportal.cloud.adapters import dnsserver
from drportal.cloud.adapters.compute import driver_for
from drportal.cloud.models import SimImage, SimNode, SimRecord, SimZone
from drportal.inventory.models import ProviderAccount
from drportal.lib import clock
from tests.cloud.conftest import make_server
from tests.cloud.helpers import ctx, run

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sim_dns():
    server = dnsserver.start("127.0.0.1", 0)
    yield server
    server.stop()


@pytest.fixture
def rackspace_like(sim_location):
    """Like Rackspace in the Jivosoft plan: addresses cannot move between servers, so DNS takes over."""
    account = ProviderAccount.objects.create(provider=sim_location.region.provider, name="sim-rs", driver="simulated",
                                             options={"latency_s": 0, "floating_ips": False})
    return account


def test_a_crashed_server_is_recovered_end_to_end(rackspace_like, sim_location, sim_dns):
    zone = SimZone.objects.create(domain="jivosoft.test.")
    SimRecord.objects.create(zone=zone, name="app.jivosoft.test.", type="A", content="203.0.113.5", ttl=3600)
    ProviderAccount.objects.create(provider=sim_location.region.provider, name="sim-dns",
                                                 driver="simulated",
                                                 options={"nameservers": [f"127.0.0.1:{sim_dns.port}"]})
    SimImage.objects.create(account=rackspace_like, image_id="img-w", name="app1-weekly", server_name="app1",
                            created_at=clock.now())
    make_server(sim_location, rackspace_like, name="app1", size="4GB", provider_node_id="sim-dead",
                public_ips=["203.0.113.5"], dns_names=["app.jivosoft.test"])

    provisioned = run("provision_from_image", ctx("drill-1", server="app1"))
    assert provisioned.done
    moved = run("transfer_ip", ctx("drill-2", server="app1"))
    assert moved.handover == "dns_cutover"
    cut = run("dns_cutover", ctx("drill-3", account="sim-dns", zone="jivosoft.test.", server="app1", ttl=60))
    assert cut.output["changed"] == ["app.jivosoft.test. A"]
    verified = run("verify_dns_propagation", ctx("drill-4", account="sim-dns", zone="jivosoft.test.", server="app1"))
    assert verified.done
    answer = verified.output["answers"][0]
    assert answer["values"] == provisioned.output["public_ips"]
    assert answer["ttl"] == 60


def test_the_dns_server_answers_nxdomain_and_refuses_foreign_zones(sim_dns):
    import dns.message
    import dns.query
    import dns.rcode

    SimZone.objects.create(domain="jivosoft.test.")
    for name, code in (("nothing.jivosoft.test.", dns.rcode.NXDOMAIN), ("example.com.", dns.rcode.REFUSED)):
        reply = dns.query.udp(dns.message.make_query(name, "A"), "127.0.0.1", port=sim_dns.port, timeout=2)
        assert reply.rcode() == code


def test_state_survives_a_new_driver_and_a_key_never_creates_twice(sim_account):
    SimImage.objects.create(account=sim_account, image_id="img-1", name="db1-w", server_name="db1",
                            created_at=clock.now())
    first = driver_for(sim_account)
    image = first.get_image("img-1")
    size = next(s for s in first.list_sizes() if s.id == "4GB")
    a = first.create_node("db1", size, image, ex_metadata={"drportal_key": "k"})
    # A restarted worker builds a new driver: the node is still there and the key still finds it.
    second = driver_for(ProviderAccount.objects.get(pk=sim_account.pk))
    b = second.create_node("db1", size, image, ex_metadata={"drportal_key": "k"})
    assert a.id == b.id
    assert [n.id for n in second.list_nodes()] == [a.id]
    assert SimNode.objects.count() == 1


def test_failure_injection_answers_like_a_failing_provider(sim_account, fast_retries):
    from drportal.cloud.adapters.errors import AdapterError

    sim_account.options = {**sim_account.options, "fail": {"list_nodes": 503}}
    sim_account.save()
    make_server(sim_account.provider.regions.first().zones.first(), sim_account, name="db1", size="4GB")
    with pytest.raises(AdapterError) as caught:
        REGISTRY["provision_from_image"].execute(ctx("fi", server="db1"))
    assert not caught.value.permanent
