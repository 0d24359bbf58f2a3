"""A drill's scope is chosen (or defaulted) as an incident's is, shown before it starts, and bounded by the
scenario's match rules: a single-server scenario drills one server, not every server of the demo."""

from __future__ import annotations

import pytest
from django.urls import reverse

from drportal.inventory.models import Region, Server
from scenarios import drills, engine, loader
from scenarios.models import StepRun

pytestmark = pytest.mark.django_db


def scenario(scenario_id: str):
    return loader.library().get(scenario_id)


def test_a_single_server_scenario_drills_one_server_holding_databases(demo, alice):
    drill = drills.start_drill(scenario("jivosoft-server-crash"), alice)
    provisions = list(StepRun.objects.filter(run=drill.run, step_id="provision").values_list("item", flat=True))
    assert len(provisions) == 1
    server = Server.objects.get(name=provisions[0])
    assert server.zone.region.provider.slug == "rackspace"
    assert drill.run.incident.scope["servers"] == [server.pk]
    restores = set(StepRun.objects.filter(run=drill.run, step_id="restore-databases").values_list("item", flat=True))
    assert restores
    assert restores <= set(server.assets.filter(kind="database").values_list("name", flat=True))


def test_a_data_center_drill_takes_the_region_of_the_scenarios_own_provider(demo, alice):
    drill = drills.start_drill(scenario("jivosoft-datacenter-offline"), alice)
    dallas = Region.objects.get(provider__slug="rackspace", slug="dfw")
    provisions = set(StepRun.objects.filter(run=drill.run, step_id="provision-kc").values_list("item", flat=True))
    assert provisions == set(Server.objects.filter(zone__region=dallas).values_list("name", flat=True))
    assert list(drill.run.incident.impacted_regions.all()) == [dallas]


def test_a_drill_of_more_servers_than_the_scenario_allows_is_refused(demo):
    two = Server.objects.filter(zone__region__provider__slug="rackspace").order_by("name")[:2]
    with pytest.raises(engine.EngineError, match="acts on 0 to 1 servers; 2 were chosen"):
        drills.chosen_scope(scenario("jivosoft-server-crash"), [str(s.pk) for s in two])


def test_a_drill_of_a_server_the_scenario_does_not_match_is_refused(demo):
    aws = Server.objects.get(name="cyb-app1")
    with pytest.raises(engine.EngineError, match="only act on servers the scenario matches"):
        drills.chosen_scope(scenario("jivosoft-server-crash"), [str(aws.pk)])


def test_the_scenario_page_says_what_a_drill_acts_on_before_it_starts(demo, client_as):
    page = client_as("alice").get(reverse("scenarios:detail", args=["jivosoft-server-crash"])).content.decode()
    server = drills.default_scope(scenario("jivosoft-server-crash"))["servers"][0]
    assert server.name.startswith("jv-db")
    assert f"A drill acts on: <strong>{server.name}</strong>" in page
