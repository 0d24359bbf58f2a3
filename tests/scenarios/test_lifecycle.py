"""One incident lifecycle: the run page, the incident page, the public status page and the dashboard agree at
each stage; a drill is never an open incident and never on the status page."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from backups.sweep import down_locations
from drportal.audit.models import AuditEvent
from drportal.incidents.models import Incident
from scenarios import drills, engine
from tests.scenarios.conftest import scenario

ONE_MANUAL_STEP = """\
  - id: fix
    kind: manual
    title: Fix the server
    quote: "We would fix the server."
    instructions: "Fix it."
    assignee_role: ops
"""


def badge(page: str, of: str) -> str:
    """The text of the first badge after `of` on a page."""
    found = re.search(re.escape(of) + r'.*?<span class="badge s-\w+">([^<]+)</span>', page, re.S)
    assert found, f"no badge after {of!r}"
    return found.group(1)


def stage(client, incident: Incident, run) -> dict[str, str]:
    """What each page says about the incident now."""
    incident_page = client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()
    run_page = client.get(reverse("scenarios:run", args=[run.pk])).content.decode()
    status_page = client.get(reverse("status:incident", args=[incident.pk]))
    return {
        "incident page": badge(incident_page, f"#{incident.pk} {incident.title}"),
        "run page": badge(run_page, "· incident"),
        "status page": status_page.content.decode() if status_page.status_code == 200 else "not shown",
    }


@pytest.fixture
def dallas(declare):
    incident = declare(title="db1 down", public_summary="Jivosoft Online is unavailable")
    incident.severity = "sev1"
    incident.save(update_fields=["severity"])
    return incident


def test_the_incident_and_the_status_page_follow_the_run_to_recovery(client_as, dallas, alice):
    client = client_as("alice")
    assert Incident.objects.get(pk=dallas.pk).status == "declared"
    run, _ = engine.start_run(dallas, scenario("one", ONE_MANUAL_STEP), alice)
    now = stage(client, dallas, run)
    assert (now["incident page"], now["run page"]) == ("Responding", "Responding")
    assert "Recovering" in now["status page"]
    engine.complete_step(run.steps.get().pk, alice, notes="rebooted")
    now = stage(client, dallas, run)
    assert (now["incident page"], now["run page"]) == ("Recovered", "Recovered")
    assert "Resolved" in now["status page"]
    assert "Investigating" not in now["status page"]
    assert AuditEvent.objects.filter(action="incident.recovered", object_id=str(dallas.pk), actor=alice).exists()


def test_a_failed_or_aborted_run_leaves_the_incident_open_and_says_what_to_do(client_as, dallas, alice):
    run, _ = engine.start_run(dallas, scenario("one", ONE_MANUAL_STEP), alice)
    engine.abort(run.pk, alice, reason="done by hand")
    page = client_as("alice").get(reverse("incidents:detail", args=[dallas.pk])).content.decode()
    assert Incident.objects.get(pk=dallas.pk).status == "responding"
    assert "The run was aborted: the incident stays open." in page


def test_a_drill_is_never_an_open_incident_nor_on_the_status_page(client_as, make_servers, alice):
    servers = make_servers(1, provider="rackspace")
    drill = drills.start_drill(scenario("one", ONE_MANUAL_STEP), alice, servers=servers)
    incident = drill.run.incident
    dashboard = client_as("alice").get(reverse("dashboard")).content.decode()
    assert '<span class="tile-value">0</span> <span class="tile-label">Open incidents</span>' in dashboard
    assert servers[0].zone_id not in down_locations()[0]  # a drill takes no zone down for the backups
    assert client_as("alice").get(reverse("status:incident", args=[incident.pk])).status_code == 404
    engine.complete_step(drill.run.steps.get().pk, alice, notes="rehearsed")
    assert Incident.objects.get(pk=incident.pk).status == "closed"
