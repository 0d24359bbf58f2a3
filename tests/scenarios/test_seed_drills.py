"""Every seed scenario drills to completion on the demo data: the inventories of both seed companies, their demo
backup history and the simulated twins of their cloud accounts (what `manage.py load_demo` loads).

A test actor does the people's part (completes manual steps, answers decisions with the branch that does the
most recovery work, ends waits, sends by hand the notices no channel sends), a manager approves, and the
workers run the automated steps. In a drill each automated step first asks the real action what it would do
with its parameters (on the simulated twins), so a scenario whose parameters the action rejects fails here."""

from __future__ import annotations

import pytest

from scenarios import drills, loader
from scenarios.choices import RunState, StepKind, StepState
from scenarios.demo import play_people  # the people's part, as the demo's month of drills plays it
from tests.scenarios.conftest import drain

pytestmark = pytest.mark.django_db(transaction=True)

SEEDS = [
    "jivosoft-office-power-internet", "jivosoft-office-destroyed", "jivosoft-server-crash",
    "jivosoft-datacenter-offline", "cybernance-rds-primary-failure", "cybernance-database-total-loss",
    "cybernance-app-server-lost", "cybernance-redis-failover", "cybernance-redis-total-loss",
    "cybernance-all-datacenters-lost", "cybernance-github-lost", "cybernance-customer-termination",
    "jivosoft-return-home", "cybernance-return-home",
]


def drill_to_the_end(scenario_id: str, alice, mona):
    run = drills.start_drill(loader.library().get(scenario_id), alice).run
    for _ in range(50):
        drain()
        run.refresh_from_db()
        if run.state != RunState.RUNNING or not play_people(run, alice, mona):
            break
    drain()
    run.refresh_from_db()
    return run


@pytest.mark.parametrize("scenario_id", SEEDS)
def test_the_seed_scenario_drills_to_completion_on_the_demo_data(scenario_id, demo, alice, mona):
    run = drill_to_the_end(scenario_id, alice, mona)

    failed = {f"{r.step_id}[{r.item}]": r.error for r in run.steps.filter(state=StepState.FAILED)}
    assert failed == {}
    assert run.state == RunState.SUCCEEDED
    automated = run.steps.filter(kind=StepKind.AUTOMATED)
    for row in automated:
        assert row.state == StepState.SUCCEEDED or row.skip_reason.startswith("branch not taken"), (
            row.step_id, row.item, row.state, row.skip_reason)
    for row in automated.filter(state=StepState.SUCCEEDED):
        action = row.spec["action"]
        assert any(f"{action} would:" in line or f"{action} could not be checked" in line for line in row.log), (
            row.step_id, row.log)
    assert run.drill_record.finished_at == run.finished_at


def test_the_drill_recovers_every_customer_database_of_dallas_from_kansas_city(demo, alice, mona):
    run = drill_to_the_end("jivosoft-datacenter-offline", alice, mona)

    restores = run.steps.filter(step_id="restore-databases")
    # The nine active customers' databases on jv-db1..3, one step each (Comal Logistics has left: not served).
    assert restores.count() == 9
    assert set(restores.values_list("state", flat=True)) == {StepState.SUCCEEDED}
    alamo = restores.get(item="jv-db-alamo-freight")
    assert alamo.title == "Recover jv-db-alamo-freight (on jv-db1) from Cloud Storage in Kansas City"
    assert any("jv-customer-db-weekly-kansas-city" in line for line in alamo.log), alamo.log


def test_a_drill_step_whose_parameters_the_real_action_rejects_fails_with_its_reason(demo, alice):
    from tests.scenarios.conftest import scenario

    broken = scenario("bad-restore", """\
        - id: restore
          kind: automated
          title: Restore the databases of jv-db1
          quote: "databases would be recovered from Cloud Storage"
          action: restore_database
          params: {server: jv-db1}
        """)
    run = drills.start_drill(broken, alice).run
    drain()

    row = run.steps.get(step_id="restore")
    assert row.state == StepState.FAILED
    assert "params.asset: name the database of jv-db1 to restore" in row.error


def test_a_drill_never_lets_a_simulated_account_reach_real_aws(demo, alice, mona):
    run = drill_to_the_end("cybernance-app-server-lost", alice, mona)

    rotate = run.steps.filter(step_id="rotate").first()
    assert rotate.state == StepState.SUCCEEDED
    assert any("could not be checked on the simulated cloud: elbv2: the simulated cloud offers no elbv2" in line
               for line in rotate.log), rotate.log
