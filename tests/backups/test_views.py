"""The backups pages: filters and sorting in SQL, pinned query counts, the policy form, tokens shown once."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine

from backups import sweep
from backups.models import BackupPolicy, IngestToken
from drportal.audit.models import AuditEvent
from tests.backups.conftest import at, record

NOW = at("2026-11-21 15:00")


@pytest.fixture
def swept(world):
    with time_machine.travel(NOW, tick=False):
        record(world.daily, world.acme_db, at("2026-11-21 10:00"), zone=world.dfw1)
        record(world.weekly, world.acme_db, at("2026-11-15 11:00"), zone=world.mci1)
        sweep.sweep(NOW)
        sweep.sweep(NOW + timedelta(days=1, hours=2))  # late now: a violation for the report
        yield world


def test_the_status_list_filters_and_sorts_in_sql(client_as, swept, django_assert_num_queries):
    client = client_as("sam")
    client.get("/backups/")  # warm the session
    # session, user, profile, groups; counts per colour (stored by the sweep, so no COUNT); page rows; regions
    with django_assert_num_queries(7):
        response = client.get("/backups/?status=bad&sort=rpo")
    assert response.status_code == 200
    names = [p.asset.name for p in response.context["page"]]
    assert set(names) == {"acme-db", "zeta-db", "db1", "cybernance-rds"}
    assert client.get(f"/backups/?region={swept.use1.pk}").context["page"].paginator.count == 1
    assert client.get("/backups/?customer=zeta").context["page"].paginator.count == 2
    assert client.get("/backups/?kind=system_image").context["page"].paginator.count == 1


def add_customers(world, count: int) -> None:
    """`count` more customers, each with a database under the daily policy, swept."""
    from drportal.inventory.models import Asset, Customer

    for i in range(count):
        customer = Customer.objects.create(slug=f"c{i}", name=f"Customer {i}")
        world.daily.assets.add(Asset.objects.create(name=f"db-{i}", kind="database", server=world.db1,
                                                    customer=customer))
    sweep.sweep(NOW + timedelta(days=1, hours=3))


def test_the_list_query_count_does_not_grow_with_the_data(client_as, swept, django_assert_num_queries):
    add_customers(swept, 30)
    client = client_as("sam")
    client.get("/backups/")
    with django_assert_num_queries(7):
        page = client.get("/backups/").context["page"]
    assert (len(page), page.paginator.count) == (36, 36)
    with django_assert_num_queries(8):  # a filter the sweep did not count: one COUNT more
        assert client.get(f"/backups/?region={swept.dfw.pk}").context["page"].paginator.count == 35


def test_the_dashboard_panel_has_a_fixed_query_count(client_as, swept, django_assert_num_queries):
    from backups.panels import dashboard_panels

    with django_assert_num_queries(2):  # counts per colour; the ten worst pairs with their relations
        panels = dashboard_panels(None, NOW)
    # A day on, nothing new arrived: every pair is late, never backed up, or breached.
    assert panels[0]["data"]["counts"] == {"ok": 0, "warning": 0, "bad": 6}
    page = client_as("alice").get("/")
    assert b"Backups" in page.content
    assert b"acme-db" in page.content


def test_the_asset_page_shows_the_history_on_a_timeline(client_as, swept, django_assert_num_queries):
    client = client_as("sam")
    client.get("/backups/")
    with time_machine.travel(NOW, tick=False):
        response = client.get(f"/backups/assets/{swept.acme_db.pk}/")
    assert response.status_code == 200
    assert response.content.count(b"<circle") == 2
    assert b"weekly" in response.content.lower()
    assert "If rackspace/dfw/dfw1 is lost" in response.context["loss"].explanation


def test_the_policy_form_refuses_a_malformed_cron(client_as, world):
    response = client_as("alice").post("/backups/policies/new/", {
        "name": "bad", "kind": "database_dump", "schedule": "0 25 * * *", "time_zone": "UTC",
        "location_rule": "any", "grace_hours": 1, "rpo_hours": 26, "retention_days": 30, "active": "on"})
    assert response.status_code == 200
    assert "schedule" in response.context["form"].errors
    assert not BackupPolicy.objects.filter(name="bad").exists()


def test_the_policy_form_saves_and_audits(client_as, world):
    response = client_as("alice").post("/backups/policies/new/", {
        "name": "Hourly files", "kind": "file_copy", "schedule": "0  *  * * *", "time_zone": "America/Chicago",
        "location_rule": "offsite_zone", "grace_hours": 0.5, "rpo_hours": 2, "retention_days": 7,
        "verify_days": 30, "active": "on"})
    assert response.status_code == 302
    policy = BackupPolicy.objects.get(name="Hourly files")
    assert (policy.schedule, policy.grace, policy.verify_within) == ("0 * * * *", timedelta(minutes=30),
                                                                      timedelta(days=30))
    assert AuditEvent.objects.filter(action="backups.policy_created", object_id=str(policy.pk)).exists()


def test_the_cron_preview_shows_the_next_three_runs_in_the_display_zone(client_as, world):
    with time_machine.travel(at("2026-11-21 15:00"), tick=False):
        response = client_as("alice").get("/backups/policies/cron-preview/",
                                          {"schedule": "0 4 * * *", "time_zone": "America/Chicago"})
    runs = response.context["preview"]["runs"]
    assert runs == [at("2026-11-22 10:00"), at("2026-11-23 10:00"), at("2026-11-24 10:00")]
    assert b"04:00 CST" in response.content  # America/Chicago is the display zone
    bad = client_as("alice").get("/backups/policies/cron-preview/", {"schedule": "every day"})
    assert b"not a five-field cron expression" in bad.content


def test_the_policy_pages_render(client_as, swept, django_assert_num_queries):
    client = client_as("mona")
    client.get("/backups/")
    with django_assert_num_queries(6):  # session, user, profile, groups; counts stored by the sweep; policies
        response = client.get("/backups/policies/")
    daily = next(p for p in response.context["policies"] if p.pk == swept.daily.pk)
    assert (daily.n_assets, daily.n_bad) == (2, 2)
    assert client.get(f"/backups/policies/{swept.daily.pk}/").status_code == 200


def test_the_compliance_report_and_its_csv(client_as, swept, django_assert_num_queries):
    client = client_as("mona")
    client.get("/backups/")
    with time_machine.travel(NOW + timedelta(days=1, hours=3), tick=False):
        client.get("/backups/compliance/?days=7")  # the sweep's summary is a day old: this view computes it
        # session, user, profile, groups; the summary that view stored; the newest violations
        with django_assert_num_queries(6):
            response = client.get("/backups/compliance/?days=7")
        csv = client.get("/backups/compliance.csv?days=7")
        printable = client.get("/backups/compliance/?days=7&print=1")
    report = response.context["report"]
    assert {line.name for line in report.policies} >= {swept.daily.name, swept.weekly.name}
    assert report.violations
    assert csv["Content-Type"].startswith("text/csv")
    text = csv.getvalue().decode()
    assert "percent_compliant" in text
    assert "acme-db" in text
    assert b"Backup compliance report" in printable.content


def test_the_exposure_page_shows_dallas_losing_a_week(client_as, swept, django_assert_num_queries):
    client = client_as("sam")
    client.get("/backups/")
    with time_machine.travel(NOW, tick=False), django_assert_num_queries(8):
        # session, user, profile, groups; the rows the sweep stored: count and page; zone and region names
        response = client.get("/backups/exposure/")
    rows = response.context["rows"]
    acme = next(r for r in rows if r.customer == "Acme Dental" and r.location.startswith("rackspace/dfw"))
    assert acme.oldest_recovery_point == at("2026-11-15 11:00")
    assert acme.breaches_objective
    assert acme.seconds_lost == (NOW - at("2026-11-15 11:00")).total_seconds()


def test_the_exposure_query_count_does_not_grow_with_the_data(client_as, swept, django_assert_num_queries):
    add_customers(swept, 30)
    client = client_as("sam")
    client.get("/backups/")
    with django_assert_num_queries(8):
        response = client.get("/backups/exposure/?scope=region")
    new = [r for r in response.context["rows"] if r.customer.startswith("Customer ")]
    assert len(new) == 30
    assert all(r.seconds_lost is None for r in new)  # never backed up: everything is lost


def test_a_token_is_shown_once_and_stored_as_a_digest(client_as, world):
    client = client_as("alice")
    response = client.post("/backups/tokens/", {"name": "agent", "policy": world.daily.pk})
    raw = response.context["raw"]
    assert raw.startswith("drb_")
    assert raw.encode() in response.content
    assert response["Cache-Control"] == "no-store"
    token = IngestToken.objects.get()
    assert raw not in token.digest
    assert raw.encode() not in client.get("/backups/tokens/").content
    assert not AuditEvent.objects.filter(after__icontains=raw).exists()
    client.post(f"/backups/tokens/{token.pk}/revoke/")
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert AuditEvent.objects.filter(action="backups.token_revoked").count() == 1


def test_asking_for_a_restore_test_queues_one(client_as, swept, queue, django_capture_on_commit_callbacks):
    from backups.models import BackupRecord, RestoreTest

    rec = BackupRecord.objects.filter(asset=swept.acme_db).first()
    with django_capture_on_commit_callbacks(execute=True):
        client_as("alice").post(f"/backups/records/{rec.pk}/verify/")
    assert RestoreTest.objects.get().state == "queued"
    assert queue.count == 1


def test_unmatched_objects_are_listed(client_as, world):
    assert client_as("sam").get("/backups/unmatched/").status_code == 200


