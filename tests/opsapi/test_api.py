"""The incident and run API: a token acts as its user (or its role's service user) with the pages' roles, and
every change goes through the pages' own functions, so it is validated and audited the same way."""

from __future__ import annotations

import json
import re

import pytest
from django.core.management import call_command

from drportal.audit.models import AuditEvent
from drportal.incidents.models import Incident
from drportal.inventory.models import Provider, Region, Server, Zone
from drportal.opsapi import tokens
from drportal.opsapi.openapi import fragment
from scenarios import engine
from scenarios.models import Run


@pytest.fixture
def jivosoft(db):
    rackspace = Provider.objects.create(slug="rackspace", name="Rackspace", kind="rackspace")
    dfw = Region.objects.create(provider=rackspace, slug="dfw", name="Dallas")
    zone = Zone.objects.create(region=dfw, slug="dfw1", name="Dallas DC")
    return Server.objects.create(name="web1", role="application", zone=zone)


@pytest.fixture
def api(client, users, ada):
    """api("alice").get(path) / .post(path, body): calls with a token bound to that user."""

    class Caller:
        def __init__(self, raw: str):
            self.headers = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}

        def get(self, path: str):
            return client.get(f"/api/v1/{path}", **self.headers)

        def post(self, path: str, body: dict | None = None):
            return client.post(f"/api/v1/{path}", data=json.dumps(body or {}), content_type="application/json",
                               **self.headers)

    def as_user(name: str) -> Caller:
        return Caller(tokens.issue(f"{name}'s tool", user=users[name], created_by=ada)[1])

    return as_user


def declare_body(**extra) -> dict:
    return {"title": "web1 is down", "severity": "sev2", "disaster_class": "server_crash",
            "impacted": {"servers": ["web1"]}, **extra}


def test_ops_declare_an_incident_through_the_api_and_it_is_audited(api, jivosoft):
    response = api("alice").post("incidents/", declare_body())
    assert response.status_code == 201, response.content
    body = response.json()
    incident = Incident.objects.get()
    assert (body["id"], body["impacted"]["servers"], body["declared_by"]) == (incident.pk, ["web1"], "alice")
    assert AuditEvent.objects.filter(action="incident.declared", object_id=str(incident.pk)).exists()


def test_support_can_read_incidents_but_not_declare(api, jivosoft):
    support = api("sam")
    assert support.post("incidents/", declare_body()).status_code == 403
    api("alice").post("incidents/", declare_body())
    listing = support.get("incidents/?status=open").json()["incidents"]
    assert [i["title"] for i in listing] == ["web1 is down"]
    assert support.get(f"incidents/{listing[0]['id']}/").json()["scope_counts"]["servers"] == 1


def test_a_declaration_the_page_would_refuse_is_refused_with_the_field(api, jivosoft):
    ops = api("alice")
    unknown = ops.post("incidents/", declare_body(impacted={"servers": ["nope"]}))
    assert unknown.status_code == 400
    assert unknown.json()["errors"] == [{"field": "impacted.servers", "message": "'nope' is not in the inventory"}]
    bad_class = ops.post("incidents/", declare_body(disaster_class="meteor"))
    assert bad_class.status_code == 400
    assert bad_class.json()["errors"][0]["field"] == "disaster_class"
    assert ops.post("incidents/", declare_body(title="x\x00y")).json()["errors"][0]["field"] == "title"
    assert not Incident.objects.exists()


def test_ops_start_a_scenario_and_drive_its_steps_and_a_manager_approves(api, jivosoft):
    ops, manager = api("alice"), api("mona")
    incident = ops.post("incidents/", declare_body()).json()
    started = ops.post(f"incidents/{incident['id']}/run/", {"scenario": "jivosoft-server-crash"})
    assert started.status_code == 201
    run = started.json()
    again = ops.post(f"incidents/{incident['id']}/run/", {"scenario": "jivosoft-server-crash"})
    assert (again.status_code, again.json()["id"]) == (200, run["id"])
    steps = {s["step_id"]: s for s in run["steps"]}
    assert steps["ask-provider"]["state"] == "ready"
    done = ops.post(f"steps/{steps['ask-provider']['id']}/complete/", {"evidence": "ticket 42"})
    assert (done.status_code, done.json()["state"]) == (200, "succeeded")
    twice = ops.post(f"steps/{steps['ask-provider']['id']}/complete/", {"evidence": "ticket 42"})
    assert twice.status_code == 409
    assert "already succeeded" in twice.json()["error"]
    ops.post(f"steps/{steps['provider-recovers']['id']}/decide/", {"choice": "no"})
    approval = steps["approve-provision"]["id"]
    assert ops.post(f"steps/{approval}/approve/").status_code == 403  # ops cannot approve, as on the page
    assert manager.post(f"steps/{steps['ask-provider']['id']}/complete/").status_code == 403
    approved = manager.post(f"steps/{approval}/approve/", {"notes": "go"})
    assert (approved.status_code, approved.json()["actor"]) == (200, "mona")
    run_now = api("sam").get(f"runs/{run['id']}/").json()
    assert {s["step_id"]: s["state"] for s in run_now["steps"]}["approve-provision"] == "succeeded"
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"scenario_run.started", "scenario_step.completed", "scenario_step.decided",
            "scenario_step.approved"} <= actions


def test_a_field_error_from_the_engine_is_a_400_naming_the_field(api, jivosoft):
    ops = api("alice")
    incident = ops.post("incidents/", declare_body()).json()
    run = ops.post(f"incidents/{incident['id']}/run/", {"scenario": "jivosoft-server-crash"}).json()
    ask = next(s for s in run["steps"] if s["step_id"] == "ask-provider")
    response = ops.post(f"steps/{ask['id']}/complete/", {})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "evidence"


