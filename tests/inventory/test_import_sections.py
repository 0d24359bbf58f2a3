"""Pluggable sections: backup_policies is shape-checked by the core (the schema) and checked and stored by the handler
an app registers (backups/inventory_section.py)."""

from __future__ import annotations

import pytest

from drportal.inventory import importer, section
from drportal.inventory.importer import COMMAND_ACTOR, InventoryError, Section, import_inventory, register_section
from drportal.inventory.models import ExternalContact, Server
from tests.inventory.conftest import census, line_of


def test_without_a_handler_policies_are_checked_but_not_stored(db, jivosoft_text, monkeypatch):
    monkeypatch.delitem(importer.SECTIONS, "backup_policies", raising=False)  # the backups app registers one
    summary = import_inventory(jivosoft_text, COMMAND_ACTOR, "jivosoft.yaml")
    assert summary.endswith("; 3 backup_policies checked but not stored (no handler registered yet)")


@pytest.fixture
def handler(monkeypatch, db):
    """A stand-in for backups/inventory_section.py that stores each policy as a row through the writer
    (ExternalContact is only a convenient real table here), so counts, audit and rollback are the real ones."""
    seen: list[tuple[tuple, str]] = []

    def apply(ctx, items):
        for path, policy in items:
            seen.append((path, policy["name"]))
            change = ctx.writer.upsert(
                ExternalContact, {"kind": "other", "organisation": policy["name"]},
                {"notes": policy["schedule"], "email": f"{policy['name']}@policies.example"},
                path, {"notes": "schedule", "email": "name"},
            )
            ctx.writer.commit(change, ctx.note)

    monkeypatch.setitem(importer.SECTIONS, "backup_policies", Section("backup_policies", apply))
    return seen


def test_a_registered_handler_stores_policies_with_counts_and_audit(handler, jivosoft_text):
    summary = import_inventory(jivosoft_text, COMMAND_ACTOR, "jivosoft.yaml")
    assert summary == "83 created, 0 updated, 0 unchanged"
    assert [name for _, name in handler] == [
        "jv-customer-db-daily", "jv-customer-db-weekly-kansas-city", "jv-system-images-weekly"
    ]
    assert handler[0][0] == ("backup_policies", 0)
    assert ExternalContact.objects.get(organisation="jv-customer-db-daily").notes == "0 4 * * *"
    assert import_inventory(jivosoft_text, COMMAND_ACTOR).startswith("0 created, 0 updated, 83 unchanged")


def test_a_handler_refusing_a_value_rolls_back_the_whole_document(handler, jivosoft_text):
    # The stand-in's model refuses a name that makes no email address; the core sections were written by then.
    text = jivosoft_text.replace("- name: jv-system-images-weekly", "- name: jv system images")
    before = census()
    with pytest.raises(InventoryError) as caught:
        import_inventory(text, COMMAND_ACTOR, "jv.yaml")
    line = line_of(text, "jv system images")
    assert caught.value.errors == [f"jv.yaml:{line} backup_policies[2].name: Enter a valid email address."]
    assert census() == before
    assert not Server.objects.exists()


def test_a_handler_can_add_its_own_checks(monkeypatch, db, jivosoft_text):
    def validate(doc, items):
        for path, policy in items:
            if policy["kind"] == "system_image":
                doc.error((*path, "kind"), "system images are not supported here")

    monkeypatch.setitem(importer.SECTIONS, "backup_policies", Section("backup_policies", lambda c, i: None, validate))
    with pytest.raises(InventoryError) as caught:
        import_inventory(jivosoft_text, COMMAND_ACTOR, "jv.yaml")
    line = line_of(jivosoft_text, "kind: system_image")
    assert caught.value.errors == [f"jv.yaml:{line} backup_policies[2].kind: system images are not supported here"]
    assert not Server.objects.exists()


