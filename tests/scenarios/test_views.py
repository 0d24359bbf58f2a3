from __future__ import annotations

from datetime import date, timedelta

import pytest
import time_machine
from django.urls import reverse

from drportal.audit.models import AuditEvent
from drportal.lib import clock
from scenarios import engine, loader
from scenarios.models import Drill, Mitigation, Review, Run


def crash_scenario() -> loader.Scenario:
    return loader.library().get("jivosoft-server-crash")


def test_the_index_shows_each_scenario_and_its_readiness(client_as, monkeypatch):
    from drportal.cloud.actions.base import REGISTRY

    monkeypatch.delitem(REGISTRY, "provision_from_image", raising=False)
    page = client_as("sam").get(reverse("scenarios:index")).content.decode()
    assert "One of Jivosoft&#x27;s cloud servers crashes" in page
    assert "not ready" in page
    assert "Actions installed: not installed: " in page
    assert "provision_from_image" in page


def test_the_index_shows_invalid_files_with_line_and_reason(client_as, settings, tmp_path):
    (tmp_path / "broken.yaml").write_text("id: x\ntitle: [\n")
    settings.SCENARIOS_DIR = str(tmp_path)
    page = client_as("alice").get(reverse("scenarios:index")).content.decode()
    assert "Invalid scenario files" in page
    assert "broken.yaml:" in page
    assert "YAML syntax" in page


def test_the_incident_page_proposes_the_matching_scenario_with_execute(client_as, make_servers, declare):
    incident = declare(servers=make_servers(1, provider="rackspace"))
    page = client_as("alice").get(reverse("incidents:detail", args=[incident.pk])).content.decode()
    assert "One of Jivosoft&#x27;s cloud servers crashes" in page
    assert 'value="jivosoft-server-crash"' in page
    assert ">Execute</button>" in page


def test_support_sees_the_proposal_without_execute(client_as, declare):
    incident = declare()
    page = client_as("sam").get(reverse("incidents:detail", args=[incident.pk])).content.decode()
    assert "Proposed for this incident" in page
    assert ">Execute</button>" not in page


def test_execute_starts_one_run_and_a_second_click_lands_on_it(client_as, declare):
    incident = declare()
    client = client_as("alice")
    url = reverse("scenarios:execute", args=[incident.pk])
    first = client.post(url, {"scenario": "jivosoft-server-crash"})
    run = Run.objects.get()
    assert first.url == reverse("scenarios:run", args=[run.pk])
    second = client.post(url, {"scenario": "jivosoft-server-crash"}, follow=True)
    assert Run.objects.count() == 1
    assert "already started for this incident by alice" in second.content.decode()


def test_execute_refuses_an_unknown_scenario(client_as, declare):
    incident = declare()
    response = client_as("alice").post(reverse("scenarios:execute", args=[incident.pk]), {"scenario": "nope"},
                                       follow=True)
    assert "scenario: nope is not a valid scenario" in response.content.decode()
    assert not Run.objects.exists()


def test_support_cannot_execute(client_as, declare):
    incident = declare()
    response = client_as("sam").post(reverse("scenarios:execute", args=[incident.pk]),
                                     {"scenario": "jivosoft-server-crash"})
    assert response.status_code == 403
    assert not Run.objects.exists()


@pytest.fixture
def run(declare, alice):
    started, _ = engine.start_run(declare(), crash_scenario(), alice)
    return started


def test_the_run_page_shows_steps_elapsed_and_rto(client_as, run):
    page = client_as("sam").get(reverse("scenarios:run", args=[run.pk])).content.decode()
    assert "Contact Rackspace to determine the cause of the server outage" in page
    assert "of RTO 1 h" in page
    assert 'hx-get="' + reverse("scenarios:run-live", args=[run.pk]) in page
    assert "No customer data at risk in the impacted zones." in page


