"""The backup_policies section of the seed inventories becomes BackupPolicy rows with their assets."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from backups.models import BackupPolicy, PolicyAssetStatus
from drportal.inventory.importer import COMMAND_ACTOR, import_inventory

SEEDS = Path(__file__).resolve().parents[2] / "inventories"


def test_the_seed_policies_are_stored_with_what_they_protect(db):
    import_inventory((SEEDS / "jivosoft.yaml").read_text(), COMMAND_ACTOR, "jivosoft.yaml")
    import_inventory((SEEDS / "cybernance.yaml").read_text(), COMMAND_ACTOR, "cybernance.yaml")
    daily = BackupPolicy.objects.get(name="jv-customer-db-daily")
    assert (daily.kind, daily.schedule, daily.time_zone, daily.rpo_objective, daily.grace) == (
        "database_dump", "0 4 * * *", "America/Chicago", timedelta(hours=26), timedelta(hours=2))
    assert str(daily.target_region) == "rackspace/dfw"
    assert daily.assets.count() == 9
    assert all(a.customer_id for a in daily.assets.all())
    images = BackupPolicy.objects.get(name="jv-system-images-weekly")
    assert set(images.assets.values_list("kind", flat=True)) == {"server"}
    assert PolicyAssetStatus.objects.filter(dirty=True).count() == PolicyAssetStatus.objects.count() > 0
    assert BackupPolicy.objects.filter(name__startswith="cy").exists()


def test_a_second_import_changes_nothing(db):
    text = (SEEDS / "jivosoft.yaml").read_text()
    import_inventory(text, COMMAND_ACTOR, "jivosoft.yaml")
    pairs = PolicyAssetStatus.objects.count()
    summary = import_inventory(text, COMMAND_ACTOR, "jivosoft.yaml")
    assert summary.startswith("0 created, 0 updated")
    assert PolicyAssetStatus.objects.count() == pairs
