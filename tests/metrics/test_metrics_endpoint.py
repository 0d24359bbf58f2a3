"""GET /metrics: the stored statuses in the Prometheus format, behind a bearer token of its own."""

from __future__ import annotations

import math
from datetime import timedelta

import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from backups import sweep
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
    # policies (for their families, then for the pairs' names), the counts the sweep stored, the pairs named one
    # by one, incidents, runs, steps, deliveries, ingested, unmatched
    assert before == queries() == 10


def test_it_names_only_the_pairs_with_the_least_time_left_and_counts_every_pair(swept, client, settings):
    settings.METRICS_PAIR_LIMIT = 3
    families = scrape(client)
    named = families["drportal_backup_recovery_point_age_seconds"]
    # Never backed up first (+Inf: zeta-db twice, db1's image, the RDS instance), so three of those four.
    assert len(named) == 3
    assert all(s.value == math.inf for s in named)
    assert sum(s.value for s in families["drportal_backup_pairs"]) == 6  # acme and zeta twice, db1, the RDS
    assert sample(families, "drportal_backup_pairs", policy="Daily database dumps (Dallas)", freshness="never",
                  rpo="breached", offsite="not_required") == 1


def test_a_pair_past_its_objective_ranks_before_one_within_it(swept, client, settings):
    settings.METRICS_PAIR_LIMIT = 5
    families = scrape(client)
    named = [(s.labels["asset"], s.labels["policy"]) for s in families["drportal_backup_recovery_point_age_seconds"]]
    # After the four never backed up: acme-db's dump, 5 h old of 26 h, has less time left than its weekly copy
    # (6 days 4 h old of 8 days).
    assert named[4] == ("acme-db", "Daily database dumps (Dallas)")


def test_each_policy_states_the_age_of_its_oldest_recovery_point(swept, client):
    families = scrape(client)
    assert sample(families, "drportal_backup_oldest_recovery_point_age_seconds",
                  policy="Daily database dumps (Dallas)") == math.inf  # zeta-db has none
    with time_machine.travel(NOW, tick=False):
        from drportal.inventory.models import Asset

        Asset.objects.filter(name="zeta-db").delete()
        sweep.sweep(NOW)
    families = scrape(client)
    weekly = sample(families, "drportal_backup_oldest_recovery_point_age_seconds",
                    policy="Weekly database copies (Kansas City)")
    assert weekly == timedelta(days=6, hours=4).total_seconds()


def test_every_pair_is_named_when_the_limit_is_zero(swept, client, settings):
    settings.METRICS_PAIR_LIMIT = 0
    families = scrape(client)
    assert len(families["drportal_backup_recovery_point_age_seconds"]) == 6


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
