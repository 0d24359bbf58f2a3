"""The demo history of the seed companies: idempotent, and it shows what losing Dallas costs Jivosoft."""

from __future__ import annotations

from pathlib import Path

from backups import demo, exposure
from backups.models import BackupRecord, PolicyAssetStatus
from drportal.inventory.importer import COMMAND_ACTOR, import_inventory
from drportal.inventory.models import Asset, Zone
from drportal.lib import clock

SEEDS = Path(__file__).resolve().parents[2] / "inventories"


def test_the_demo_history_loads_once_and_tells_the_jivosoft_story(db):
    for name in ("jivosoft.yaml", "cybernance.yaml"):
        import_inventory((SEEDS / name).read_text(), COMMAND_ACTOR, name)
    now = clock.now()
    assert demo.load(now) > 100
    count = BackupRecord.objects.count()
    assert demo.load(now) == 0
    assert BackupRecord.objects.count() == count
    assert PolicyAssetStatus.objects.filter(swept_at__isnull=True).count() == 0
    assert PolicyAssetStatus.objects.filter(freshness="failed").count() == 1
    dallas = Zone.objects.get(region__provider__slug="rackspace", region__slug="dfw", slug="dfw1")
    db = Asset.objects.get(name="jv-db-bexar-dental")
    window = exposure.data_loss_window(db, {dallas.pk}, now)
    # Losing Dallas leaves the weekly Kansas City copy, not the daily dump the plan's promise rests on.
    assert window.location.startswith("rackspace/mci/mci1")
    assert window.policy_name == "jv-customer-db-weekly-kansas-city"
