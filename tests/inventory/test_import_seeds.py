from __future__ import annotations

import pytest

from drportal.audit.models import AuditEvent
from drportal.inventory.choices import AssetKind
from drportal.inventory.importer import COMMAND_ACTOR, import_inventory
from drportal.inventory.models import Asset, Customer, Person, ProviderAccount, Server, Service, Zone
from tests.inventory.conftest import census


@pytest.fixture
def both(db, jivosoft_text, cybernance_text) -> tuple[str, str]:
    return (
        import_inventory(jivosoft_text, COMMAND_ACTOR, "jivosoft.yaml"),
        import_inventory(cybernance_text, COMMAND_ACTOR, "cybernance.yaml"),
    )


def test_both_seeds_import_side_by_side(both):
    assert both[0].startswith("83 created, 0 updated, 0 unchanged")
    assert both[1].startswith("38 created, 0 updated, 0 unchanged")
    assert Server.objects.filter(zone__region__provider__slug="rackspace").count() == 7
    assert Server.objects.filter(zone__region__provider__slug="aws").count() == 3
    assert sorted(str(z) for z in Zone.objects.all()) == [
        "aws/us-east-1/us-east-1a", "aws/us-east-1/us-east-1b", "aws/us-east-1/us-east-1c",
        "rackspace/dfw/dfw1", "rackspace/mci/mci1",
    ]


def test_all_jivosoft_servers_are_in_dallas(both):
    regions = set(Server.objects.filter(name__startswith="jv-").values_list("zone__region__slug", flat=True))
    assert regions == {"dfw"}


def test_cybernance_app_servers_are_stateless_in_three_zones(both):
    apps = Server.objects.filter(name__startswith="cyb-app")
    assert all(s.stateless for s in apps)
    assert {s.zone.slug for s in apps} == {"us-east-1a", "us-east-1b", "us-east-1c"}


def test_every_server_has_an_asset_of_kind_server(both):
    for server in Server.objects.all():
        assert server.assets.filter(kind=AssetKind.SERVER, name=server.name).count() == 1


def test_customer_databases_sit_on_database_servers(both):
    dbs = Asset.objects.filter(kind=AssetKind.DATABASE).select_related("server", "customer")
    assert dbs.count() == 10
    assert {d.server.role for d in dbs} == {"database"}
    alamo = Customer.objects.get(slug="jv-alamo-freight")
    assert [a.name for a in alamo.assets.all()] == ["jv-db-alamo-freight"]
    assert sorted(s.slug for s in alamo.services.all()) == ["jv-online", "jv-reports"]
    assert {c.purpose for c in alamo.contacts.all()} == {"outage", "billing", "executive"}


def test_managed_assets_keep_their_zone_and_mirrors(both):
    rds = Asset.objects.get(name="cyb-rds-prod")
    assert (rds.kind, rds.current_zone.slug, rds.metadata["multi_az"]) == ("managed_database", "us-east-1a", True)
    assert Asset.objects.get(name="cyb-redis-2").mirror_of.name == "cyb-redis-1"
    assert Asset.objects.filter(mirror_of__name="cyb-platform-code").count() == 2
    platform = Service.objects.get(slug="cyb-platform")
    assert sorted(a.name for a in platform.assets.all()) == ["cyb-rds-prod", "cyb-redis-1", "cyb-redis-2"]


def test_accounts_hold_only_environment_variable_names(both):
    account = ProviderAccount.objects.get(name="jivosoft-rackspace")
    assert account.credentials_env == {"key": "JIVOSOFT_RACKSPACE_USERNAME", "secret": "JIVOSOFT_RACKSPACE_API_KEY"}
    assert account.credentials_encrypted == ""


def test_key_personnel_have_a_forwarding_order(both):
    order = list(Person.objects.filter(call_forwarding_order__isnull=False)
                 .order_by("call_forwarding_order").values_list("call_forwarding_order", "is_key_personnel"))
    assert order == [(1, True), (2, True), (3, True), (4, True)]


def test_there_is_one_audit_record_per_created_object(both):
    assert AuditEvent.objects.filter(action__endswith=".created").exclude(
        actor_label__startswith="migration ").count() == 83 + 38  # not the default alert rules of a fresh install
    assert AuditEvent.objects.filter(actor_label=COMMAND_ACTOR).count() == 83 + 38