def test_the_live_part_has_a_fixed_query_count(client_as, run, django_assert_num_queries):
    client = client_as("alice")
    url = reverse("scenarios:run-live", args=[run.pk])
    client.get(url)
    # session, user, user's profile (time zone), user's groups (roles), the run with its incident and
    # starter, the steps with their actors; who may act on the steps waiting for a person: the same 7 whatever
    # the number of steps
    with django_assert_num_queries(7):
        response = client.get(url)
    assert response.status_code == 200


def test_ops_completes_a_manual_step_with_evidence(client_as, run):
    step = run.steps.get(step_id="ask-provider")
    client = client_as("alice")
    response = client.post(reverse("scenarios:step-action", args=[step.pk, "complete"]), {"notes": ""}, follow=True)
    assert "evidence: this step needs evidence" in response.content.decode()
    client.post(reverse("scenarios:step-action", args=[step.pk, "complete"]), {"evidence": "ticket 123"})
    step.refresh_from_db()
    assert (step.state, step.evidence, step.actor.username) == ("succeeded", "ticket 123", "alice")
    again = client.post(reverse("scenarios:step-action", args=[step.pk, "complete"]), {"evidence": "x"}, follow=True)
    assert "is already succeeded (by alice" in again.content.decode()


def test_a_manager_approves_and_ops_cannot(client_as, run, alice):
    engine.complete_step(run.steps.get(step_id="ask-provider").pk, alice, evidence="t1")
    engine.decide(run.steps.get(step_id="provider-recovers").pk, alice, "no")
    step = run.steps.get(step_id="approve-provision")
    refused = client_as("alice").post(reverse("scenarios:step-action", args=[step.pk, "approve"]), follow=True)
    assert "only a manager can approve" in refused.content.decode()
    client_as("mona").post(reverse("scenarios:step-action", args=[step.pk, "approve"]), {"notes": "go"})
    step.refresh_from_db()
    assert (step.state, step.actor.username) == ("succeeded", "mona")


def test_a_manager_cannot_complete_an_ops_step(client_as, run):
    step = run.steps.get(step_id="ask-provider")
    response = client_as("mona").post(reverse("scenarios:step-action", args=[step.pk, "complete"]), {"evidence": "x"})
    assert response.status_code == 403


def test_abort_needs_a_reason(client_as, run):
    client = client_as("alice")
    response = client.post(reverse("scenarios:run-action", args=[run.pk, "abort"]), {"reason": ""}, follow=True)
    assert "reason: say why the run is aborted" in response.content.decode()
    client.post(reverse("scenarios:run-action", args=[run.pk, "abort"]), {"reason": "false alarm"})
    run.refresh_from_db()
    assert run.state == "aborted"


def test_the_plan_is_one_page_with_every_scenario_and_overdue_reviews(client_as):
    page = client_as("mona").get(reverse("scenarios:plan")).content.decode()
    assert page.count('class="plan-scenario"') == 14
    assert "review overdue since 2019-08-15" in page  # Jivosoft last reviewed 2018-08-15, yearly
    assert "If Rackspace anticipates that the data center will be operational and available within 8 hours" in page


def test_the_mitigation_register_flags_expired_items(client_as):
    today = clock.now().date()
    Mitigation.objects.create(slug="casualty-insurance", title="Casualty insurance", kind="insurance",
                              owner="CFO", renews_on=today - timedelta(days=1), last_checked_on=today)
    Mitigation.objects.create(slug="geekdom-membership", title="Geekdom", kind="coworking", owner="Office manager",
                              renews_on=today + timedelta(days=200), last_checked_on=today)
    page = client_as("sam").get(reverse("scenarios:mitigations")).content.decode()
    assert ">expired</span>" in page
    assert ">ok</span>" in page


def test_ops_adds_a_mitigation_and_marks_it_checked(client_as):
    client = client_as("alice")
    client.post(reverse("scenarios:mitigations"), {"slug": "credit-line", "title": "Credit line", "kind": "credit_line",
                                                   "owner": "CEO", "check_every_days": 90})
    item = Mitigation.objects.get()
    client.post(reverse("scenarios:mitigation-checked", args=[item.pk]))
    item.refresh_from_db()
    assert item.last_checked_on == clock.now().date()
    assert AuditEvent.objects.filter(action="mitigation.checked").count() == 1


