"""The run and scenario pages' exposure (scenarios.hooks.customer_exposure): one query over the sweep's
off-zone and off-region recovery points, checked against the backups app's exact window per asset."""

from __future__ import annotations

from datetime import timedelta

from backups import exposure, sweep
from drportal.inventory.models import Customer
from scenarios import hooks
from tests.backups.conftest import at, record, world  # noqa: F401 - the backups world, reused

NOW = at("2026-11-21 15:00")


def dallas_dumps_and_kansas_city_copies(w) -> None:
    for day in range(0, 8):
        for db in (w.acme_db, w.zeta_db):
            record(w.daily, db, at("2026-11-21 10:00") - timedelta(days=day), zone=w.dfw1)
    for sunday in ("2026-11-15 11:00", "2026-11-08 11:00"):
        for db in (w.acme_db, w.zeta_db):
            record(w.weekly, db, at(sunday), zone=w.mci1)
    sweep.sweep(NOW)


def test_losing_dallas_agrees_with_the_exact_window_of_each_customer(world):  # noqa: F811
    dallas_dumps_and_kansas_city_copies(world)
    rows = hooks.customer_exposure({world.dfw1.pk}, NOW)
    exact = exposure.data_loss_window(world.acme_db, {world.dfw1.pk}, NOW)
    assert [r["customer"] for r in rows] == ["Acme Dental", "Zeta Clinics"]
    assert rows[0]["seconds_lost"] == exact.seconds_lost == (NOW - at("2026-11-15 11:00")).total_seconds()
    assert rows[0]["breaches"] is exact.breaches_objective is True
    assert rows.total == 2


def test_losing_a_zone_where_no_customer_data_runs_lists_nobody(world):  # noqa: F811
    dallas_dumps_and_kansas_city_copies(world)
    assert hooks.customer_exposure({world.mci1.pk}, NOW) == []


def test_without_a_copy_outside_the_lost_zone_everything_is_lost(world):  # noqa: F811
    record(world.daily, world.acme_db, at("2026-11-21 10:00"), zone=world.dfw1)
    sweep.sweep(NOW)
    [acme, _zeta] = hooks.customer_exposure({world.dfw1.pk}, NOW)
    assert (acme["customer"], acme["seconds_lost"], acme["lost"]) == ("Acme Dental", None,
                                                                       "everything (no surviving copy)")


def test_a_standby_outside_the_lost_zone_loses_nothing(world):  # noqa: F811
    world.rds.metadata = {"multi_az": True, "standby_zone": "us-east-1b"}
    world.rds.customer = world.acme
    world.rds.save()
    sweep.sweep(NOW)
    [row] = hooks.customer_exposure({world.use1a.pk}, NOW)
    assert (row["customer"], row["seconds_lost"]) == ("Acme Dental", 0.0)
    [lost] = hooks.customer_exposure({world.use1a.pk, world.use1b.pk}, NOW)
    assert lost["seconds_lost"] is None


def test_only_the_worst_customers_are_listed_and_all_are_counted(world):  # noqa: F811
    dallas_dumps_and_kansas_city_copies(world)
    rows = hooks.customer_exposure({world.dfw1.pk}, NOW, limit=1)
    assert [r["customer"] for r in rows] == ["Acme Dental"]
    assert rows.total == 2


def test_a_service_narrows_the_customers(world):  # noqa: F811
    dallas_dumps_and_kansas_city_copies(world)
    rows = hooks.customer_exposure({world.dfw1.pk}, NOW, Customer.objects.filter(slug="zeta"))
    assert [r["customer"] for r in rows] == ["Zeta Clinics"]
