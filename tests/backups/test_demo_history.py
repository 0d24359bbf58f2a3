"""A fresh demo starts with a month of history, and its simulated agents keep it true while make run runs: after
a pause they catch up at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path

import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse

from backups import compliance, demo
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
    days = compliance_history(now, 30)
    assert [day for day, percent in days if percent is None] == []
    assert demo.seed_history(now) == 0  # once only: a demo with records is never replayed again


def test_the_agents_catch_up_after_a_pause_and_the_backups_are_fresh_again(db):
    load_seeds()
    # A fixed start: at some hours the replay used to fail every database's dump with the one failed run.
    start = datetime(2026, 12, 6, 22, 14, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        demo.load(start)
    fresh = PolicyAssetStatus.objects.filter(freshness="ok").count()
    count = BackupRecord.objects.count()
    with time_machine.travel(start + timedelta(days=3), tick=False):
        call_command("demo_agents", "--once", stdout=StringIO())
        assert BackupRecord.objects.count() > count
        newest = BackupRecord.objects.order_by("-completed_at").first().completed_at
        assert newest > start + timedelta(days=2)
        assert PolicyAssetStatus.objects.filter(freshness="ok").count() == fresh


# Late on a Thursday evening (UTC): the day's customer dump ran at 04:00 in Chicago, more than half a day before,
# so the replay's last step already covers the run the demo shows as failed.
THURSDAY_EVENING = datetime(2026, 12, 3, 23, 0, tzinfo=UTC)
THURSDAY_AFTERNOON = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize("moment", [THURSDAY_AFTERNOON, THURSDAY_EVENING])
def test_a_fresh_demo_states_its_thirty_day_compliance_as_a_figure_not_a_provisional_one(moment, client_as):
    with time_machine.travel(moment, tick=False):
        call_command("load_demo", stdout=StringIO())
        report = compliance.report(30, clock.now())
        page = client_as("mona").get(reverse("dashboard")).content.decode()

    assert report.coverage == 1.0  # every second of the period was observed by a (replayed) sweep
    assert report.certified
    assert 0 < report.total.percent < 100  # the unverified copies and the failed dump cost something
    assert f"Backup compliance, last 30 days: {report.total.percent:.2f} %" in page
    assert "provisional" not in page


def test_the_failed_dump_stays_failed_whatever_the_hour_the_demo_starts(db):
    load_seeds()
    with time_machine.travel(THURSDAY_EVENING, tick=False):
        demo.load(clock.now())

    failed = PolicyAssetStatus.objects.get(asset__name="jv-db-alamo-freight", policy__name="jv-customer-db-daily")
    assert failed.freshness == "failed"
    assert BackupRecord.objects.filter(asset__name="jv-db-alamo-freight", outcome="failed").count() == 1
