"""The compliance report an auditor can be handed: one computation read by the page, the printable page, the
CSV, the PDF and the dashboard, in the same units; how much of the period was observed; why a policy whose
rows read OK is below 100 %."""

from __future__ import annotations

import csv
import dataclasses
import io
import re
from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse

from backups import compliance, sweep
from tests.backups.conftest import at, record

NOW = at("2026-11-21 15:00")


def fresh_every_day(world, days: int) -> None:
    """A successful daily dump of each customer database in Dallas and a weekly copy in Kansas City."""
    for back in range(days + 2):
        day = NOW - timedelta(days=back)
        for db in (world.acme_db, world.zeta_db):
            record(world.daily, db, day.replace(hour=10), zone=world.dfw1)
            if back % 7 == 0:
                record(world.weekly, db, day.replace(hour=11), zone=world.mci1)


@pytest.fixture
def observed_90_minutes(world):
    """The sweep ran for an hour and a half before the report was read: 5,400 seconds observed."""
    fresh_every_day(world, 1)
    for minutes in range(0, 91, 15):
        sweep.sweep(NOW + timedelta(minutes=minutes))
    return world


def csv_lines(content: bytes) -> dict[tuple[str, str], list[str]]:
    rows = list(csv.reader(io.StringIO(content.decode())))
    start = rows.index(compliance.LINE_HEADER) + 1
    end = rows.index([], start)
    return {(r[0], r[1]): r for r in rows[start:end]}


