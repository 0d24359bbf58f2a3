"""The inventory document's core sections, one module each: its checks (meaning, against the document's catalog
and the database) and its write (upsert by natural key through the Writer). Registered at start-up by
InventoryConfig.ready(), in section.CORE's order, the way backups registers backup_policies."""

from __future__ import annotations

from drportal.inventory.section import Section, register_section
from drportal.inventory.sections import assets, customers, locations, people, servers, services


def register() -> None:
    for section in (
        Section("locations", locations.write, locations.check),
        Section("servers", servers.write, servers.check),
        Section("customers", customers.write, customers.check),
        Section("assets", assets.write, assets.check),
        Section("services", services.write, services.check),
        Section("customer_links", customers.link),
        Section("people", people.write, people.check),
    ):
        register_section(section, core=True)
