"""What people read is backed by rows (issue 20), on the demo data, by the shortest path a person takes.

A Dallas outage declared by its region only: at each stage (declared, running, waiting for a manager,
recovered) the run page, the incident page and the public status page say what the incident's and the run's
rows say, and the data-loss window on the run page is the one the customers' notices state. And a drill: it
opens no incident, never reaches the status page, and its report claims no "RTO met" for what it only planned."""

from __future__ import annotations

import re

import pytest
from django.db.models import Q
from playwright.sync_api import expect

from drportal.incidents.models import Incident
from drportal.inventory.models import ProviderAccount, Region, Server
from drportal.lib import clock
from notifications.models import Delivery
from scenarios import loss
from scenarios.choices import PERSON_KINDS, StepState
from scenarios.models import Drill, Run, StepRun
from tests.browser import conftest
from tests.browser.conftest import finish_drill
from tests.browser.test_ops_journey import LIVE, complete, row, skip, step
from tests.browser.test_region_only_journey import approve_as_manager, declare

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PUBLIC = {"declared": "Investigating", "responding": "Recovering"}  # anything later reads "Resolved"
RESTORED_LINE = re.compile(r"^- (\S+): restored from the copy of", re.MULTILINE)


@pytest.fixture
def demo_cloud(demo_data):
    """demo_data makes the simulated accounts answer at once but drops the sizes they offer: a recovery
    provisions each replacement at its server's own size, so the account offers those again."""
    for account in ProviderAccount.objects.filter(driver="simulated"):
        sizes = sorted(set(Server.objects.filter(account=account).exclude(size="").values_list("size", flat=True)))
        account.options = {**account.options, "sizes": ",".join(sizes)}
        account.save(update_fields=["options"])


def settle(page, title: str, reason: str) -> bool:
    """Wait for the worker to finish the step; ops skip it, saying why, if it failed (not every simulated
    restore finds its copy). Whether it was skipped."""
    expect(row(page, title)).to_contain_text(re.compile("failed|succeeded"), timeout=LIVE)
    if "failed" in row(page, title).inner_text():
        skip(page, title, reason)
        return True
    return False


def incident_page_agrees(page, live_server, incident: Incident) -> None:
    incident.refresh_from_db()
    page.goto(f"{live_server.url}/incidents/{incident.pk}/")
    expect(page.locator(f".badge.s-{incident.status}").first).to_have_text(incident.get_status_display())


def status_page_agrees(browser, live_server, incident: Incident) -> None:
    """As a customer arriving now reads it (the page may be cached for a minute by a browser that saw it)."""
    incident.refresh_from_db()
    context = browser.new_context()
    public = context.new_page()
    public.goto(f"{live_server.url}/status/")
    expect(public.locator(f"#incident-{incident.pk} .badge")).to_have_text(PUBLIC.get(incident.status, "Resolved"))
    context.close()


def run_page_agrees(page, live_server, run: Run) -> None:
    """The run's state, who it waits for, and each customer's loss window, as the rows give them now."""
    run.refresh_from_db()
    page.goto(f"{live_server.url}/scenarios/runs/{run.pk}/")
    expect(page.locator("#run-live .badge").first).to_have_text(run.get_state_display(), timeout=LIVE)
    # A person's step that is ready, or a wait or a notice handed over to a person.
    waiting = StepRun.objects.filter(run=run).filter(Q(state=StepState.READY, kind__in=PERSON_KINDS)
                                                     | Q(state=StepState.WAITING, kind__in=("wait", "notify")))
    panel = page.locator("section.waiting")
    if waiting.exists():
        expect(panel.get_by_role("heading")).to_have_text(f"Waiting for people ({waiting.count()})")
        for title in waiting.values_list("title", flat=True):
            expect(panel).to_contain_text(title)
    else:
        expect(panel).to_have_count(0)
    section = page.locator("section", has=page.get_by_role("heading", name="Data-loss window"))
    for customer in loss.incident_rows(run.incident_id, clock.now())["rows"][:5]:
        expect(section.locator("li", has_text=customer["customer"]).first).to_contain_text(customer["lost"])