def pdf_text(content: bytes) -> str:
    from pypdf import PdfReader

    return " ".join(" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(content)).pages)


def test_page_csv_and_pdf_print_the_same_figures_in_hours(client_as, observed_90_minutes):
    client = client_as("mona")
    with time_machine.travel(NOW + timedelta(minutes=91), tick=False):
        page = client.get("/backups/compliance/?days=30")
        sheet = client.get("/backups/compliance.csv?days=30")
        pdf = client.get("/backups/compliance.pdf?days=30")
    assert pdf["Content-Type"] == "application/pdf"
    table = page.context["table"]
    pitr = next(r for r in table if r[1] == "RDS point-in-time")
    assert pitr[2] == "1.50"  # 5,400 seconds are 1.50 asset-hours, never "5400" hours
    html = page.content.decode()
    by_csv = csv_lines(sheet.getvalue())
    text = pdf_text(pdf.content)
    for row in table:
        assert by_csv[(row[0], row[1])] == row  # the CSV's cells are the page's cells
        assert f"<td>{row[1]}</td><td class=\"num\">{row[2]}</td><td class=\"num\">{row[3]}</td>" in html
        assert f"{row[2]} {row[3]} {row[4]}" in text  # and the PDF's


def test_a_report_resting_on_little_observation_says_so_and_marks_percentages_provisional(
        client_as, observed_90_minutes):
    client = client_as("mona")
    with time_machine.travel(NOW + timedelta(minutes=91), tick=False):
        report = compliance.report(30, NOW + timedelta(minutes=91))
        page = client.get("/backups/compliance/?days=30").content.decode()
        sheet = client.get("/backups/compliance.csv?days=30").getvalue().decode()
        text = pdf_text(client.get("/backups/compliance.pdf?days=30").content)
    assert report.observed_seconds == 5400
    assert not report.certified
    assert "Observed 1.5 h of the period" in page
    assert "(provisional)" in page
    assert "only 0.2 % of the period was observed" in page
    assert "only 0.2 % of the period was observed" in sheet
    assert "only 0.2 % of the period was observed" in text
    assert all(row[6] == "no" for row in compliance.table(report))


def test_a_week_swept_every_hour_is_certified(world):
    fresh_every_day(world, 8)
    start = at("2026-11-15 00:00")
    for hour in range(0, 24 * 6 + 16):
        sweep.sweep(start + timedelta(hours=hour))
    report = compliance.report(7, start + timedelta(hours=24 * 6 + 15))
    assert report.observed_seconds == (24 * 6 + 15) * 3600
    assert report.certified
    assert report.withheld_reason == ""
    weekly = next(line for line in report.policies if line.name == world.weekly.name)
    assert weekly.percent == 100.0
    assert all(row[6] == "yes" for row in compliance.table(report) if row[5])


def test_a_policy_fresh_but_not_restore_tested_says_why_it_is_below_100_percent(client_as, observed_90_minutes):
    with time_machine.travel(NOW + timedelta(minutes=91), tick=False):
        page = client_as("mona").get("/backups/compliance/?days=7")
    daily = next(line for line in page.context["report"].policies if line.name == "Daily database dumps (Dallas)")
    assert daily.percent == 0.0
    assert daily.unverified_seconds == daily.observed_seconds
    assert "not compliant only because no restore test passed within the policy&#x27;s window" in \
        page.content.decode()


def test_the_printable_page_is_a_document_without_navigation(client_as, observed_90_minutes):
    with time_machine.travel(NOW + timedelta(minutes=91), tick=False):
        page = client_as("mona").get("/backups/compliance/?days=7&print=1").content.decode()
    assert "Backup compliance report" in page
    assert "<nav" not in page
    assert "Sign out" not in page
    # As of the last sweep (10:30), whose summary the page reads.
    assert re.search(r"From 2026-11-1\d 18:00 CST to 2026-11-21 10:30 CST", page)


def test_the_dashboard_states_the_reports_figure_and_that_it_is_provisional(client_as, observed_90_minutes):
    # 18:31 in Chicago is already the next UTC day: the dashboard must still see the report's rows.
    late = at("2026-11-22 00:31")
    sweep.sweep(late - timedelta(minutes=1))
    with time_machine.travel(late, tick=False):
        report = compliance.report(30, late)
        page = client_as("mona").get(reverse("dashboard")).content.decode()
    assert report.total.percent is not None
    assert f"Backup compliance, last 30 days: {report.total.percent:.2f} % (provisional" in page
    assert "no data yet" not in page
    assert "nothing observed yet" not in page


def test_the_page_lists_the_worst_customers_and_says_how_many_more_the_csv_holds(client_as, observed_90_minutes,
                                                                                 monkeypatch):
    from backups import views

    monkeypatch.setattr(views, "PAGE_CUSTOMERS", 1)
    monkeypatch.setattr(compliance, "PDF_CUSTOMERS", 1)
    client = client_as("mona")
    with time_machine.travel(NOW + timedelta(minutes=91), tick=False):
        page = client.get("/backups/compliance/?days=30")
        printable = client.get("/backups/compliance/?days=30&print=1")
        sheet = client.get("/backups/compliance.csv?days=30")
    customers = [r[1] for r in page.context["table"] if r[0] == "customer"]
    assert len(customers) == 1
    assert "1 more customer, each more compliant than those above" in page.content.decode()
    every = sorted(name for section, name in csv_lines(sheet.getvalue()) if section == "customer")
    assert every == ["Acme Dental", "Zeta Clinics"]
    # The printable page prints what the PDF prints, and says where the rest is.
    assert [r[1] for r in printable.context["table"] if r[0] == "customer"] == customers
    assert ("1 more customer, each more compliant than those above: the <a href=\"/backups/compliance.csv?days=30\">"
            "CSV</a> lists every one. This page is the summary, as the PDF is") in printable.content.decode()


def test_the_pdf_is_a_summary_of_the_worst_customers_and_says_the_csv_holds_every_one(
        client_as, observed_90_minutes, monkeypatch):
    monkeypatch.setattr(compliance, "PDF_CUSTOMERS", 1)
    client = client_as("mona")
    with time_machine.travel(NOW + timedelta(minutes=91), tick=False):
        page = client.get("/backups/compliance/?days=30").content.decode()
        text = pdf_text(client.get("/backups/compliance.pdf?days=30").content)
        sheet = client.get("/backups/compliance.csv?days=30")
    every = sorted(name for section, name in csv_lines(sheet.getvalue()) if section == "customer")
    assert every == ["Acme Dental", "Zeta Clinics"]
    assert sum(name in text for name in every) == 1
    assert ("1 more customer, each more compliant than those above: this PDF is the summary (the total, every "
            "policy, the 1 least compliant customers and the violations); the CSV lists every customer.") in text
    assert "PDF (summary)" in page


def test_the_page_sums_customers_in_one_query_whatever_their_number(client_as, observed_90_minutes,
                                                                    django_assert_num_queries):
    from backups.models import DailyRollup
    from drportal.inventory.models import Customer

    policy = observed_90_minutes.daily
    day = NOW.date()
    many = Customer.objects.bulk_create(Customer(slug=f"c{n}", name=f"Customer {n:03}") for n in range(150))
    DailyRollup.objects.bulk_create(
        DailyRollup(day=day, policy=policy, customer=c, observed_seconds=3600, compliant_seconds=36 * n)
        for n, c in enumerate(many))
    # A line nothing observed (a zero an adversary or a bug could leave) must not divide by zero.
    DailyRollup.objects.create(day=day - timedelta(days=1), policy=policy, customer=many[0], observed_seconds=0,
                               compliant_seconds=0)
    client = client_as("mona")
    client.get("/backups/")
    with time_machine.travel(NOW + timedelta(minutes=91), tick=False):
        # Rollups the stored summary does not rest on: the first view computes it. Session, user, profile,
        # groups; the basis and the summary; per policy; the worst customers and how many; the violations'
        # count; observed time; per day (for the dashboard's chart); the summary stored; the newest violations.
        with django_assert_num_queries(12):
            client.get("/backups/compliance/?days=30")
        # The next reads it: session, user, profile, groups; the basis and the summary; the newest violations.
        with django_assert_num_queries(6):
            response = client.get("/backups/compliance/?days=30")
    customers = [row for row in response.context["table"] if row[0] == "customer"]
    assert len(customers) == 100
    assert customers[0][1] == "Customer 000"  # 0 % compliant: the worst first
    assert customers[0][5] == "0.00"
    assert response.context["report"].customer_count == 152
    assert "52 more customers, each more compliant than those above" in response.content.decode()


def test_the_summary_the_sweep_stores_is_the_reports_own_figures(observed_90_minutes):
    later = NOW + timedelta(minutes=90)
    stored = compliance.summary(30, later + timedelta(minutes=1), violations=0)
    computed = compliance.report(30, later, customers_limit=compliance.SUMMARY_CUSTOMERS, violations_limit=0)
    # The same lines, total, observed time and counts, up to the sweep's moment, and the same days as daily().
    assert stored == dataclasses.replace(computed, per_day=tuple(compliance.daily(30, later)))
    assert stored.per_day[-1][1] is not None


def test_a_sweep_that_adds_to_the_rollups_shows_on_the_next_view(client_as, observed_90_minutes):
    client = client_as("mona")
    with time_machine.travel(NOW + timedelta(minutes=91), tick=False):
        before = client.get("/backups/compliance/?days=30").context["report"]
    sweep.sweep(NOW + timedelta(minutes=120))
    with time_machine.travel(NOW + timedelta(minutes=121), tick=False):
        after = client.get("/backups/compliance/?days=30").context["report"]
    assert (before.observed_seconds, after.observed_seconds) == (5400, 7200)
    assert after.total == compliance.report(30, NOW + timedelta(minutes=120)).total


def test_a_sweep_within_ten_minutes_of_the_summary_leaves_it_and_the_page_says_up_to_when(client_as,
                                                                                          observed_90_minutes):
    sweep.sweep(NOW + timedelta(minutes=95))
    with time_machine.travel(NOW + timedelta(minutes=96), tick=False):
        page = client_as("mona").get("/backups/compliance/?days=30")
    assert page.context["report"].observed_seconds == 5400  # as of the sweep at 90 minutes
    assert "to 2026-11-21 10:30 CST" in page.content.decode()


def test_a_summary_older_than_fifteen_minutes_is_computed_again_by_the_view(client_as, observed_90_minutes):
    sweep.integrate_rollups(NOW + timedelta(minutes=100))  # rollups added, by no sweep that stores summaries
    with time_machine.travel(NOW + timedelta(minutes=106), tick=False):
        report = client_as("mona").get("/backups/compliance/?days=30").context["report"]
    assert report.observed_seconds == 6000
    assert report.until == NOW + timedelta(minutes=106)


def test_rollups_written_outside_a_sweep_are_not_hidden_by_a_stored_summary(client_as, observed_90_minutes):
    from backups.models import DailyRollup
    from drportal.inventory.models import Customer

    late = Customer.objects.create(slug="late", name="Late Co")
    DailyRollup.objects.create(day=NOW.date(), policy=observed_90_minutes.daily, customer=late,
                               observed_seconds=3600, compliant_seconds=0)
    with time_machine.travel(NOW + timedelta(minutes=91), tick=False):
        report = client_as("mona").get("/backups/compliance/?days=30").context["report"]
    assert report.customers[0].name == "Late Co"


def test_the_violations_heading_counts_the_periods_not_the_rows_listed(client_as, observed_90_minutes):
    from backups.models import PolicyAssetStatus, StatusChange

    pair = PolicyAssetStatus.objects.first()
    StatusChange.objects.bulk_create(
        StatusChange(pair=pair, at=NOW + timedelta(seconds=n), dimension="freshness", before="ok", after="late",
                     alert=True) for n in range(502))
    sweep.sweep(NOW + timedelta(minutes=100))
    with time_machine.travel(NOW + timedelta(minutes=101), tick=False):
        page = client_as("mona").get("/backups/compliance/?days=30").content.decode()
        text = pdf_text(client_as("mona").get("/backups/compliance.pdf?days=30").content)
        sheet = client_as("mona").get("/backups/compliance.csv?days=30").getvalue().decode()
    assert "Violations (the newest 500 of 502)" in page
    assert "Violations (the newest 500 of 502)" in text
    assert sheet.count("freshness,ok,late") == 502


def test_a_summary_stored_in_another_format_is_computed_again_not_misread(client_as, observed_90_minutes):
    import json

    from backups.models import SweepState

    row = SweepState.objects.get(name="compliance:30")
    old = json.loads(row.value)
    old["basis"][0] -= 1
    del old["per_day"]
    row.value = json.dumps(old)
    row.save()
    with time_machine.travel(NOW + timedelta(minutes=91), tick=False):
        page = client_as("mona").get(reverse("dashboard"))
    assert page.status_code == 200
    assert json.loads(SweepState.objects.get(name="compliance:30").value)["basis"][0] == compliance.SUMMARY_FORMAT