def test_a_role_token_acts_as_its_own_service_user(client, users, jivosoft, capsys):
    call_command("api_token", "paging bot", role="ops")
    raw = capsys.readouterr().out.strip()
    response = client.post("/api/v1/incidents/", data=json.dumps(declare_body()), content_type="application/json",
                           HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 201
    assert response.json()["declared_by"].startswith("token-paging-bot-")


def test_a_user_token_follows_its_users_roles(api, users, jivosoft):
    from django.contrib.auth.models import Group

    ops = api("alice")
    users["alice"].groups.remove(Group.objects.get(name="ops"))
    assert ops.post("incidents/", declare_body()).status_code == 403
    users["alice"].is_active = False
    users["alice"].save()
    assert ops.get("incidents/").status_code == 401


@pytest.mark.parametrize("path", ["incidents/", "incidents/1/", "runs/", "runs/1/"])
def test_every_operation_needs_a_token(client, db, path):
    response = client.get(f"/api/v1/{path}")
    assert response.status_code == 401
    assert "API token is required" in response.json()["error"]


@pytest.mark.parametrize(("path", "field"), [("incidents/?status=null", "status"),
                                           ("incidents/?status=open&status=closed", "status"),
                                           ("runs/?state=sideways", "state")])
def test_an_unknown_filter_is_refused_not_answered_with_an_empty_list(api, jivosoft, path, field):
    # An empty list would read as "there are none" (found by schemathesis, tests/hostile/test_api_contract.py).
    response = api("alice").get(path)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == field


@pytest.mark.parametrize(("extra", "field"), [({"impacted": None}, "impacted"), ({"is_drill": "yes"}, "is_drill")])
def test_a_declaration_with_a_field_of_the_wrong_type_is_refused(api, jivosoft, extra, field):
    response = api("alice").post("incidents/", declare_body(**extra))
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == field
    assert not Incident.objects.exists()


def test_unknown_ids_and_operations_are_404s(api, jivosoft):
    ops = api("alice")
    assert ops.get("incidents/999999/").status_code == 404
    assert ops.get("runs/999999/").status_code == 404
    assert ops.post("steps/999999/complete/").status_code == 404
    assert ops.post("steps/1/explode/").status_code == 404


def test_the_runs_list_reads_a_fixed_number_of_queries(api, jivosoft, alice, django_assert_num_queries):
    from scenarios import loader

    ops = api("alice")
    incident = ops.post("incidents/", declare_body()).json()
    engine.start_run(Incident.objects.get(pk=incident["id"]), loader.library().get("jivosoft-server-crash"), alice)
    # the token and its user; last_used_at; the user's groups (roles); the runs
    with django_assert_num_queries(4):
        listed = ops.get("runs/").json()["runs"]
    assert [r["id"] for r in listed] == list(Run.objects.values_list("pk", flat=True))


def test_every_api_route_of_this_app_is_in_its_openapi_fragment():
    from django.urls import get_resolver

    documented = {path.replace("{pk}", "<int:pk>").replace("{op}", "<slug:op>") for path in fragment()["paths"]}
    api_v1 = next(p for p in get_resolver().url_patterns if str(p.pattern) == "api/v1/")
    ours = {"/api/v1/" + str(p.pattern) for p in api_v1.url_patterns
            if p.callback.__module__.startswith("drportal.opsapi")}
    assert len(ours) == 7
    assert ours <= documented


def test_an_admin_issues_a_token_shown_once_and_it_works_until_revoked(client_as, client, jivosoft):
    from drportal.opsapi.models import ApiToken

    admin = client_as("ada")
    page = admin.post("/alerts/tokens/", {"name": "alertmanager", "role": "ops"})
    assert page["Cache-Control"] == "no-store"
    raw = re.search(r"<code>(dra_[\w-]+)</code>", page.content.decode()).group(1)
    assert raw not in admin.get("/alerts/tokens/").content.decode()  # shown once
    call = lambda: client.get("/api/v1/incidents/", HTTP_AUTHORIZATION=f"Bearer {raw}")  # noqa: E731
    assert call().status_code == 200
    admin.post(f"/alerts/tokens/{ApiToken.objects.get().pk}/revoke/")
    assert call().status_code == 401


def test_a_token_is_bound_to_a_user_or_a_role_not_both(client_as, alice):
    page = client_as("ada").post("/alerts/tokens/", {"name": "x", "role": "ops", "user": alice.pk})
    assert "choose a user or a role" in page.content.decode()


def test_a_wrong_method_is_a_405_saying_which_methods_are_allowed(client, db):
    response = client.delete("/api/v1/incidents/")
    assert (response.status_code, response["Allow"]) == (405, "GET, POST")
    assert client.get("/api/v1/alerts/alertmanager")["Allow"] == "POST"


def test_an_id_that_cannot_exist_is_a_json_404(api, jivosoft):
    ops = api("alice")
    assert ops.get(f"incidents/{2**70}/").status_code == 404
    response = ops.get("incidents/-1/")
    assert (response.status_code, response["Content-Type"]) == (404, "application/json")


def test_an_unknown_or_repeated_status_filter_is_refused_not_answered_with_nothing(api):
    ops = api("alice")
    for query in ("status=null", "status=open&status=closed", "status=Declared", "status="):
        response = ops.get(f"incidents/?{query}")
        assert response.status_code == 400, query
        assert response.json()["errors"][0]["field"] == "status"
