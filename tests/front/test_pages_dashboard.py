from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse

from backups.models import DailyRollup, PolicyAssetStatus
from backups.sweep import sweep
from drportal.front.dashboard import bar_chart, line_chart
from drportal.incidents.models import Incident

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)



@pytest.fixture
def jivosoft(db):
    call_command("import_inventory", "inventories/jivosoft.yaml", stdout=StringIO())


def declare(title: str, at: datetime, status: str = "declared") -> Incident:
    from django.contrib.auth.models import User

    return Incident.objects.create(title=title, severity="sev1", disaster_class="datacenter_offline",
                                   status=status, declared_at=at, declared_by=User.objects.get(username="alice"))


def test_it_says_safe_when_nothing_needs_attention(client_as, settings, tmp_path):
    settings.SCENARIOS_DIR = str(tmp_path)  # no plans, so none is unready
    with time_machine.travel(NOW):
        page = client_as("sam").get(reverse("dashboard")).content.decode()
    assert "Yes: nothing below needs attention." in page
    assert "No open incidents." in page


def test_it_says_not_safe_and_counts_from_the_status_rows(client_as, jivosoft):
    with time_machine.travel(NOW):
        sweep(NOW)
        declare("Rackspace Dallas offline", NOW - timedelta(hours=1))
        page = client_as("mona").get(reverse("dashboard")).content.decode()
    breached = PolicyAssetStatus.objects.filter(rpo_status="breached").count()
    assert breached > 0  # nothing was ever backed up: every pair has breached its RPO
    assert "No: the items in red need attention." in page
    assert f'<span class="tile-value">{breached}</span> <span class="tile-label">RPO breaches</span>' in page
    assert "Rackspace Dallas offline" in page
    assert "Past review or not drilled" in page
    assert "No drill yet" in page


def test_recovered_incidents_are_not_open(client_as, alice):
    with time_machine.travel(NOW):
        declare("Old outage", NOW - timedelta(days=2), status="recovered")
        page = client_as("alice").get(reverse("dashboard")).content.decode()
    assert '<span class="tile-value">0</span> <span class="tile-label">Open incidents</span>' in page
    assert "Incidents declared: 1 since" in page


def test_the_compliance_chart_plots_the_rollups(client_as, jivosoft):
    with time_machine.travel(NOW):
        sweep(NOW)
        pair = PolicyAssetStatus.objects.first()
        for back, ok in ((2, 86400), (1, 43200)):
            DailyRollup.objects.create(day=NOW.date() - timedelta(days=back), policy=pair.policy,
                                       observed_seconds=86400, compliant_seconds=ok)
        page = client_as("mona").get(reverse("dashboard")).content.decode()
    # The rollups were written by hand, without the sweep observing those days: the figure is provisional.
    assert "Backup compliance, last 30 days: " in page
    assert "(provisional: Observed" in page
    assert "50.00 % on Nov 19 (UTC day)" in page
    assert page.count('<polyline points="') == 1


def test_the_dashboard_runs_a_fixed_number_of_queries(client_as, jivosoft, django_assert_num_queries):
    client = client_as("alice")
    with time_machine.travel(NOW):
        sweep(NOW)
        for n in range(5):
            declare(f"outage {n}", NOW - timedelta(hours=n))
        client.get(reverse("dashboard"))  # warm the session and the scenario files; store the readiness
        # session, user, profile (time zone), groups; incidents; backup counts; the stored readiness; last drill;
        # the compliance report's stored summary (its figures and per day); incidents per day; backups panel
        # (stored counts, worst pairs); incidents proposed by alerts; what needs attention (the bad pairs and when
        # their states began; a third, the failed runs, only when a pair's newest run failed: none here).
        with django_assert_num_queries(15):
            response = client.get(reverse("dashboard"))
    assert response.status_code == 200


def test_a_line_chart_breaks_on_days_without_data():
    days = [date(2026, 11, d) for d in range(1, 6)]
    chart = line_chart(list(zip(days, [100.0, None, 50.0, 0.0, None], strict=True)), width=40, height=10)
    assert chart["segments"] == ["0.0,2.0", "20.0,5.0 30.0,8.0"]
    assert chart["latest"] == (days[3], 0.0)


def test_a_bar_chart_scales_to_the_busiest_day():
    chart = bar_chart([(date(2026, 11, 1), 0), (date(2026, 11, 2), 4), (date(2026, 11, 3), 2)], width=30, height=14)
    assert [b["h"] for b in chart["bars"]] == ["0.0", "10.0", "5.0"]
    assert chart["total"] == 6


def test_readiness_older_than_a_minute_is_shown_while_a_job_assesses_it_again(client_as, jivosoft, alice,
                                                                               django_capture_on_commit_callbacks):
    from scenarios import drills, loader, readiness

    client = client_as("mona")
    with time_machine.travel(NOW, tick=False) as traveller:
        assert "No drill yet" in client.get(reverse("dashboard")).content.decode()
        drills.start_drill(loader.library().get("jivosoft-office-power-internet"), alice)
        traveller.shift(30)
        page = client.get(reverse("dashboard")).content.decode()
        assert '<span class="tile-value">Nov 20</span>' in page
        assert "Readiness assessed <time datetime=\"2026-11-20T09:00:00-06:00\">" in page
        traveller.shift(31)
        with django_capture_on_commit_callbacks() as queued:
            page = client.get(reverse("dashboard")).content.decode()
        assert "Readiness assessed <time datetime=\"2026-11-20T09:00:00-06:00\">" in page
        assert "(being rechecked)" in page
        assert len(queued) == 1  # one refresh job, however many views
        readiness.refresh()  # what the job runs
        page = client.get(reverse("dashboard")).content.decode()
    assert "Readiness assessed <time datetime=\"2026-11-20T09:01:01-06:00\">" in page


def test_a_drills_incident_is_not_counted_as_an_incident_declared(client_as, alice):
    with time_machine.travel(NOW):
        Incident.objects.create(title="Drill: Dallas offline", severity="sev4", disaster_class="datacenter_offline",
                                status="recovered", declared_at=NOW - timedelta(days=3), declared_by=alice,
                                is_drill=True)
        declare("Real outage", NOW - timedelta(days=1), status="recovered")
        page = client_as("alice").get(reverse("dashboard")).content.decode()
    assert "Incidents declared: 1 since" in page