def test_only_known_sections_can_be_registered():
    with pytest.raises(ValueError, match="not a pluggable section"):
        register_section(Section("servers", lambda c, i: None))


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('schedule: "0 4 * * *"', 'schedule: "0 25 * * *"',
         "backup_policies[0].schedule: '0 25 * * *' is not a five-field cron expression"),
        ('schedule: "0 4 * * *"', 'schedule: "@daily"',
         "backup_policies[0].schedule: '@daily' is not a five-field cron expression"),
        ("time_zone: America/Chicago", "time_zone: Mars/Olympus",
         "backup_policies[0].time_zone: unknown time zone 'Mars/Olympus'"),
        ("customers: [jv-alamo-freight,", "customers: [jv-nobody,",
         "backup_policies[0].protects.customers[0]: unknown customer 'jv-nobody'"),
        ("servers: [jv-web1, jv-web2, jv-api1, jv-reports1", "servers: [jv-web9, jv-web2, jv-api1, jv-reports1",
         "backup_policies[2].protects.servers[0]: unknown server 'jv-web9'"),
        # The policy's own location (databases name their dump regions the same way, earlier in the file).
        ("location: {rule: named_region, region: rackspace/dfw}",
         "location: {rule: named_region, region: rackspace/ord}",
         "backup_policies[0].location.region: unknown region 'rackspace/ord'"),
        ("rpo: 26h", "rpo: 26 hours", "backup_policies[0].rpo: '26 hours' is not a duration"),
        ("kind: file_copy", "kind: tape", "backup_policies[1].kind: unknown kind 'tape'"),
        ("location: {rule: offsite_region}\n    verify_within: 90d",
         "location: {rule: offsite_region, region: rackspace/mci}\n    verify_within: 90d",
         "backup_policies[1].location.region: only a location with rule 'named_region' takes a region"),
    ],
)
def test_bad_policies_are_refused_naming_line_and_field(db, jivosoft_text, old, new, message):
    assert old in jivosoft_text
    text = jivosoft_text.replace(old, new, 1)
    with pytest.raises(InventoryError) as caught:
        import_inventory(text, COMMAND_ACTOR, "jv.yaml")
    line = line_of(text, new.splitlines()[0])
    assert any(e.startswith(f"jv.yaml:{line} {message}") for e in caught.value.errors), caught.value.errors
    assert not Server.objects.exists()


def test_the_inventory_registers_its_own_sections_at_start_up_in_the_order_they_are_written():
    assert [s.name for s in section.ordered()] == [
        "locations", "servers", "customers", "assets", "services", "customer_links", "people", "backup_policies"
    ]


def test_an_import_refuses_to_start_when_a_core_section_is_missing_and_writes_nothing(db, jivosoft_text, monkeypatch):
    monkeypatch.delitem(importer.SECTIONS, "assets")
    before = census()
    with pytest.raises(RuntimeError, match="sections assets are not registered"):
        import_inventory(jivosoft_text, COMMAND_ACTOR, "jv.yaml")
    assert census() == before
    assert not Server.objects.exists()


def test_a_core_section_cannot_be_registered_under_a_name_the_driver_does_not_order():
    with pytest.raises(ValueError, match="'backup_policies' is not a core section"):
        register_section(Section("backup_policies", lambda c, i: None), core=True)


def test_two_problems_on_one_line_are_listed_in_the_order_they_were_before_the_split(db):
    # A flow-style customer: its database's unknown server (the assets' check) comes before its unknown service
    # (the customers' check), as when one function checked everything.
    text = ("version: 1\ncustomers:\n"
            "  - {slug: c1, name: C1, services: [nope], databases: [{name: c1-db, server: nowhere}]}\n")
    with pytest.raises(InventoryError) as caught:
        import_inventory(text, COMMAND_ACTOR, "c.yaml")
    assert caught.value.errors == [
        "c.yaml:3 customers[0].databases[0].server: unknown server 'nowhere'",
        "c.yaml:3 customers[0].services[0]: unknown service 'nope'",
    ]
