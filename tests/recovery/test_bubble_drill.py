"""A drill in a bubble: the Jivosoft "Dallas offline" scenario drilled with the real actions against sandbox
accounts only (a simulated cloud of its own, a PowerDNS holding a drill copy of the zone, a PostgreSQL server of
its own for the restored databases), verified (new nodes, DNS answers, every restored database answering a count
query), measured (RTO, recovery point), then torn down and proven gone. The production accounts point at nothing
that answers: a drill that touched one would fail. The production inventory is compared before and after."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import dns.resolver
import pytest
from django.forms.models import model_to_dict

from drportal.audit.models import AuditEvent
from drportal.cloud.models import SimImage, SimNode
from drportal.inventory.choices import AssetKind
from drportal.inventory.importer import import_inventory
from drportal.inventory.models import Asset, Provider, ProviderAccount, Server
from drportal.lib import clock
from scenarios import drills, loader
from scenarios.choices import RunState, StepState
from tests.recovery.conftest import run_to_the_end
from tests.recovery.test_jivosoft_real_recovery import ZONE, make_dumps

pytestmark = pytest.mark.django_db(transaction=True)

SEED = Path(__file__).resolve().parents[2] / "inventories" / "jivosoft.yaml"


def inventory() -> dict:
    """Every row a recovery may write: servers, assets, accounts."""
    return {
        "servers": [model_to_dict(s) for s in Server.objects.order_by("name")],
        "assets": [model_to_dict(a) for a in Asset.objects.order_by("name")],
        "accounts": [model_to_dict(a) for a in ProviderAccount.objects.order_by("name")],
    }


@pytest.fixture
def bubble(db, powerdns, pg_peer, tmp_path, settings):
    import_inventory(SEED.read_text(), actor="test:setup", source=SEED.name)
    settings.CLOUD_DNS_RESOLVERS = ""
    settings.CLOUD_DEPLOY_DIR = tmp_path / "deployments"
    settings.DRILL_POSTGRES_HOST, settings.DRILL_POSTGRES_PORT = pg_peer.host, pg_peer.port
    now = clock.now()
    production = ProviderAccount.objects.get(name="jivosoft-rackspace")
    servers = list(Server.objects.filter(account=production).order_by("name"))
    sandbox = ProviderAccount.objects.create(
        provider=production.provider, name="jivosoft-rackspace-drill", driver="simulated",
        options={"latency_s": 0, "locations": ["dfw1", "mci1"], "floating_ips": False,
                 "sizes": sorted({s.size for s in servers})})
    for server in servers:
        SimImage.objects.create(account=sandbox, image_id=f"drill-img-{server.name}", server_name=server.name,
                                name=f"{server.name}-weekly-{(now - timedelta(days=3)).date()}", location="mci1",
                                created_at=now - timedelta(days=3))
    # The dumps: production backups, read only by the drill (as a restore test does).
    storage = tmp_path / "cloudfiles"
    storage.mkdir()
    cloudfiles = ProviderAccount.objects.create(provider=production.provider, name="jivosoft-cloudfiles-local",
                                                driver="local", options={"path": str(storage)})
    databases = list(Asset.objects.filter(kind=AssetKind.DATABASE, server__in=servers).order_by("name"))
    for asset in databases:
        asset.dumps = [{**where, "account": cloudfiles.name} for where in asset.dumps]
        asset.save(update_fields=["dumps"])
    expected = make_dumps(pg_peer, storage, databases)
    # Production DNS answers nowhere (port 9 discards): only the sandbox's drill zone may be touched.
    pdns = Provider.objects.create(slug="pdns", name="PowerDNS", kind="other")
    ProviderAccount.objects.create(provider=pdns, name="jivosoft-dns", driver="powerdns",
                                   options={"host": "127.0.0.1", "port": 9, "dns_port": 9})
    drill_dns = ProviderAccount.objects.create(provider=pdns, name="jivosoft-dns-drill", driver="powerdns", options={
        "host": "127.0.0.1", "port": powerdns.api_port, "dns_port": powerdns.dns_port})
    drill_dns.set_credentials({"key": powerdns.api_key})
    drill_dns.save()
    powerdns.delete_zone(ZONE)
    powerdns.create_zone(ZONE, [(name + ".", "A", s.public_ips[0], 300) for s in servers for name in s.dns_names])
    yield {"servers": servers, "expected": expected}
    powerdns.delete_zone(ZONE)


def ask(powerdns, name: str) -> list[str]:
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers, resolver.port, resolver.cache = ["127.0.0.1"], powerdns.dns_port, None
    return sorted(r.to_text() for r in resolver.resolve(name, "A"))


def test_a_drill_in_a_bubble_recovers_for_real_in_the_sandbox_and_leaves_nothing_behind(
        bubble, powerdns, pg_peer, alice, mona):
    servers = bubble["servers"]
    before = inventory()

    drill = drills.start_drill(loader.library().get("jivosoft-datacenter-offline"), alice, servers=servers,
                               bubble=True)
    run = run_to_the_end(drill.run, alice, mona)

    failed = {f"{r.step_id}[{r.item}]": r.error for r in run.steps.filter(state=StepState.FAILED)}
    assert failed == {}
    assert run.state == RunState.SUCCEEDED
    # Verified in the bubble: a node per server in the sandbox, the drill zone answering their addresses, every
    # active customer's database restored into the sandbox PostgreSQL and answering with the dump's rows.
    nodes = SimNode.objects.filter(account__name="jivosoft-rackspace-drill", terminated_at=None)
    assert sorted(nodes.values_list("name", flat=True)) == [s.name for s in servers]
    for server in servers:
        for name in server.dns_names:
            assert ask(powerdns, name) == [nodes.get(name=server.name).public_ip], name
    restored = {d for d in pg_peer.databases() if d.startswith(f"drill{run.incident_id}_")}
    assert len(restored) == 9
    for database, tables in bubble["expected"].items():
        if f"drill{run.incident_id}_{database}" in restored:
            counted = pg_peer.sql("SELECT count(*) FROM public.orders", f"drill{run.incident_id}_{database}")
            assert int(counted) == tables["public.orders"]
    drill.refresh_from_db()
    assert drill.measured_rto is not None
    assert inventory() == before  # the production inventory never changed

    proof = drills.tear_down(drill, alice)

    assert proof["remaining"] == {"nodes": [], "databases": [], "dns": []}
    assert len(proof["destroyed_nodes"]) == len(servers)
    assert not {d for d in pg_peer.databases() if d.startswith(f"drill{run.incident_id}_")}
    for server in servers:
        for name in server.dns_names:
            assert ask(powerdns, name) == [server.public_ips[0]], name
    assert AuditEvent.objects.filter(action="drill.torn_down").count() == 1
    assert drills.tear_down(drill, alice)["destroyed_nodes"] == []  # a second teardown finds nothing
    assert inventory() == before
