"""GET /metrics: the stored statuses in the Prometheus format, behind a bearer token of its own."""

from __future__ import annotations

import math
from datetime import timedelta

import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from drportal.lib import clock
from notifications.models import Delivery, StaffPage
from tests.backups.conftest import at, record
from tests.metrics.conftest import NOW, TOKEN, sample, scrape


def test_it_states_each_pairs_recovery_point_age_and_objective(swept, client):
    families = scrape(client)
    age = sample(families, "drportal_backup_recovery_point_age_seconds",
                 policy="Daily database dumps (Dallas)", asset="acme-db")
    assert age == timedelta(hours=5).total_seconds()  # 10:00 to 15:00
    assert sample(families, "drportal_backup_rpo_objective_seconds",
                  policy="Daily database dumps (Dallas)") == timedelta(hours=26).total_seconds()


def test_a_pair_never_backed_up_is_infinitely_old_and_says_breached(swept, client):
    families = scrape(client)
    assert sample(families, "drportal_backup_recovery_point_age_seconds", asset="zeta-db",
                  policy="Daily database dumps (Dallas)", freshness="never", rpo="breached") == math.inf


def test_it_states_off_site_state_as_the_sweep_stored_it(swept, client):
    families = scrape(client)
    assert sample(families, "drportal_backup_recovery_point_age_seconds", asset="acme-db",
                  policy="Weekly database copies (Kansas City)", offsite="ok", rpo="ok") == timedelta(
                      days=6, hours=4).total_seconds()  # 15 Nov 11:00 to 21 Nov 15:00
    assert sample(families, "drportal_backup_recovery_point_age_seconds", asset="zeta-db",
                  policy="Weekly database copies (Kansas City)", offsite="missing") == math.inf


def test_it_counts_exposure_per_region_and_tier(swept, client):
    families = scrape(client)
    dallas = [s for s in families["drportal_exposure_pairs_by_region"] if s.labels["region"] == "Dallas"]
    assert sum(s.value for s in dallas) == 5  # acme and zeta under two policies, db1's image
    assert sample(families, "drportal_exposure_pairs_by_tier", tier="standard", overall="bad") == 2


def test_it_counts_deliveries_by_channel_and_state(swept, client):
    page = StaffPage.objects.create(dedupe_key="t", subject="s", body="b", created_at=clock.now())
    Delivery.objects.create(page=page, channel="email", address="a@example.test", state="failed", subject="s",
                            body_text="b", created_at=clock.now())
    Delivery.objects.create(page=page, channel="email", address="b@example.test", subject="s", body_text="b",
                            created_at=clock.now())
    families = scrape(client)
    assert sample(families, "drportal_deliveries", channel="email", state="failed") == 1
    assert sample(families, "drportal_deliveries", channel="email", state="queued") == 1


def test_it_counts_the_records_received_in_the_last_five_minutes(swept, client):
    with time_machine.travel(NOW - timedelta(minutes=5, seconds=1), tick=False):  # just outside the window
        record(swept.daily, swept.zeta_db, at("2026-11-20 10:00"), zone=swept.dfw1)
    families = scrape(client)
    assert sample(families, "drportal_backup_records_last_5m", source="agent", outcome="succeeded") == 2
    assert sample(families, "drportal_backup_unmatched_objects") == 0


def test_its_query_count_does_not_grow_with_the_assets(swept, client):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            scrape(client)
        return len(captured)

    before = queries()
    from drportal.inventory.models import Asset

    swept.daily.assets.add(*[Asset.objects.create(name=f"extra-{i}", kind="database") for i in range(20)])
    # policies (for their families, then for the pairs' names), pairs, exposure (by region and tier in one pass),
    # incidents, runs, steps, deliveries, ingested, unmatched
    assert before == queries() == 10


def test_it_refuses_a_scrape_without_the_token(swept, client):
    response = client.get("/metrics")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert b"drportal_" not in response.content


def test_it_refuses_a_wrong_token(swept, client):
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}x").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Basic {TOKEN}").status_code == 401


def test_a_staff_session_is_not_a_token(swept, client_as):
    assert client_as("ada").get("/metrics").status_code == 401


def test_it_is_off_until_a_token_is_configured(swept, client, settings):
    settings.METRICS_TOKEN = ""
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer ")
    assert response.status_code == 404
    assert b"METRICS_TOKEN" in response.content


def test_names_with_quotes_backslashes_and_newlines_read_back_exactly(swept, client):
    from drportal.inventory.models import Asset

    evil = 'evil "db" \\ with\na newline'
    swept.daily.assets.add(Asset.objects.create(name=evil, kind="database"))
    from backups import sweep

    sweep.sweep(NOW)
    families = scrape(client)
    assert sample(families, "drportal_backup_recovery_point_age_seconds", asset=evil) == math.inf
