"""Inventory as a document: one YAML file in, the whole inventory updated in place (docs/inventory.md).

This module is the driver; the work is in the sections, each in the app that owns its models (section.py's
registry: the inventory's own in sections/, backup policies in backups/inventory_section.py). Three passes, so
that a bad document is rejected whole:
1. parse: the YAML into data where every value knows its line, and the JSON Schema (document.py);
2. check: each section's references, duplicates and the models' own field validators against the document's
   catalog of names (catalog.py) and the database, all before anything is written;
3. write: every section in order in one transaction, each object updated in place by its natural key and
   `full_clean()`ed before it is saved (writer.py); any error raised in here rolls the whole document back.
Errors from every pass are collected with their line and field and raised together (Document.raise_if_errors).
"""

from __future__ import annotations

import zlib
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db import DatabaseError, connection, transaction

from drportal.inventory import section as sections
from drportal.inventory.catalog import Catalog
from drportal.inventory.document import Document, InventoryError, check_shape, parse, parse_duration
from drportal.inventory.section import PLUGGABLE, SECTIONS, Section, register_section
from drportal.inventory.writer import Context, Writer

# The names callers and section handlers import from here.
__all__ = ["COMMAND_ACTOR", "SECTIONS", "InventoryError", "Section", "check_meaning", "check_shape",
           "import_inventory", "parse", "parse_duration", "register_section"]

COMMAND_ACTOR = "command:import_inventory"
# One import at a time: two concurrent imports of the same document would both create the same rows.
_LOCK_KEY = zlib.crc32(b"drportal.inventory.import")


def check_meaning(doc: Document) -> None:
    """References, duplicates and field validators, against the document and the database. Read-only."""
    doc.catalog = Catalog(doc)
    for section in sections.ordered(checks=True):
        if section.validate and (section.name not in PLUGGABLE or doc.data.get(section.name)):
            section.validate(doc, list(doc.items(section.name)))
    doc.raise_if_errors()


def import_inventory(text: str, actor: Any, source: str = "<document>", adopt: bool = False) -> str:
    """Apply one inventory document whole, or raise InventoryError with every problem (line and field)
    and write nothing. Returns a summary like "12 created, 3 updated, 40 unchanged". Objects another
    organisation's document owns are changed only with `adopt`, which makes them this organisation's."""
    doc = check_shape(text, source)
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])
            check_meaning(doc)
            ctx = Context(doc, Writer(doc, actor, adopt=adopt))
            # Each section needs the objects of the ones before; a refused object stops the import after its
            # section.
            for section in sections.ordered():
                if section.name not in PLUGGABLE or doc.data.get(section.name):
                    section.apply(ctx, list(doc.items(section.name)))
                    doc.raise_if_errors()
            ctx.writer.flush()
    except DatabaseError as exc:
        # A constraint the checks did not foresee: the transaction is rolled back, the document refused.
        raise InventoryError([f"{source}: the database refused the document ({type(exc).__name__}): "
                              f"{(str(exc).splitlines() or [''])[0][:200]}"]) from exc
    except ObjectDoesNotExist as exc:
        # A referenced row deleted by someone else between the check and the write (the lock covers imports
        # only): rolled back like any other refusal.
        raise InventoryError([f"{source}: a referenced object disappeared during the import: {exc}"]) from exc
    counts = ctx.writer.counts
    summary = f"{counts['created']} created, {counts['updated']} updated, {counts['unchanged']} unchanged"
    if counts["removed"]:
        summary += f", {counts['removed']} removed"
    pending = [n for n in PLUGGABLE if doc.data.get(n) and n not in SECTIONS]
    for name in pending:
        summary += f"; {len(doc.data[name])} {name} checked but not stored (no handler registered yet)"
    return summary
