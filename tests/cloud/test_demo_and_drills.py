from __future__ import annotations

import pytest

from drportal.cloud import demo
from drportal.cloud.actions.base import REGISTRY
from drportal.cloud.adapters import dnsserver
from drportal.cloud.adapters.errors import AdapterError
from drportal.cloud.models import SimNode, SimRecord
from drportal.inventory.models import Provider, ProviderAccount, Region, Zone
from drportal.lib import clock
from tests.cloud.conftest import make_server
from tests.cloud.helpers import ctx, run

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def jivosoft(db):
    provider = Provider.objects.create(slug="rackspace", name="Rackspace", kind="rackspace")
    dfw = Zone.objects.create(region=Region.objects.create(provider=provider, slug="dfw", name="Dallas"), slug="dfw1",
                              name="Dallas")
    Zone.objects.create(region=Region.objects.create(provider=provider, slug="mci", name="Kansas City"), slug="mci1",
                        name="Kansas City")
    account = ProviderAccount.objects.create(provider=provider, name="jivosoft-rackspace", driver="rackspace",
                                             credentials_env={"key": "JV_USER", "secret": "JV_KEY"})
    make_server(dfw, account, name="jv-web1", size="4GB", public_ips=["203.0.113.21"],
                dns_names=["www.jivosoft.example"])
    return account


@pytest.fixture
def sim_dns(monkeypatch):
    server = dnsserver.start("127.0.0.1", 0)
    monkeypatch.setenv("SIM_DNS_PORT", str(server.port))
    yield server
    server.stop()


def test_demo_data_is_idempotent(jivosoft, sim_dns):
    demo.load(clock.now())
    demo.load(clock.now())
    twin = ProviderAccount.objects.get(name="jivosoft-rackspace-sim")
    assert twin.options["floating_ips"] is False
    assert SimNode.objects.filter(account=twin).count() == 1
    assert SimRecord.objects.get(name="www.jivosoft.example.").content == "203.0.113.21"


def test_a_drill_recovers_into_kansas_city_without_touching_production(jivosoft, sim_dns):
    demo.load(clock.now())
    twin = ProviderAccount.objects.get(name="jivosoft-rackspace-sim")
    twin.options = {**twin.options, "latency_s": 0}
    twin.save()
    provision = ctx("drill-p", server="jv-web1", zone="mci1")
    provision.drill = True
    node = run("provision_from_image", provision)
    assert node.done
    assert SimNode.objects.get(node_id=node.output["node_id"]).location == "mci1"
    ip = ctx("drill-ip", server="jv-web1", node_id=node.output["node_id"])
    ip.drill = True
    assert run("transfer_ip", ip).handover == "dns_cutover"
    cut = ctx("drill-dns", account="demo-dns", zone="jivosoft.example.", server="jv-web1",
              addresses=node.output["public_ips"], ttl=60)
    cut.drill = True
    run("dns_cutover", cut)
    verify = ctx("drill-verify", account="demo-dns", zone="jivosoft.example.", server="jv-web1",
                 addresses=node.output["public_ips"])
    verify.drill = True
    assert run("verify_dns_propagation", verify).done
    server = jivosoft.servers.get()
    assert server.public_ips == ["203.0.113.21"]
    assert server.provider_node_id == ""


def test_a_drill_refuses_an_account_without_a_simulated_twin(jivosoft):
    context = ctx("drill-x", server="jv-web1")
    context.drill = True
    with pytest.raises(AdapterError, match="drill mode needs a simulated account named jivosoft-rackspace-sim"):
        REGISTRY["provision_from_image"].execute(context)


def test_simulate_recovery_command_recovers_a_server_end_to_end(jivosoft, sim_dns):
    from io import StringIO

    from django.core.management import call_command

    demo.load(clock.now())
    ProviderAccount.objects.filter(name="jivosoft-rackspace-sim").update(
        options={"latency_s": 1, "locations": ["dfw1", "mci1"], "floating_ips": False})
    out = StringIO()
    call_command("simulate_recovery", "jv-web1", "--region", "rackspace/mci", stdout=out)
    text = out.getvalue()
    assert "[transfer_ip] rackspace" not in text
    assert "cannot move addresses" in text
    assert "all 1 answers agree" in text
    assert "recovered jv-web1" in text
