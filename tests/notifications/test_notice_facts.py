"""Notices state facts, not hopes: a runbook notice says a customer's data was restored only when the run's
restore step for each of their databases succeeded, and names the point it restored to; otherwise it says
what is still missing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine

from notifications import api, notices
from notifications.models import Notice
from scenarios import loader
from scenarios.choices import StepState
from scenarios.models import Run, StepRun
from tests.notifications.factories import crash

NOW = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)
CLAIM = "Your databases were restored from the most recent off-site backup."


@pytest.fixture
def outage(world):
    """Dallas is down; the run restored acme's database, and globex's did not come back."""
    with time_machine.travel(NOW, tick=False):
        incident = crash(world, disaster_class="datacenter_offline", impacted={"regions": [world.dfw]})
    run = Run.objects.create(incident=incident, scenario_id="t", scenario_title="T", digest="x", started_at=NOW,
                             started_by=world.users["alice"], spec={"objectives": {"rto_minutes": 60}, "steps": [
                                 {"id": "restore", "kind": "automated", "action": "restore_database"}]})
    return world, incident, run


def restore_step(run, database: str, state: str, **fields) -> StepRun:
    return StepRun.objects.create(run=run, step_id="restore", item=database, kind="automated", state=state,
                                  title=f"Recover {database}", idempotency_key=f"k-{database}", **fields)


def notice_for(incident, body: str = CLAIM) -> Notice:
    with time_machine.travel(NOW, tick=False):
        result = api.notify_customers(incident_id=incident.pk, subject="Your data after the recovery", body=body,
                                      dedupe_key=f"test:{body[:20]}")
    return Notice.objects.get(pk=result["notice"])


def test_restored_is_said_only_to_the_customer_whose_restore_succeeded_with_its_point(outage):
    world, incident, run = outage
    restore_step(run, "acme-db", StepState.SUCCEEDED,
                 outputs={"backup": {"recovery_point": "2026-11-18T15:00:00+00:00"}})
    restore_step(run, "globex-db", StepState.FAILED, error="no viable copy in Kansas City")
    notice = notice_for(incident)
    acme = notices.preview(notice, world.customers["acme"], NOW).text
    globex = notices.preview(notice, world.customers["globex"], NOW).text
    assert CLAIM in acme
    assert "- acme-db: restored from the copy of 2026-11-18 09:00 CST." in acme
    assert CLAIM not in globex
    assert "not all of your databases are restored yet" in globex
    assert "- globex-db: not restored by the recovery (no viable copy in Kansas City)." in globex


@pytest.mark.parametrize("state", [StepState.FAILED, StepState.SKIPPED, StepState.NOT_APPLICABLE,
                                   StepState.PENDING])
def test_no_restore_claim_when_the_restore_step_did_not_succeed(outage, state):
    world, incident, run = outage
    restore_step(run, "acme-db", state, skip_reason="no server in the incident's scope")
    text = notices.preview(notice_for(incident), world.customers["acme"], NOW).text
    assert "restored from" not in text
    assert CLAIM not in text
    assert "- acme-db: not restored by the recovery (" in text


def test_no_restore_claim_when_the_run_restored_nothing(outage):
    world, incident, _run = outage
    text = notices.preview(notice_for(incident), world.customers["acme"], NOW).text
    assert CLAIM not in text


def test_every_seed_notify_step_that_claims_a_restore_is_guarded(outage):
    world, incident, run = outage
    restore_step(run, "acme-db", StepState.SKIPPED, skip_reason="skipped by ops")
    claims = [s["body"] for sc in loader.library().scenarios.values() for s in sc.steps
              if s["kind"] == "notify" and api.RESTORE_CLAIM.search(s.get("body", ""))]
    assert claims, "the seeds have restore claims to check"
    for body in claims:
        text = notices.preview(notice_for(incident, body), world.customers["acme"], NOW).text
        assert body not in text
        assert api.NOT_YET_RESTORED in text


def test_the_restored_template_says_restored_only_once_the_incident_is_recovered(outage):
    from drportal.incidents import services
    from notifications.choices import NoticeKind

    world, incident, run = outage
    restore_step(run, "acme-db", StepState.SUCCEEDED,
                 outputs={"backup": {"recovery_point": "2026-11-18T15:00:00+00:00"}})
    with time_machine.travel(NOW, tick=False):
        notice = notices.create_notice(world.users["sam"], incident, NoticeKind.RESTORED)
    early = notices.preview(notice, world.customers["acme"], NOW)
    assert "Recovery in progress" in early.subject
    assert "available again" not in early.text
    with time_machine.travel(NOW, tick=False):
        services.transition(world.users["alice"], incident.pk, "recovered")
    notice.refresh_from_db()
    late = notices.preview(notice, world.customers["acme"], NOW)
    assert late.subject.endswith("Service restored")
    assert "The service is available again since 2026-11-21 09:00 CST." in late.text
    assert "- acme-db: restored from the copy of 2026-11-18 09:00 CST." in late.text
