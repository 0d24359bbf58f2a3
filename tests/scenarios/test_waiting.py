"""The run asks for people: steps waiting for a person are named at the top of the run page with who may act,
and their role is paged once a step has waited longer than the scenario allows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from notifications.models import StaffPage
from scenarios import engine, loader, waiting

START = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)


@pytest.fixture
def run(declare, alice):
    with time_machine.travel(START, tick=False):
        started, _ = engine.start_run(declare(), loader.library().get("jivosoft-server-crash"), alice)
    return started


def test_the_run_page_says_at_the_top_which_step_waits_for_whom(client_as, run):
    with time_machine.travel(START + timedelta(minutes=7), tick=False):
        page = client_as("sam").get(reverse("scenarios:run", args=[run.pk])).content.decode()
    top = page.index("Waiting for people (1)")
    assert top < page.index("<thead><tr><th>Step</th>")
    assert top < page.index("Data-loss window")
    ask = run.steps.get(step_id="ask-provider")
    assert ("<strong>Contact Rackspace to determine the cause of the server outage</strong> waits for someone "
            "to do it and mark it done, for 7 min.") in page
    assert "Who may act: ops (alice)" in page
    assert f'<a class="button" href="{reverse("scenarios:step", args=[ask.pk])}">Do it</a>' in page


def test_an_approval_waits_for_a_manager(client_as, run, alice):
    engine.complete_step(run.steps.get(step_id="ask-provider").pk, alice, evidence="t1")
    engine.decide(run.steps.get(step_id="provider-recovers").pk, alice, "no")
    page = client_as("alice").get(reverse("scenarios:run", args=[run.pk])).content.decode()
    assert "Who may act: manager (mona)" in page
    assert ">Approve or refuse</a>" in page


def test_ops_is_paged_once_when_a_step_waited_longer_than_the_scenario_allows(run):
    assert waiting.page_waiting(START + timedelta(minutes=14)) == 0
    assert waiting.page_waiting(START + timedelta(minutes=16)) == 1
    assert waiting.page_waiting(START + timedelta(minutes=17)) == 0  # once per wait
    [page] = StaffPage.objects.all()
    assert page.role == "ops"
    assert page.subject == "Waiting for ops for 16 min: Contact Rackspace to determine the cause of the server outage"
    assert page.link.endswith(reverse("scenarios:run", args=[run.pk]))


def test_the_limit_is_set_per_scenario(run):
    run.spec = {**run.spec, "page_waiting_after_minutes": 5}
    run.save(update_fields=["spec"])
    assert waiting.page_waiting(START + timedelta(minutes=6)) == 1


def test_a_scenario_file_may_set_the_limit_and_must_set_it_sensibly():
    source = loader.library().get("jivosoft-server-crash").path
    text = open(source).read()
    good, errors = loader.parse(text + "page_waiting_after_minutes: 10\n", "x.yaml", loader.installed_actions())
    assert errors == []
    assert good.data["page_waiting_after_minutes"] == 10
    _, errors = loader.parse(text + "page_waiting_after_minutes: 0\n", "x.yaml", loader.installed_actions())
    assert "page_waiting_after_minutes" in errors[0].reason
