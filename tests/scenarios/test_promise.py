"""The plan's promise is the target: a scenario's recovery-point objective defaults to what the backup policies of
the data it recovers promise, a looser figure is said out loud, and losing Dallas shows the broken promise."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
import time_machine
from django.urls import reverse

from scenarios import drills, loader, promise, readiness
from tests.scenarios.conftest import scenario_from

pytestmark = pytest.mark.django_db

DALLAS = "jivosoft-datacenter-offline"


@pytest.fixture(autouse=True)
def thursday_afternoon():
    """Mid-week, when the newest Kansas City copy is Sunday's weekly one: on a Sunday afternoon that copy is an
    hour old and losing Dallas keeps the promise (the demo's history is laid out backwards from now)."""
    with time_machine.travel(datetime(2026, 12, 3, 15, 0, tzinfo=UTC)):
        yield

LOOSER = """\
id: looser-dallas
title: Dallas offline, as the old file had it
organisation: Jivosoft
disaster_class: datacenter_offline
trigger: "A test"
objectives: {rto_minutes: 600, rpo_minutes: 10080}
owner: ops
last_reviewed: 2026-01-01
match: {providers: [rackspace, simulated]}
steps:
  - id: restore
    kind: automated
    title: "Recover {database}"
    quote: "Customer databases would be recovered from Cloud Storage"
    action: restore_database
    for_each: database
    params: {asset: "{database}"}
"""


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def test_the_dallas_scenario_aims_at_the_26_hours_the_daily_dumps_promise(demo):
    target = promise.objective(loader.library().get(DALLAS))

    assert (target.accepts_minutes, target.promise_minutes, target.policies) == (None, 26 * 60,
                                                                                 ("jv-customer-db-daily",))
    assert target.target_minutes == 26 * 60
    assert not target.looser


def test_a_scenario_that_accepts_a_week_is_told_the_plan_promises_26_hours(demo):
    target = promise.objective(scenario_from(LOOSER))

    assert target.looser
    assert target.target_minutes == 26 * 60  # the promise stays the bar
    assert target.sentence == "This scenario accepts up to 7 d; the plan promises 1 d 2 h (jv-customer-db-daily)."


def test_readiness_says_the_looser_scenario_and_the_broken_promise_in_words(demo):
    from drportal.lib import clock

    looser = scenario_from(LOOSER)
    check = readiness.promise_check(looser, readiness.scope_servers(looser), clock.now())

    assert (check.ok, check.blocking) == (False, False)
    assert "This scenario accepts up to 7 d; the plan promises 1 d 2 h" in check.detail


def test_readiness_of_dallas_says_losing_it_breaks_the_promise(demo):
    from drportal.lib import clock

    dallas = loader.library().get(DALLAS)
    check = readiness.promise_check(dallas, readiness.scope_servers(dallas), clock.now())

    assert check.ok is False
    assert check.detail.startswith("This breaks the plan's promise: losing its servers now would lose up to ")
    assert check.detail.endswith("the plan promises no more than 1 d 2 h.")


def test_the_plan_page_shows_that_losing_dallas_breaks_the_promise(demo, client_as):
    page = text(client_as("mona").get(reverse("scenarios:plan")))

    section = page.split("Rackspace&#x27;s Dallas data center goes offline", 1)[1].split("<section", 1)[0]
    assert "recovery point 1 d 2 h, the plan&#x27;s promise (jv-customer-db-daily)" in section
    assert "This breaks the plan&#x27;s promise: losing its servers now would lose up to" in section


def test_the_plan_pdf_says_it_too(demo, client_as):
    from tests.scenarios.test_plan_pdf import pdf_text

    pdf = pdf_text(client_as("mona").get(reverse("scenarios:plan-pdf")))

    assert "This breaks the plan's promise: losing its servers now would lose up to" in pdf


def test_the_dallas_drill_report_shows_the_broken_promise(demo, alice, client_as):
    drill = drills.start_drill(loader.library().get(DALLAS), alice)

    assert drill.rpo_objective_minutes == 26 * 60
    assert drill.recovery_point is not None
    assert drill.rpo_met is False
    page = text(client_as("mona").get(reverse("scenarios:drills")))
    assert "1 d 2 h <span class=\"error\">broken</span>" in page
    assert "This breaks the plan&#x27;s promise: this recovery would lose up to" in page


def test_the_dallas_run_page_shows_the_objective_as_the_plans_promise(demo, alice, client_as):
    run = drills.start_drill(loader.library().get(DALLAS), alice).run

    page = text(client_as("alice").get(reverse("scenarios:run", args=[run.pk])))

    assert "Recovery point objective: recovery point 1 d 2 h, the plan&#x27;s promise (jv-customer-db-daily)." in page
