"""No empty placeholder anywhere people read: every seed scenario, started for every scope the demo allows
(nothing named, the scope a person would name, each server the scenario matches on its own, each region),
renders step titles, notices and the run and incident pages without "{name}", "()", "( on )", "None" or
"in None"; and the scenario validator refuses a placeholder the scenario's class cannot bind."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from drportal.incidents import services as incidents
from drportal.inventory.models import Region
from scenarios import engine, loader
from scenarios.choices import StepKind
from scenarios.readiness import scope_servers
from tests.scenarios.conftest import HEADER
from tests.scenarios.test_incident_scope import DECLARED, named

# "None yet." and "None of your data..." are sentences; a Python None leaking into a text is not.
EMPTY = re.compile(r"\{[a-z_]+\}|\(\s*\)|\(\s*on\s*\)|\bin None\b|\bNone\b(?! yet| of)|“\s*”")


def scopes(scenario) -> list[dict]:
    declared = {kind: named(kind, names) for kind, names in DECLARED[scenario.id].items()}
    found = [{}, declared]
    found += [{"servers": [server]} for server in scope_servers(scenario)]
    found += [{"regions": [region]} for region in Region.objects.all()]
    return found


def texts_of(run) -> list[str]:
    out = []
    for row in run.steps.all():
        out.append(row.title)
        if row.kind == StepKind.NOTIFY:
            names = {**run.bindings, "server": row.item}
            out += [engine.bind(row.spec.get("subject", ""), names), engine.bind(row.spec.get("body", ""), names)]
        out += [str(v) for v in row.params.values() if isinstance(v, str)]
    return out


@pytest.mark.django_db
@pytest.mark.parametrize("scenario_id", sorted(DECLARED))
def test_every_seed_scenario_renders_without_an_empty_placeholder_for_every_scope(demo, alice, client_as,
                                                                                 scenario_id):
    scenario = loader.library().get(scenario_id)
    client = client_as("alice")
    for impacted in scopes(scenario):
        incident = incidents.declare(alice, title=f"{scenario.title}", disaster_class=scenario.disaster_class,
                                     public_summary="Our service is interrupted", impacted=impacted or None)
        before = client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()
        run, _ = engine.start_run(incident, scenario, alice)
        after = client.get(reverse("scenarios:run", args=[run.pk])).content.decode()
        for text in [*texts_of(run), visible(before), visible(after)]:
            found = EMPTY.search(text)
            assert not found, f"{impacted}: {found.group()!r} in {text[max(0, found.start() - 150):found.end() + 80]!r}"


def visible(html: str) -> str:
    """The page's text, without tags, scripts and attribute values."""
    html = re.sub(r"<script.*?</script>|<style.*?</style>", " ", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


def parse(steps: str, **top):
    extra = "".join(f"{k}: {v}\n" for k, v in top.items())
    text = HEADER.format(name="placeholders").replace("steps:\n", extra + "steps:\n") + steps
    return loader.parse(text, "test.yaml", loader.installed_actions())


STEP = """\
- id: provision
  kind: automated
  title: "{title}"
  quote: "Jivasoft's staff would provision replacement servers"
  action: simulated
  params: {{server: "{{server}}"}}
  {extra}
"""


def test_a_per_server_name_outside_a_fan_out_is_refused():
    _, errors = parse(STEP.format(title="Provision {server}", extra=""))
    assert any("uses {server} in its title, but the step does not run for each server" in e.reason for e in errors)


def test_a_target_region_the_scenario_does_not_name_is_refused():
    _, errors = parse(STEP.format(title="Provision {server} in {target_region}", extra="for_each: server"))
    assert [e.reason for e in errors] == [
        "step 'provision' uses {target_region} in its title, but the scenario names no target_region"]


def test_a_failed_region_in_a_single_server_class_is_refused():
    _, errors = parse(STEP.format(title="Copy {server} off {failed_region}", extra="for_each: server"))
    assert any("a single-server disaster class has no failed region" in e.reason for e in errors)


def test_an_unknown_name_is_refused():
    _, errors = parse(STEP.format(title="Provision {servr}", extra="for_each: server"))
    assert any("uses {servr} in its title, but its run has no such name" in e.reason for e in errors)


def test_names_the_step_can_bind_are_accepted():
    scenario, errors = parse(STEP.format(title="Provision {server} in {target_region}", extra="for_each: server"),
                             target_region="rackspace/mci")
    assert errors == []
    assert scenario is not None


def test_a_target_region_in_an_actions_params_the_scenario_does_not_name_is_refused():
    step = STEP.replace('params: {{server: "{{server}}"}}',
                        'params: {{server: "{{server}}", region: "{{target_region}}"}}')
    _, errors = parse(step.format(title="Provision {server}", extra="for_each: server"))
    assert [e.reason for e in errors] == [
        "step 'provision' uses {target_region} in its params, but the scenario names no target_region"]


def test_the_validator_catches_the_all_datacenters_scenario_without_its_target_region(tmp_path):
    # The seed once rebuilt Cybernance "in another region" without naming one: its params were bound to "",
    # so the deployment would have rebuilt in the account's default region, the one that was lost.
    seed = loader.library().get("cybernance-all-datacenters-lost")
    assert seed.data["target_region"] == "aws/us-west-2"
    text = open(seed.path, encoding="utf-8").read()
    unnamed = re.sub(r"(?m)^target_region: .*\n", "", text)
    _, errors = loader.parse(unnamed, "cybernance-all-datacenters-lost.yaml", loader.installed_actions())
    assert sorted(e.reason for e in errors) == [
        "step 'load-balancer' uses {target_region} in its params, but the scenario names no target_region",
        "step 'reprovision' uses {target_region} in its params, but the scenario names no target_region",
        "step 'restore-database' uses {target_region} in its params, but the scenario names no target_region"]


def test_every_seed_scenario_binds_each_placeholder_of_its_params_to_a_value(demo, alice):
    """Started for the scope a person would name, no action parameter written as a {placeholder} is bound to
    nothing, except a target the run reports as not applicable (engine.target_gap) or storage the action
    finds itself when none is attached."""
    may_be_empty = engine.TARGET_NAMES | {"attached_storage"}
    for scenario_id in sorted(DECLARED):
        scenario = loader.library().get(scenario_id)
        impacted = {kind: named(kind, names) for kind, names in DECLARED[scenario_id].items()}
        incident = incidents.declare(alice, title=scenario.title, disaster_class=scenario.disaster_class,
                                     public_summary="Our service is interrupted", impacted=impacted or None)
        run, _ = engine.start_run(incident, scenario, alice)
        for row in run.steps.filter(kind=StepKind.AUTOMATED):
            for key, written in row.spec.get("params", {}).items():
                if engine.placeholders(written) - may_be_empty:
                    assert row.params[key] not in ("", None, []), f"{scenario_id} {row.title}: {key}={written}"