def test_an_expired_mitigation_makes_its_scenario_not_ready(client_as):
    Mitigation.objects.create(slug="geekdom-membership", title="Geekdom", owner="x", renews_on=date(2020, 1, 1))
    page = client_as("alice").get(reverse("scenarios:detail", args=["jivosoft-office-power-internet"])).content.decode()
    assert "Geekdom (expired)" in page
    assert "No customer data in the zones this disaster takes out." in page


def test_a_drill_runs_in_drill_mode_and_is_exported(client_as):
    client = client_as("alice")
    response = client.post(reverse("scenarios:drill-start", args=["cybernance-redis-failover"]))
    drill = Drill.objects.get()
    assert response.url == reverse("scenarios:run", args=[drill.run_id])
    assert drill.run.drill
    assert drill.run.incident.is_drill
    csv_text = client.get(reverse("scenarios:drills-csv")).content.decode()
    assert csv_text.splitlines()[1].startswith("cybernance-redis-failover,")
    assert "not available" in csv_text.splitlines()[1]
    report = client.get(reverse("scenarios:drills")).content.decode()
    assert "Not drilled within their window" in report


def test_the_review_form_saves_cause_and_follow_ups(client_as, declare):
    incident = declare()
    data = {"cause": "Disk filled up", "changes_recreated": "nginx config", "prevention": "alerts",
            "follow_ups-TOTAL_FORMS": "2", "follow_ups-INITIAL_FORMS": "0",
            "follow_ups-0-text": "Add a disk alert", "follow_ups-0-owner": "alice", "follow_ups-0-due_on": "2026-12-01",
            "follow_ups-1-text": "", "follow_ups-1-owner": "", "follow_ups-1-due_on": ""}
    client_as("alice").post(reverse("scenarios:review", args=[incident.pk]), data)
    review = Review.objects.get()
    assert review.cause == "Disk filled up"
    assert [(f.text, f.owner) for f in review.follow_ups.all()] == [("Add a disk alert", "alice")]
    assert AuditEvent.objects.filter(action="review.saved").exists()


def test_the_review_form_names_the_missing_field(client_as, declare):
    incident = declare()
    response = client_as("alice").post(reverse("scenarios:review", args=[incident.pk]), {
        "cause": "", "follow_ups-TOTAL_FORMS": "0", "follow_ups-INITIAL_FORMS": "0"})
    assert "This field is required" in response.content.decode()
    assert not Review.objects.exists()


def test_readiness_and_the_run_page_show_each_customers_exposure_from_the_backups_app(client_as, make_servers, declare,
                                                                                      alice):
    from backups.models import BackupPolicy, BackupRecord, PolicyAssetStatus
    from drportal.inventory.models import Asset, Customer

    [server] = make_servers(1, provider="rackspace")
    customer = Customer.objects.create(slug="alamo", name="Alamo Freight")
    asset = Asset.objects.create(name="alamo-db", kind="database", server=server, customer=customer)
    policy = BackupPolicy.objects.create(name="daily dumps", kind="database_dump", schedule="0 3 * * *",
                                         rpo_objective=timedelta(hours=24))
    PolicyAssetStatus.objects.create(policy=policy, asset=asset, customer=customer)
    now = clock.now()
    # Its newest copy sits on the server's own zone: losing the zone loses the copy too.
    BackupRecord.objects.create(policy=policy, asset=asset, started_at=now - timedelta(hours=5), outcome="succeeded",
                                completed_at=now - timedelta(hours=5), recovery_point=now - timedelta(hours=5),
                                viable=True, zone=server.zone, region=server.zone.region)
    page = client_as("alice").get(reverse("scenarios:detail", args=["jivosoft-server-crash"])).content.decode()
    assert "Alamo Freight" in page
    assert "everything (no surviving copy)" in page
    # A newer dump on the server's own disk goes down with it.
    BackupRecord.objects.create(policy=policy, asset=asset, started_at=now - timedelta(hours=1), outcome="succeeded",
                                completed_at=now - timedelta(hours=1), recovery_point=now - timedelta(hours=1),
                                viable=True, zone=server.zone, region=server.zone.region, container=server.name)
    with time_machine.travel(now, tick=False):
        run, _ = engine.start_run(declare(servers=[server]), crash_scenario(), alice)
        run_page = client_as("alice").get(reverse("scenarios:run", args=[run.pk])).content.decode()
    # Only the server crashed, not its zone: the copy in the zone off the server survives, five hours back.
    assert "<strong>Alamo Freight</strong>: 5 h" in run_page


