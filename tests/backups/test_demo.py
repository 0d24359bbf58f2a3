"""The demo history of the seed companies: idempotent, and it shows what losing Dallas costs Jivosoft."""

from __future__ import annotations

from pathlib import Path

import pytest
import time_machine

from backups import demo, exposure
from backups.models import BackupRecord, PolicyAssetStatus
from drportal.inventory.importer import COMMAND_ACTOR, import_inventory
from drportal.inventory.models import Asset, Zone
from drportal.lib import clock

SEEDS = Path(__file__).resolve().parents[2] / "inventories"


# Two starts of the same day: at 22:14 UTC the replay's last 12-hour step reported the failed dump, and failed
# every database's dump of that run with it (a run's id names its policy and time, not its database).
@pytest.mark.parametrize("start", ["2026-12-06T21:40:00Z", "2026-12-06T22:14:00Z"])
def test_the_demo_history_loads_once_and_tells_the_jivosoft_story(db, start):
    for name in ("jivosoft.yaml", "cybernance.yaml"):
        import_inventory((SEEDS / name).read_text(), COMMAND_ACTOR, name)
    with time_machine.travel(start, tick=False):
        now = clock.now()
        tells_the_jivosoft_story(now)


def tells_the_jivosoft_story(now) -> None:
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
