"""The seed plans run end to end as drills (automated steps on the simulated cloud), through their branches."""

from __future__ import annotations

import pytest

from scenarios import drills, engine, loader
from scenarios.choices import RunState, StepState
from tests.scenarios.conftest import drain

pytestmark = pytest.mark.django_db(transaction=True)


def states(run) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for step_id, state in run.steps.values_list("step_id", "state"):
        out.setdefault(step_id, set()).add(state)
    return out


def step(run, step_id: str):
    return run.steps.get(step_id=step_id, item="")


def finish_handover(run, step_id: str, alice) -> None:
    row = step(run, step_id)
    assert (row.state, row.outputs.get("handover")) == (StepState.WAITING, "send by hand")
    engine.complete_step(row.pk, alice, notes="sent")


def test_dallas_offline_recovers_in_kansas_city_when_the_outage_is_long(demo, alice, mona):
    scenario = loader.library().get("jivosoft-datacenter-offline")
    run = drills.start_drill(scenario, alice).run
    drain()
    finish_handover(run, "notify-outage", alice)
    engine.complete_step(step(run, "ask-provider").pk, alice, evidence="Rackspace ticket 1")
    engine.decide(step(run, "within-8-hours").pk, alice, "longer")
    assert states(run)["wait-8-hours"] == {"skipped"}
    assert states(run)["still-down"] == {"skipped"}
    engine.approve(step(run, "approve-failover").pk, mona, approved=True, notes="go")
    drain()
    assert states(run)["provision-kc"] == {"succeeded"}
    assert run.steps.filter(step_id="provision-kc").count() == 7  # every Jivosoft server in Dallas
    assert states(run)["dns-cutover"] == {"succeeded"}
    assert states(run)["verify-dns"] == {"succeeded"}
    finish_handover(run, "notify-data-loss", alice)
    engine.complete_step(step(run, "recreate-changes").pk, alice, notes="cron jobs re-created")
    drain()
    finish_handover(run, "notify-restored", alice)
    drain()
    assert states(run)["reconfigure-offsite"] == {"succeeded"}
    engine.complete_step(step(run, "review").pk, alice, notes="review held")
    run.refresh_from_db()
    assert run.state == RunState.SUCCEEDED
    assert states(run)["confirm-back"] == {"skipped"}


def test_dallas_offline_waits_then_recovers_when_still_down(make_servers, alice, mona):
    make_servers(1, provider="rackspace")
    run = drills.start_drill(loader.library().get("jivosoft-datacenter-offline"), alice).run
    engine.complete_step(step(run, "ask-provider").pk, alice, evidence="t")
    engine.decide(step(run, "within-8-hours").pk, alice, "within")
    assert states(run)["approve-failover"] == {"pending"}
    wait = step(run, "wait-8-hours")
    assert (wait.due_at - wait.ready_at).total_seconds() == 3600  # first hourly reminder
    engine.end_wait(wait.pk, alice, notes="8 hours passed")
    engine.decide(step(run, "still-down").pk, alice, "down")
    assert states(run)["approve-failover"] == {"ready"}
    assert states(run)["confirm-back"] == {"skipped"}


def test_a_server_crash_the_provider_fixes_needs_no_provisioning(make_servers, alice):
    make_servers(1, provider="rackspace")
    run = drills.start_drill(loader.library().get("jivosoft-server-crash"), alice).run
    engine.complete_step(step(run, "ask-provider").pk, alice, evidence="t")
    engine.decide(step(run, "provider-recovers").pk, alice, "yes")
    skipped = {k for k, v in states(run).items() if v == {"skipped"}}
    assert {"approve-provision", "provision", "restore-databases", "transfer-ip", "dns-cutover", "verify-dns",
            "recreate-changes", "notify-restored"} <= skipped
    engine.complete_step(step(run, "confirm-recovered").pk, alice, notes="all good")
    assert states(run)["review"] == {"ready"}


def test_every_seed_scenario_starts_as_a_drill(make_servers, alice):
    make_servers(1, provider="rackspace", prefix="rs")
    make_servers(1, provider="aws", prefix="aw")
    for scenario in loader.library().scenarios.values():
        drill = drills.start_drill(scenario, alice)
        assert drill.run.steps.exclude(state="pending").exists(), scenario.id


def test_customer_notices_name_the_public_summary_never_the_internal_title():
    library = loader.library()
    customer_notices = [(s.id, step) for s in library.scenarios.values() for step in s.steps
                        if step["kind"] == "notify" and step.get("audience") == "customers"]
    assert len(customer_notices) >= 6
    for scenario_id, step in customer_notices:
        text = f"{step.get('subject', '')} {step.get('body', '')}"
        assert "{incident_title}" not in text, (scenario_id, step["id"])


def test_the_public_summary_is_bound_for_notices(make_servers, declare):
    incident = declare(servers=make_servers(1), title="web0 disk controller died", public_summary="Slow logins")
    bindings = engine.incident_bindings(incident, loader.library().get("jivosoft-server-crash"))
    assert (bindings["public_summary"], bindings["incident_title"]) == ("Slow logins", "web0 disk controller died")
