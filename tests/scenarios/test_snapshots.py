from __future__ import annotations

from datetime import timedelta

import django_rq
import time_machine
from django.urls import reverse

from drportal.lib import clock
from scenarios import readiness, snapshots
from scenarios.models import Mitigation, Snapshot
from tests.scenarios.conftest import drain


def low_jobs() -> list[str]:
    return [job.func_name for job in django_rq.get_queue("low").jobs]


def test_the_first_view_computes_readiness_and_stores_it(client_as):
    page = client_as("sam").get(reverse("scenarios:index")).content.decode()
    stored = Snapshot.objects.get(key="readiness")
    assert "Readiness as of" in page
    assert {row["scenario"] for row in stored.data} >= {"jivosoft-server-crash", "jivosoft-datacenter-offline"}


def test_a_fresh_snapshot_is_shown_without_a_job(client_as, django_capture_on_commit_callbacks):
    client = client_as("sam")
    client.get(reverse("scenarios:index"))
    with django_capture_on_commit_callbacks(execute=True):
        client.get(reverse("scenarios:index"))
    assert low_jobs() == []


def test_a_stale_snapshot_is_shown_and_one_refresh_job_is_enqueued(client_as, django_capture_on_commit_callbacks):
    client = client_as("sam")
    client.get(reverse("scenarios:index"))
    first = Snapshot.objects.get(key="readiness").computed_at
    with time_machine.travel(clock.now() + snapshots.FRESH + timedelta(seconds=5)):
        with django_capture_on_commit_callbacks(execute=True):
            page = client.get(reverse("scenarios:index")).content.decode()
            client.get(reverse("scenarios:index"))
    assert "being rechecked now" in page
    assert Snapshot.objects.get(key="readiness").computed_at == first
    assert low_jobs() == ["scenarios.readiness.refresh"]


def test_the_refresh_job_stores_what_changed(client_as, django_capture_on_commit_callbacks):
    client = client_as("alice")
    client.get(reverse("scenarios:index"))
    Mitigation.objects.create(slug="geekdom-membership", title="Geekdom", owner="x", renews_on=clock.now().date())
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("scenarios:mitigation-checked", args=[Mitigation.objects.get().pk]))
    assert low_jobs() == ["scenarios.readiness.refresh"]
    drain("low")
    assert low_jobs() == []
    rows = {row["scenario"]: row["checks"] for row in Snapshot.objects.get(key="readiness").data}
    checks = {c["name"]: c for c in rows["jivosoft-office-power-internet"]}
    assert "Geekdom" not in checks["Standing mitigations"]["detail"]


def test_another_set_of_installed_actions_is_assessed_at_once(client_as, monkeypatch):
    from drportal.cloud.actions.base import REGISTRY

    client = client_as("sam")
    client.get(reverse("scenarios:index"))
    monkeypatch.delitem(REGISTRY, "provision_from_image")
    page = client.get(reverse("scenarios:index")).content.decode()
    assert "not installed: " in page
    assert "provision_from_image" in page


def test_a_snapshot_nobody_refreshed_for_long_is_recomputed_by_the_view(db):
    from scenarios import loader

    scenarios = list(loader.library().scenarios.values())
    readiness.current(scenarios, clock.now())
    later = clock.now() + snapshots.STALE + timedelta(minutes=1)
    assessed = readiness.current(scenarios, later)
    assert assessed.computed_at == later
    assert not assessed.refreshing
