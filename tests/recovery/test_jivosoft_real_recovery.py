"""Jivosoft loses Dallas, for real (not a drill), on local peers: the seed inventory with its Rackspace account
pointed at the simulated cloud (a libcloud NodeDriver keeping its nodes in PostgreSQL), its Cloud Files dumps in
libcloud's local storage driver, its DNS zone in PowerDNS, and a PostgreSQL server of its own standing in for the
new database servers in Kansas City. The seed scenario runs from the declare to the end; afterwards what the
peers hold is compared with what drportal recorded.

The restore's target is the new node: the simulated cloud gives each replacement a private address on the
loopback network (127.18.x.y), where the PostgreSQL peer answers, and the engine binds that address into each
database's restore step from the provisioning step's row; nothing in the inventory names it.

What these peers cannot prove: that a real Rackspace node boots with PostgreSQL serving (here one PostgreSQL
answers at every new node's address), Rackspace's own API (see tests/cloud/test_openstack_path.py), and
propagation through resolvers other than the authoritative server."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dns.resolver
import psycopg
import pytest

from drportal.audit.models import AuditEvent
from drportal.cloud.models import SimImage, SimNode
from drportal.incidents import services as incidents
from drportal.inventory.choices import AssetKind, CustomerStatus
from drportal.inventory.importer import import_inventory
from drportal.inventory.models import Asset, Provider, ProviderAccount, Region, Server
from drportal.lib import clock
from scenarios import engine, loader
from scenarios.choices import RunState, StepState
from tests.recovery.conftest import run_to_the_end

pytestmark = pytest.mark.django_db(transaction=True)

SEED = Path(__file__).resolve().parents[2] / "inventories" / "jivosoft.yaml"
WEEKLY = "jv-customer-db-weekly-kansas-city"
DAILY = "jv-customer-db-daily"
ZONE = "jivosoft.example."


def orders_of(i: int) -> int:
    return 40 + 7 * i  # every customer a different count, so a dump restored into the wrong database shows


def add_orders(pg_peer, database: str, first: int, last: int) -> None:
    # Numbers only go into this statement; the newline in the note checks COPY's escaping on the way.
    pg_peer.sql(f"INSERT INTO orders SELECT g, 'order ' || g || E'\\nline 2' "  # noqa: S608
                f"FROM generate_series({int(first)}, {int(last)}) g", database)


def make_dumps(pg_peer, storage: Path, databases: list[Asset]) -> dict[str, dict[str, int]]:
    """For every customer database: an older and a newer weekly dump in Kansas City and a newer daily one in
    Dallas, made by pg_dump from a real database that is then dropped (Dallas is gone). What the newest
    Kansas City dump holds, per database."""
    now = clock.now().timestamp()
    expected = {}
    for i, asset in enumerate(databases):
        source, rows = f"dallas_{asset.external_id}", orders_of(i)
        pg_peer.sql(f"DROP DATABASE IF EXISTS {source}")
        pg_peer.sql(f"CREATE DATABASE {source}")
        pg_peer.sql("CREATE TABLE orders (id int PRIMARY KEY, note text); "
                    "CREATE TABLE invoices (id int, total numeric)", source)
        pg_peer.sql(f"INSERT INTO invoices SELECT g, 1.5 * g FROM generate_series(1, {i + 3}) g", source)  # noqa: S608
        dumps = {name: storage / container / asset.name / name for container, name in (
            (WEEKLY, "20261122T0600.dump"), (WEEKLY, "20261129T0600.dump"), (DAILY, "20261205T0400.dump"))}
        add_orders(pg_peer, source, 1, rows - 5)
        pg_peer.dump(source, dumps["20261122T0600.dump"])
        add_orders(pg_peer, source, rows - 4, rows)
        pg_peer.dump(source, dumps["20261129T0600.dump"])
        add_orders(pg_peer, source, rows + 1, rows + 3)
        pg_peer.dump(source, dumps["20261205T0400.dump"])
        for path, age_days in zip(dumps.values(), (14, 7, 1 / 24), strict=True):
            os.utime(path, (now - age_days * 86400, now - age_days * 86400))
        pg_peer.sql(f"DROP DATABASE {source}")
        expected[asset.external_id] = {"public.orders": rows, "public.invoices": i + 3}
    return expected


@pytest.fixture
def jivosoft(db, powerdns, pg_peer, tmp_path, settings):
    """The Jivosoft seed with its accounts pointed at local peers (what an admin would configure)."""
    import_inventory(SEED.read_text(), actor="test:setup", source=SEED.name)
    settings.CLOUD_DNS_RESOLVERS = ""  # the authoritative PowerDNS is the one server asked
    settings.CLOUD_DEPLOY_DIR = tmp_path / "deployments"
    now = clock.now()
    servers = list(Server.objects.filter(account__name="jivosoft-rackspace").order_by("name"))
    rackspace = ProviderAccount.objects.get(name="jivosoft-rackspace")
    rackspace.driver = "simulated"
    rackspace.options = {"latency_s": 0, "locations": ["dfw1", "mci1"], "floating_ips": False,
                         "sizes": sorted({s.size for s in servers}), "private_network": "127.18"}
    rackspace.save()
    for server in servers:
        SimNode.objects.create(account=rackspace, node_id=f"dallas-{server.name}", name=server.name,
                               image_id="ubuntu", size_id=server.size, location="dfw1", created_at=now,
                               ready_at=now, public_ip=server.public_ips[0], private_ip=server.private_ips[0])
        server.provider_node_id = f"dallas-{server.name}"
        server.save(update_fields=["provider_node_id"])
        for weeks in (1, 2):
            SimImage.objects.create(account=rackspace, image_id=f"img-{server.name}-{weeks}", server_name=server.name,
                                    name=f"{server.name}-weekly-{(now - timedelta(weeks=weeks)).date()}",
                                    location="mci1", created_at=now - timedelta(weeks=weeks))
    storage = tmp_path / "cloudfiles"
    storage.mkdir()
    cloudfiles = ProviderAccount.objects.create(provider=rackspace.provider, name="jivosoft-cloudfiles-local",
                                                driver="local", options={"path": str(storage)})
    databases = list(Asset.objects.filter(kind=AssetKind.DATABASE, server__in=servers).order_by("name"))
    for asset in databases:
        asset.dumps = [{**where, "account": cloudfiles.name} for where in asset.dumps]
        # The port the new server's PostgreSQL listens on (the peer's); its address comes from the run.
        asset.restore = {**asset.restore, "port": pg_peer.port}
        asset.save(update_fields=["dumps", "restore"])
    expected = make_dumps(pg_peer, storage, databases)
    for asset in databases:
        pg_peer.sql(f"DROP DATABASE IF EXISTS {asset.restore['database']}")
    provider, _ = Provider.objects.get_or_create(slug="pdns", defaults={"name": "PowerDNS", "kind": "other"})
    dns_account = ProviderAccount.objects.create(provider=provider, name="jivosoft-dns", driver="powerdns", options={
        "host": "127.0.0.1", "port": powerdns.api_port, "dns_port": powerdns.dns_port})
    dns_account.set_credentials({"key": powerdns.api_key})
    dns_account.save()
    powerdns.delete_zone(ZONE)
    powerdns.create_zone(ZONE, [(name + ".", "A", s.public_ips[0], 300) for s in servers for name in s.dns_names])
    yield {"servers": servers, "expected": expected, "storage": storage}
    powerdns.delete_zone(ZONE)
    for asset in databases:
        pg_peer.sql(f"DROP DATABASE IF EXISTS {asset.restore['database']}")


def ask(powerdns, name: str) -> list[str]:
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers, resolver.port, resolver.cache = ["127.0.0.1"], powerdns.dns_port, None
    return sorted(r.to_text() for r in resolver.resolve(name, "A"))


def test_jivosoft_recovers_dallas_in_kansas_city_for_real_and_the_peers_hold_what_drportal_recorded(
        jivosoft, powerdns, pg_peer, alice, mona):
    servers = jivosoft["servers"]
    # Region-only, as ops would declare it: the scope resolver finds every server (and database) in Dallas.
    dallas = Region.objects.get(provider__slug="rackspace", slug="dfw")
    incident = incidents.declare(alice, title="Dallas data center offline", disaster_class="datacenter_offline",
                                 impacted={"regions": [dallas]})
    run, _ = engine.start_run(incident, loader.library().get("jivosoft-datacenter-offline"), alice)
    run = run_to_the_end(run, alice, mona)

    failed = {f"{r.step_id}[{r.item}]": r.error for r in run.steps.filter(state=StepState.FAILED)}
    assert failed == {}
    assert run.drill is False
    assert run.state == RunState.SUCCEEDED

    # Compute: one new node per Dallas server, in Kansas City, tagged by its step, recorded on the server.
    created = SimNode.objects.exclude(idempotency_key="")
    assert sorted(created.values_list("name", flat=True)) == [s.name for s in servers]
    assert set(created.values_list("location", flat=True)) == {"mci1"}
    keys = set(run.steps.filter(step_id="provision-kc").values_list("idempotency_key", flat=True))
    assert set(created.values_list("idempotency_key", flat=True)) == keys
    for server in Server.objects.filter(pk__in=[s.pk for s in servers]):
        node = created.get(name=server.name)
        assert server.provider_node_id == node.node_id
        assert server.public_ips == [node.public_ip]
        assert node.image_id == f"img-{server.name}-1"  # the newest weekly image
        # DNS: every name of the server answers the new address at the authoritative server.
        for name in server.dns_names:
            assert ask(powerdns, name) == [node.public_ip], name
    assert SimNode.objects.filter(node_id__startswith="dallas-", terminated_at=None).count() == len(servers)

    # Databases: each active customer's, from the newest Kansas City copy (not the newer Dallas daily dump).
    active = Asset.objects.filter(kind=AssetKind.DATABASE).exclude(customer__status=CustomerStatus.TERMINATED)
    restored = {a.restore["database"] for a in active}
    assert len(restored) == 9
    assert restored <= pg_peer.databases()
    assert "comal_logistics" not in pg_peer.databases()  # a terminated customer's database is not served
    steps = run.steps.filter(step_id="restore-databases")
    for step in steps:
        # Restored at the address of the node this run provisioned for the database's server, bound from
        # the provisioning step's row, and the dump's rows answer there.
        asset = Asset.objects.select_related("server").get(name=step.item)
        new_address = created.get(name=asset.server.name).private_ip
        assert step.params["host"] == [new_address]
        assert step.outputs["host"] == new_address
        database = asset.restore["database"]
        with psycopg.connect(host=new_address, port=pg_peer.port, user="postgres", dbname=database) as conn:
            assert conn.execute("SELECT host(inet_server_addr())").fetchone()[0] == new_address
            for table, rows in jivosoft["expected"][database].items():
                counted = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608 - our tables
                assert counted == rows, (database, table)
    assert {s.outputs["dump"]["container"] for s in steps} == {"jv-customer-db-weekly-kansas-city"}
    assert {s.outputs["dump"]["key"].rsplit("/", 1)[1] for s in steps} == {"20261129T0600.dump"}
    assert all(s.outputs["rows_checked"] for s in steps)
    assert AuditEvent.objects.filter(action="database.restored").count() == 9
