"""Where a scenario's target region comes from, said where people read it: the plan's own sentence, or (the
Cybernance plan names no region to rebuild in) that drportal's configuration chose it, never as the plan's."""

from __future__ import annotations

import html

import pytest
from django.urls import reverse

from scenarios import loader
from tests.scenarios.conftest import HEADER
from tests.scenarios.test_plan_pdf import pdf_text

pytestmark = pytest.mark.django_db

CHOSEN = "target region chosen by drportal's configuration, not the plan"


def test_the_cybernance_rebuild_region_is_shown_as_drportals_choice_on_the_scenario_page(client_as):
    page = html.unescape(client_as("alice").get(
        reverse("scenarios:detail", args=["cybernance-all-datacenters-lost"])).content.decode())
    assert f"Target region:</strong> aws/us-west-2 — {CHOSEN}" in page
    assert "named by the plan" not in page


def test_the_kansas_city_region_is_shown_with_the_plans_sentence_naming_it(client_as):
    page = html.unescape(client_as("alice").get(
        reverse("scenarios:detail", args=["jivosoft-datacenter-offline"])).content.decode())
    assert "Target region:</strong> rackspace/mci — named by the plan: “Jivasoft's staff would provision" in page
    assert "stored in the Rackspace data center in Kansas City, Missouri.”" in page


def test_the_plan_page_and_its_pdf_never_say_the_plan_named_the_cybernance_region(client_as):
    client = client_as("mona")
    page = html.unescape(client.get(reverse("scenarios:plan")).content.decode())
    assert f"Target region:</strong> aws/us-west-2 — {CHOSEN}" in page
    text = " ".join(pdf_text(client.get(reverse("scenarios:plan-pdf"))).split())
    assert f"Target region: aws/us-west-2 — {CHOSEN}" in text


def test_a_quote_without_a_region_says_nothing_and_a_region_without_a_quote_is_never_the_plans():
    header = HEADER.format(name="q").replace("steps:\n", 'target_region_quote: "We would move to Oregon."\nsteps:\n')
    quoted_only, errors = loader.parse(header + """\
- id: ask
  kind: manual
  title: Ask
  quote: "Jivosoft staff would contact Rackspace first"
  instructions: "Ask"
""", "q.yaml", loader.installed_actions())
    assert errors == []
    assert quoted_only.target_region_source == ""
    bare = loader.Scenario(id="b", path="", digest="", data={**quoted_only.data, "target_region": "aws/us-west-2",
                                                              "target_region_quote": "  "})
    assert bare.target_region_source == CHOSEN
