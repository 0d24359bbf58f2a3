"""A fresh demo starts with a month of history, and its simulated agents keep it true while make run runs: after
a pause they catch up at once."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from pathlib import Path

import time_machine
from django.core.management import call_command

from backups import demo
from backups.models import BackupRecord, PolicyAssetStatus
from drportal.front.dashboard import compliance_history
from drportal.inventory.importer import COMMAND_ACTOR, import_inventory
from drportal.lib import clock

SEEDS = Path(__file__).resolve().parents[2] / "inventories"


def load_seeds() -> None:
    for name in ("jivosoft.yaml", "cybernance.yaml"):
        import_inventory((SEEDS / name).read_text(), COMMAND_ACTOR, name)


def test_a_fresh_demo_has_thirty_days_of_compliance_to_chart(db):
    load_seeds()
    now = clock.now()
    demo.load(now)
    days = compliance_history(now.date(), 30)
    assert [day for day, percent in days if percent is None] == []
    assert demo.seed_history(now) == 0  # once only: a demo with records is never replayed again


def test_the_agents_catch_up_after_a_pause_and_the_backups_are_fresh_again(db):
    load_seeds()
    start = clock.now()
    demo.load(start)
    fresh = PolicyAssetStatus.objects.filter(freshness="ok").count()
    count = BackupRecord.objects.count()
    with time_machine.travel(start + timedelta(days=3), tick=False):
        call_command("demo_agents", "--once", stdout=StringIO())
        assert BackupRecord.objects.count() > count
        newest = BackupRecord.objects.order_by("-completed_at").first().completed_at
        assert newest > start + timedelta(days=2)
        assert PolicyAssetStatus.objects.filter(freshness="ok").count() == fresh
