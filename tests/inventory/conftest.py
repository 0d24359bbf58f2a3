"""Fixtures for the inventory importer: the seed documents and a census of every table it writes."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.apps import apps

from drportal.audit.models import AuditEvent
from drportal.inventory import models as m

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT / "inventories"


def census() -> dict[str, int]:
    """Row counts of every table an import touches, plus the audit log."""
    tables = [m.Provider, m.Region, m.Zone, m.ProviderAccount, m.Server, m.Asset, m.Service, m.Customer,
              m.CustomerContact, m.Office, m.Person, m.ExternalContact, AuditEvent]
    # What registered sections write (backups/inventory_section.py stores the policies).
    tables += [apps.get_model("backups", name) for name in ("BackupPolicy", "PolicyAssetStatus")]
    counts = {model.__name__: model.objects.count() for model in tables}
    # The default rows a fresh install's data migrations make (opsapi's default alert rules) come with their
    # audit events; they are not the import's.
    counts["AuditEvent"] = AuditEvent.objects.exclude(actor_label__startswith="migration ").count()
    return counts


@pytest.fixture
def jivosoft_text() -> str:
    return (SEEDS / "jivosoft.yaml").read_text()


@pytest.fixture
def cybernance_text() -> str:
    return (SEEDS / "cybernance.yaml").read_text()


def line_of(text: str, marker: str) -> int:
    """1-based line of the first line containing marker (so tests do not hard-code line numbers)."""
    for number, line in enumerate(text.splitlines(), start=1):
        if marker in line:
            return number
    raise AssertionError(f"{marker!r} is not in the document")