def test_a_dallas_outage_reads_the_same_on_every_page_at_every_stage(demo_cloud, worker, live_server, sign_in,
                                                                      second_page, browser, alice, mona):
    page = sign_in("alice")
    dallas = Region.objects.get(provider__slug="rackspace", slug="dfw")

    declare(page, "Rackspace Dallas (DFW) data center offline", "datacenter_offline",
            **{"Impacted regions": str(dallas.pk)})
    page.get_by_role("button", name="Declare").click()
    expect(page.get_by_text("declared.")).to_be_visible()
    incident = Incident.objects.get(is_drill=False)
    status_page_agrees(browser, live_server, incident)
    incident_page_agrees(page, live_server, incident)

    page.get_by_role("button", name="Execute").click()
    run = Run.objects.get(incident=incident)
    assert Incident.objects.get(pk=incident.pk).status == "responding"
    run_page_agrees(page, live_server, run)
    status_page_agrees(browser, live_server, incident)

    complete(page, "Contact Rackspace to determine the cause and the expected duration", notes="power loss",
             evidence="ticket 1")
    step(page, "Does Rackspace expect Dallas back within 8 hours?")
    page.get_by_label("No: an outage longer than 8 hours is likely").check()
    page.get_by_role("button", name="Decide").click()
    # Waiting for a manager: the run page says so, with the step, as the rows have it.
    run_page_agrees(page, live_server, run)
    expect(page.locator("section.waiting")).to_contain_text("Approve recovery in Kansas City")
    incident_page_agrees(page, live_server, incident)
    status_page_agrees(browser, live_server, incident)

    approve_as_manager(second_page, live_server, run, "Approve recovery in Kansas City")
    page.goto(f"{live_server.url}/scenarios/runs/{run.pk}/")
    skipped = [settle(page, title, "restored by hand from Cloud Files") for title in
               StepRun.objects.filter(run=run, step_id="restore-databases").values_list("title", flat=True)]
    complete(page, "Document and re-create the changes made since the images", notes="nothing changed")
    skipped.append(settle(page, "Put the off-site backups off-site again", "reconfigured by hand"))
    complete(page, "Review the new environment and restore redundancy", notes="review booked")
    if any(skipped):
        # A step a person skipped is not proven done: the run says so and the incident stays open until ops,
        # having checked the work done by hand, mark it recovered.
        expect(page.locator("#run-live .badge").first).to_have_text("Finished: not everything recovered",
                                                                     timeout=LIVE)
        assert Incident.objects.get(pk=incident.pk).status == "responding"
        run_page_agrees(page, live_server, run)
        incident_page_agrees(page, live_server, incident)
        status_page_agrees(browser, live_server, incident)
        page.get_by_role("button", name="Mark recovered").click()
    else:
        expect(page.locator("#run-live .badge").first).to_have_text("Succeeded", timeout=LIVE)

    # Recovered: the run's success (or ops, after a skip) moved the incident, and every page follows it.
    assert Incident.objects.get(pk=incident.pk).status == "recovered"
    run_page_agrees(page, live_server, run)
    incident_page_agrees(page, live_server, incident)
    status_page_agrees(browser, live_server, incident)
    # What customers were told: "restored" only for a database whose restore step succeeded.
    succeeded = set(StepRun.objects.filter(run=run, step_id="restore-databases", state=StepState.SUCCEEDED)
                    .values_list("item", flat=True))
    bodies = list(Delivery.objects.filter(notice__incident=incident).values_list("body_text", flat=True))
    assert bodies
    for body in bodies:
        assert set(RESTORED_LINE.findall(body)) <= succeeded


def test_a_drill_opens_no_incident_and_claims_no_rto_for_what_it_only_planned(demo_data, live_server, sign_in,
                                                                                 browser, alice, mona, monkeypatch):
    public = browser.new_context().new_page()
    page = sign_in("alice")
    page.goto(f"{live_server.url}/scenarios/jivosoft-server-crash/")
    page.get_by_role("button", name="Start a drill (simulated cloud only)").click()
    expect(page.get_by_text("started on the simulated cloud")).to_be_visible()
    # This test's drill: the demo's month holds older drills of the same scenario.
    drill = Drill.objects.filter(scenario_id="jivosoft-server-crash").latest("started_at")

    public.goto(f"{live_server.url}/status/")
    expect(public.locator(f"#incident-{drill.run.incident_id}")).to_have_count(0)
    assert not Incident.objects.filter(is_drill=False).exists()

    # The people's part played through the engine; the crashed server is replaced, not recovered by Rackspace,
    # so the drill's automated steps run, on the simulated cloud only: planned, not exercised.
    first = conftest._first_option
    monkeypatch.setattr(conftest, "_first_option", lambda row: "no" if row.step_id == "provider-recovers"
                        else first(row))
    finish_drill(drill, alice, mona)
    drill.refresh_from_db()
    assert Incident.objects.get(pk=drill.run.incident_id).status == "closed"
    n = len(drill.not_exercised)
    assert n > 0

    page.goto(f"{live_server.url}/scenarios/drills/")
    report = page.locator("tr", has=page.locator(f'a[href="/scenarios/drills/{drill.pk}/"]'))
    expect(report).to_contain_text("One of Jivosoft's cloud servers crashes")
    expect(report).to_contain_text(f"not measured {n} recovery step{'s' if n != 1 else ''} not exercised")
    expect(report.locator(".badge.s-ok", has_text="met")).to_have_count(0)
    page.goto(f"{live_server.url}/")
    expect(page.get_by_text("No open incidents.")).to_be_visible()
    public.goto(f"{live_server.url}/status/")
    expect(public.locator(f"#incident-{drill.run.incident_id}")).to_have_count(0)
