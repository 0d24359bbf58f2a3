"""A step's inputs: params bound, when it becomes ready, from a predecessor's outputs for the same server (the
address of a node the run provisioned), written on the step's own row before any worker reads it."""

from __future__ import annotations

import pytest

from drportal.incidents import services as incidents
from scenarios import engine
from scenarios.choices import StepState
from tests.scenarios.conftest import scenario

pytestmark = pytest.mark.django_db

STEPS = """\
- id: approve
  kind: approval
  title: Approve the recovery
  quote: "Jivasoft's staff would provision replacement servers"
  reason: "costs money"
- id: provision
  kind: automated
  title: "Provision {server} again"
  quote: "Jivasoft's staff would provision replacement servers"
  after: [approve]
  action: simulated
  for_each: server
  params: {server: "{server}"}
- id: restore
  kind: automated
  title: "Restore onto {server}"
  quote: "Customer databases would be recovered from Cloud Storage"
  after: [provision]
  action: simulated
  for_each: server
  params: {server: "{server}"}
  inputs: {host: provision.private_ips}
"""


def started(alice, mona, servers):
    incident = incidents.declare(alice, title="Dallas down", disaster_class="server_crash",
                                 impacted={"servers": servers})
    run, _ = engine.start_run(incident, scenario("inputs", STEPS), alice)
    engine.approve(run.steps.get(step_id="approve").pk, mona, approved=True)
    return run


def test_each_step_takes_the_address_its_own_server_was_provisioned_at(alice, mona, make_servers):
    run = started(alice, mona, make_servers(2, prefix="a"))
    # What the provisioning steps' rows say (as a worker would have written them).
    run.steps.filter(step_id="provision", item="a0").update(state=StepState.SUCCEEDED,
                                                             outputs={"private_ips": ["127.18.0.2"]})
    run.steps.filter(step_id="provision", item="a1").update(state=StepState.SUCCEEDED,
                                                             outputs={"private_ips": ["127.18.0.3"]})
    engine.advance(run.pk)
    hosts = dict(run.steps.filter(step_id="restore").values_list("item", "params__host"))
    assert hosts == {"a0": ["127.18.0.2"], "a1": ["127.18.0.3"]}


def test_a_provisioning_step_skipped_by_a_person_binds_nothing(alice, mona, make_servers):
    run = started(alice, mona, make_servers(1, prefix="a"))
    engine.skip_step(run.steps.get(step_id="provision").pk, alice, reason="built by hand from the console")
    restore = run.steps.get(step_id="restore")
    assert restore.state != StepState.PENDING
    assert "host" not in restore.params  # the action falls back to the address the inventory records


def test_the_loader_refuses_inputs_from_a_step_that_is_not_waited_for():
    bad = STEPS.replace("inputs: {host: provision.private_ips}", "inputs: {host: approve.private_ips}")
    with pytest.raises(AssertionError, match="must be in its 'after'"):
        scenario("inputs-bad", bad)
