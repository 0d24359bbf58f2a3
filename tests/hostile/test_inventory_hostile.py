"""Inventory documents as an attacker writes them (issue 13): a list far beyond any real inventory, and one
organisation's document naming another organisation's server. Both were accepted before."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from drportal.audit.models import AuditEvent
from drportal.inventory.importer import COMMAND_ACTOR, InventoryError, import_inventory
from drportal.inventory.models import Server
from tests.inventory.conftest import census

PROVIDER = """\
providers:
  - slug: rackspace
    name: Rackspace
    kind: rackspace
    regions:
      - slug: dfw
        name: Dallas
        zones: [{slug: dfw1, name: Dallas data center}]
      - slug: mci
        name: Kansas City
        zones: [{slug: mci1, name: Kansas City data center}]
"""


def document(organisation: str, servers: str) -> str:
    return f"version: 1\norganisation: {organisation}\n{PROVIDER}servers:\n{servers}"


JV_DB1 = "  - {name: jv-db1, role: database, zone: rackspace/dfw/dfw1}\n"
MOVED = "  - {name: jv-db1, role: application, zone: rackspace/mci/mci1}\n"


def test_fifty_thousand_public_ips_for_one_server_are_refused_naming_the_list(db):
    ips = ", ".join(f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}" for i in range(50_000))
    text = document("Jivosoft", f"  - {{name: jv-web1, role: application, zone: rackspace/dfw/dfw1, "
                                f"public_ips: [{ips}]}}\n")
    with pytest.raises(InventoryError) as refused:
        import_inventory(text, COMMAND_ACTOR, "jivosoft.yaml")
    assert any("servers[0].public_ips" in e and "at most 64" in e for e in refused.value.errors)
    assert not Server.objects.exists()


def test_a_list_at_its_documented_maximum_is_accepted(db):
    ips = ", ".join(f"10.0.0.{i}" for i in range(1, 65))
    text = document("Jivosoft", f"  - {{name: jv-web1, role: application, zone: rackspace/dfw/dfw1, "
                                f"public_ips: [{ips}]}}\n")
    import_inventory(text, COMMAND_ACTOR, "jivosoft.yaml")
    assert len(Server.objects.get().public_ips) == 64


def test_every_list_of_the_schema_has_a_maximum_and_the_docs_name_it():
    from pathlib import Path

    from drportal.inventory.schema import SCHEMA

    def lists(node, path="$"):
        if isinstance(node, dict):
            if node.get("type") == "array":
                yield path, node
            for key, value in node.items():
                yield from lists(value, f"{path}.{key}")

    unbounded = [path for path, node in lists(SCHEMA) if "maxItems" not in node]
    assert unbounded == []
    docs = (Path(__file__).resolve().parents[2] / "docs" / "inventory.md").read_text()
    assert "## Limits" in docs
    assert "| `servers[].public_ips[]` | 64 |" in docs


def test_another_organisations_document_cannot_move_its_server(db):
    import_inventory(document("Jivosoft", JV_DB1), COMMAND_ACTOR, "jivosoft.yaml")
    before = census()
    with pytest.raises(InventoryError) as refused:
        import_inventory(document("Cybernance Corporation", MOVED), COMMAND_ACTOR, "cybernance.yaml")
    [error] = [e for e in refused.value.errors if "jv-db1" in e]
    line = len(document("Cybernance Corporation", MOVED).splitlines())
    assert error.startswith(f"cybernance.yaml:{line} servers[0]: server 'jv-db1' belongs to the inventory of "
                            f"Jivosoft; this document (Cybernance Corporation) would change its role, zone")
    assert "adopt option" in error
    assert census() == before
    assert Server.objects.get().role == "database"


def test_naming_another_organisations_server_unchanged_is_allowed(db):
    import_inventory(document("Jivosoft", JV_DB1), COMMAND_ACTOR, "jivosoft.yaml")
    summary = import_inventory(document("Cybernance Corporation", JV_DB1), COMMAND_ACTOR, "cybernance.yaml")
    assert "0 updated" in summary


def test_the_owner_may_change_its_own_server(db):
    import_inventory(document("Jivosoft", JV_DB1), COMMAND_ACTOR, "jivosoft.yaml")
    import_inventory(document("Jivosoft", MOVED), COMMAND_ACTOR, "jivosoft.yaml")
    assert Server.objects.get().role == "application"


def test_adopting_moves_the_server_and_says_so_in_the_audit_log(db):
    import_inventory(document("Jivosoft", JV_DB1), COMMAND_ACTOR, "jivosoft.yaml")
    import_inventory(document("Cybernance Corporation", MOVED), COMMAND_ACTOR, "cybernance.yaml", adopt=True)
    assert Server.objects.get().zone.region.slug == "mci"
    event = AuditEvent.objects.filter(action="inventory.server.updated").get()
    assert "adopted from Jivosoft" in event.note
    # Adopted for good: the former owner's document may no longer change it.
    with pytest.raises(InventoryError):
        import_inventory(document("Jivosoft", JV_DB1), COMMAND_ACTOR, "jivosoft.yaml")


def test_the_command_refuses_the_move_and_offers_the_adopt_option(db, tmp_path, capsys):
    import_inventory(document("Jivosoft", JV_DB1), COMMAND_ACTOR, "jivosoft.yaml")
    path = tmp_path / "cybernance.yaml"
    path.write_text(document("Cybernance Corporation", MOVED))
    with pytest.raises(CommandError):
        call_command("import_inventory", str(path))
    assert "--adopt" in capsys.readouterr().err
    call_command("import_inventory", "--adopt", str(path))
    assert Server.objects.get().role == "application"


def test_the_upload_page_refuses_the_move_unless_adopt_is_ticked(client_as, db):
    from django.core.files.uploadedfile import SimpleUploadedFile

    import_inventory(document("Jivosoft", JV_DB1), COMMAND_ACTOR, "jivosoft.yaml")
    client = client_as("ada")
    upload = SimpleUploadedFile("cybernance.yaml", document("Cybernance Corporation", MOVED).encode())
    response = client.post("/inventory/import/", {"document": upload})
    assert "Jivosoft" in response.content.decode()
    assert Server.objects.get().role == "database"
    upload = SimpleUploadedFile("cybernance.yaml", document("Cybernance Corporation", MOVED).encode())
    client.post("/inventory/import/", {"document": upload, "adopt": "on"})
    assert Server.objects.get().role == "application"