def test_reimport_changes_nothing(both, jivosoft_text, cybernance_text):
    before = census()
    summary = import_inventory(jivosoft_text, COMMAND_ACTOR, "jivosoft.yaml")
    assert summary.startswith("0 created, 0 updated, 83 unchanged")
    assert import_inventory(cybernance_text, COMMAND_ACTOR, "cybernance.yaml").startswith("0 created, 0 updated, 38")
    assert census() == before


def test_a_changed_field_updates_in_place_with_one_audit_record(both, jivosoft_text):
    server = Server.objects.get(name="jv-web1")
    before = census()
    changed = jivosoft_text.replace("size: 4 GB General Purpose v1\n    public_ips: [203.0.113.21]",
                                    "size: 8 GB General Purpose v1\n    public_ips: [203.0.113.21]")
    assert import_inventory(changed, "ada", "jivosoft.yaml").startswith("0 created, 1 updated, 82 unchanged")
    after = census()
    assert after.pop("AuditEvent") == before.pop("AuditEvent") + 1
    assert after == before
    server.refresh_from_db()
    assert server.size == "8 GB General Purpose v1"
    event = AuditEvent.objects.get(action="inventory.server.updated")
    assert (event.before, event.after, event.object_id) == (
        {"size": "4 GB General Purpose v1"}, {"size": "8 GB General Purpose v1"}, str(server.pk)
    )


def test_fields_the_document_omits_keep_what_discovery_wrote(both, jivosoft_text):
    Server.objects.filter(name="jv-db1").update(provider_node_id="0f3a-node", status="down")
    assert import_inventory(jivosoft_text, COMMAND_ACTOR, "jivosoft.yaml").startswith("0 created, 0 updated")
    assert Server.objects.filter(name="jv-db1", provider_node_id="0f3a-node", status="down").exists()


def test_moving_a_server_to_kansas_city_is_one_update(both, jivosoft_text):
    moved = jivosoft_text.replace("name: jv-db3\n    role: database\n    zone: rackspace/dfw/dfw1",
                                  "name: jv-db3\n    role: database\n    zone: rackspace/mci/mci1")
    assert import_inventory(moved, COMMAND_ACTOR, "jivosoft.yaml").startswith("0 created, 1 updated")
    event = AuditEvent.objects.get(action="inventory.server.updated")
    assert (event.before, event.after) == ({"zone": "rackspace/dfw/dfw1"}, {"zone": "rackspace/mci/mci1"})


def test_a_contact_dropped_from_the_document_is_removed_and_audited(both, jivosoft_text):
    dropped = jivosoft_text.replace(
        "      - {purpose: billing, name: Accounts Payable, email: ap@alamofreight.example}\n", ""
    )
    summary = import_inventory(dropped, COMMAND_ACTOR, "jivosoft.yaml")
    assert summary.startswith("0 created, 0 updated, 82 unchanged, 1 removed")
    assert not Customer.objects.get(slug="jv-alamo-freight").contacts.filter(purpose="billing").exists()
    assert AuditEvent.objects.filter(action="inventory.customercontact.removed").count() == 1


def test_a_service_dropped_from_a_customer_is_one_update(both, jivosoft_text):
    changed = jivosoft_text.replace(
        "name: Alamo Freight Lines\n    tier: enterprise\n    services: [jv-online, jv-reports]",
        "name: Alamo Freight Lines\n    tier: enterprise\n    services: [jv-online]",
    )
    assert import_inventory(changed, COMMAND_ACTOR, "jivosoft.yaml").startswith("0 created, 1 updated")
    event = AuditEvent.objects.get(action="inventory.customer.updated")
    assert event.after == {"services": ["Jivosoft Online (SaaS)"]}


def test_ipv6_addresses_are_stored_compressed_and_reimport_stays_a_no_op(db):
    doc = """
version: 1
providers: [{slug: p, name: P, kind: other, regions: [{slug: r, name: R, zones: [{slug: z, name: Z}]}]}]
servers: [{name: v6host, role: other, zone: p/r/z, public_ips: ["2001:DB8:0:0:0:0:0:1"]}]
"""
    assert import_inventory(doc, COMMAND_ACTOR).startswith("5 created")
    assert Server.objects.get(name="v6host").public_ips == ["2001:db8::1"]
    assert import_inventory(doc, COMMAND_ACTOR).startswith("0 created, 0 updated, 5 unchanged")