def test_the_index_takes_a_fixed_number_of_queries(client_as, make_servers, django_assert_num_queries):
    client = client_as("sam")
    client.get(reverse("scenarios:index"))
    make_servers(5, provider="rackspace")
    make_servers(5, provider="aws", prefix="app")
    # session, user, profile, groups; the readiness snapshot the first view stored: the same 5 for any number
    # of scenarios and servers (assessing them is the refresh job's work, see test_snapshots.py)
    with django_assert_num_queries(5):
        response = client.get(reverse("scenarios:index"))
    assert response.status_code == 200


def test_a_scenario_page_takes_a_fixed_number_of_queries(client_as, make_servers, django_assert_num_queries):
    client = client_as("sam")
    url = reverse("scenarios:detail", args=["jivosoft-datacenter-offline"])
    make_servers(5, provider="rackspace")
    client.get(url)
    make_servers(5, provider="rackspace", prefix="app")
    # session, user, profile, groups; the readiness snapshot; the zones of the scenario's servers, the other
    # zones of their regions (a data-center disaster), the exposure snapshot for those zones; the policies of
    # what it recovers (the plan's promise; the servers in the scenario's scope are a subquery of it); a drill's
    # default scope (the matching servers, the region with most of them); the drills: the same 12 for any number
    # of servers and customers
    with django_assert_num_queries(12):
        response = client.get(url)
    assert response.status_code == 200


def test_the_run_page_takes_a_fixed_number_of_queries(client_as, make_servers, declare, alice,
                                                      django_assert_num_queries):
    from drportal.inventory.models import Asset, Customer

    servers = make_servers(3, provider="rackspace")
    for n in range(5):
        customer = Customer.objects.create(slug=f"c{n}", name=f"Customer {n}")
        Asset.objects.create(name=f"db-c{n}", kind="database", server=servers[n % 3], customer=customer)
    run, _ = engine.start_run(declare(servers=servers), crash_scenario(), alice)
    client = client_as("alice")
    url = reverse("scenarios:run", args=[run.pk])
    client.get(url)
    # session, user, profile, groups; the run; its steps; who may act on the waiting steps; the copies the
    # run's restores used and the loss-window snapshot (the crashed servers come from the incident's stored
    # scope): the same 9 for any number of customers
    with django_assert_num_queries(9):
        response = client.get(url)
    assert response.status_code == 200


def test_a_persons_step_shows_the_time_it_waited_for_them_not_zero(client_as, declare, alice):
    from datetime import UTC, datetime

    start = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        run, _ = engine.start_run(declare(), crash_scenario(), alice)
    ask = run.steps.get(step_id="ask-provider")
    with time_machine.travel(start + timedelta(minutes=20), tick=False):
        engine.complete_step(ask.pk, alice, notes="ticket 123", evidence="ticket 123")
    ask.refresh_from_db()
    assert ask.elapsed(start + timedelta(hours=5)) == timedelta(minutes=20)
    with time_machine.travel(start + timedelta(hours=5), tick=False):
        page = client_as("sam").get(reverse("scenarios:run", args=[run.pk])).content.decode()
    assert "<td>20 min</td>" in page
