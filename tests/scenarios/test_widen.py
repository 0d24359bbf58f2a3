"""Widening an incident's scope during a run (a second zone fails): the steps that have not started take the
new servers; a step whose successors already started, or a finished run, says what it did not add and why."""

from __future__ import annotations

import pytest

from drportal.audit.models import AuditEvent
from drportal.incidents import services as incidents
from drportal.inventory.models import Server, Zone
from scenarios import engine
from scenarios.choices import StepState
from tests.scenarios.conftest import drain, scenario

pytestmark = pytest.mark.django_db(transaction=True)

ZONE_LOST = scenario("zone", """\
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
- id: confirm
  kind: manual
  title: Confirm every server answers
  quote: "Check every service answers normally."
  after: [provision]
  instructions: "Check"
""").data | {"disaster_class": "datacenter_offline"}


@pytest.fixture
def two_zones(make_servers):
    first = make_servers(2, prefix="a")
    second_zone = Zone.objects.create(region=first[0].zone.region, slug="dfw2", name="Dallas 2")
    for i in range(2):
        Server.objects.create(name=f"b{i}", role="application", zone=second_zone, image="img")
    return first[0].zone, second_zone


def start(alice, zone):
    from scenarios.loader import Scenario

    spec = Scenario(id="test-zone", path="test.yaml", data=ZONE_LOST, digest="test")
    incident = incidents.declare(alice, title="Dallas 1 down", disaster_class="datacenter_offline",
                                 impacted={"zones": [zone]})
    run, _ = engine.start_run(incident, spec, alice)
    return incident, run


def items(run, step_id: str) -> set[str]:
    return set(run.steps.filter(step_id=step_id).values_list("item", flat=True))


def test_a_second_zone_adds_its_servers_to_the_steps_that_have_not_started(alice, mona, two_zones):
    first, second = two_zones
    incident, run = start(alice, first)
    assert items(run, "provision") == {"a0", "a1"}
    incidents.widen(alice, incident.pk, impacted={"zones": [second]})
    assert items(run, "provision") == {"a0", "a1", "b0", "b1"}
    run.refresh_from_db()
    assert "Added to “Provision each server again”: b0, b1" in run.note
    assert "b0" in run.bindings["servers"]
    engine.approve(run.steps.get(step_id="approve").pk, mona, approved=True)
    drain()
    assert set(run.steps.filter(step_id="provision").values_list("state", flat=True)) == {StepState.SUCCEEDED}


def test_a_zone_named_after_the_recovery_moved_on_is_named_as_not_added(alice, mona, two_zones):
    first, second = two_zones
    incident, run = start(alice, first)
    engine.approve(run.steps.get(step_id="approve").pk, mona, approved=True)
    drain()
    assert run.steps.get(step_id="confirm").state == StepState.READY
    incidents.widen(alice, incident.pk, impacted={"zones": [second]})
    run.refresh_from_db()
    assert items(run, "provision") == {"a0", "a1"}
    assert "Not added to “Provision each server again”: b0, b1 (“Confirm every server answers” has started" \
        in run.note
    assert AuditEvent.objects.filter(action="scenario_run.scope_widened", object_id=str(run.pk)).exists()


def test_a_run_with_nothing_to_act_on_takes_the_servers_named_later(alice, mona, two_zones):
    from drportal.inventory.models import Provider, Region

    empty = Region.objects.create(provider=Provider.objects.first(), slug="empty", name="Empty")
    incident = incidents.declare(alice, title="Nothing yet", disaster_class="datacenter_offline",
                                 impacted={"regions": [empty]})
    from scenarios.loader import Scenario

    run, _ = engine.start_run(incident, Scenario(id="test-zone", path="t", data=ZONE_LOST, digest="t"), alice)
    assert items(run, "provision") == {""}
    incidents.widen(alice, incident.pk, impacted={"zones": [two_zones[0]]})
    assert items(run, "provision") == {"a0", "a1"}


def test_a_closed_incident_cannot_be_widened(alice, two_zones):
    from django.core.exceptions import ValidationError

    incident, _ = start(alice, two_zones[0])
    incidents.transition(alice, incident.pk, "closed")
    with pytest.raises(ValidationError, match="only an open incident's scope can change"):
        incidents.widen(alice, incident.pk, impacted={"zones": [two_zones[1]]})
