"""The registry of the inventory document's sections (docs/inventory.md), filled at start-up by the apps that own
their models: the inventory's own (sections/, registered by drportal/inventory/apps.py) and the pluggable ones
(backups/inventory_section.py). The importer (importer.py) only parses, orders them, and wraps one transaction,
so it never imports a feature app.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from drportal.inventory.document import Document, Path
from drportal.inventory.writer import Context

Items = list[tuple[Path, dict[str, Any]]]


@dataclass
class Section:
    """One part of the document and the code that owns it. `validate` runs in the check pass, with the document's
    catalog of names at doc.catalog (report problems with doc.error(path, message)); `apply` runs inside the
    import's transaction and writes through ctx.writer (upsert / set_m2m / commit) so counts, audit records and
    rollback work alike for every section. Both get the section's items (path, item); a core section whose name is
    not a key of the document gets none and reads what it needs from doc / ctx.doc."""

    name: str
    apply: Callable[[Context, Items], None]
    validate: Callable[[Document, Items], None] | None = None


SECTIONS: dict[str, Section] = {}

# The inventory's own sections, in the order they are written: each needs the objects of the ones
# before. Customers come before assets (a customer's databases are assets) and are linked to their services
# (customer_links) once those exist, so that each customer is audited once.
CORE = ("locations", "servers", "customers", "assets", "services", "customer_links", "people")
# The checks read only the document and the database, so their order decides nothing but which of two problems
# on one line (a flow-style mapping) is listed first: kept as it was before the split, assets before customers.
CHECK_ORDER = ("locations", "servers", "assets", "customers", "services", "customer_links", "people")
# Sections the schema accepts whose handler an app registers; until it does they are checked, not stored.
PLUGGABLE = ("backup_policies",)


def register_section(section: Section, core: bool = False) -> None:
    if section.name not in (CORE if core else PLUGGABLE):
        kind = "core" if core else "pluggable"
        raise ValueError(f"{section.name!r} is not a {kind} section of the inventory document")
    SECTIONS[section.name] = section


def ordered(*, checks: bool = False) -> list[Section]:
    """The registered sections, core first, in the order they are written (or, with `checks`, checked)."""
    missing = [name for name in CORE if name not in SECTIONS]
    if missing:
        # Without them the import would silently store half a document.
        raise RuntimeError(f"the inventory's sections {', '.join(missing)} are not registered (InventoryConfig.ready)")
    return [SECTIONS[name] for name in (*(CHECK_ORDER if checks else CORE), *PLUGGABLE) if name in SECTIONS]
