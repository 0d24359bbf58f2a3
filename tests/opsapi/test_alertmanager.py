"""POST /api/v1/alerts/alertmanager with Alertmanager's documented webhook payloads (version 4): firing,
grouped, repeated and resolved alerts, against the rule table."""

from __future__ import annotations

import copy
import json

import pytest
from django.urls import reverse

from drportal.audit.models import AuditEvent
from drportal.incidents import services as incidents
from drportal.incidents.models import Incident
from drportal.inventory.models import Provider, Region, Server, Zone
from drportal.opsapi import tokens
from drportal.opsapi.models import AlertProposal, AlertRule, ReceivedAlert

URL = "/api/v1/alerts/alertmanager"


def alert(alertname: str, status: str = "firing", fingerprint: str = "a1b2c3d4e5f60718", **labels) -> dict:
    return {
        "status": status,
        "labels": {"alertname": alertname, **labels},
        "annotations": {"summary": f"{alertname} in {labels.get('region', labels.get('server', '?'))}",
                        "description": "Probe failures from three vantage points."},
        "startsAt": "2026-11-21T14:58:00.000Z",
        "endsAt": "2026-11-21T15:20:00.000Z" if status == "resolved" else "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.example:9090/graph?g0.expr=probe_success+%3D%3D+0",
        "fingerprint": fingerprint,
    }


def notification(*alerts: dict, status: str = "firing") -> dict:
    """The webhook body Alertmanager posts for one group (docs: configuration/#webhook_config)."""
    common = alerts[0]["labels"]
    return {
        "version": "4", "groupKey": '{}:{alertname="' + common["alertname"] + '"}', "truncatedAlerts": 0,
        "status": status, "receiver": "drportal", "groupLabels": {"alertname": common["alertname"]},
        "commonLabels": common, "commonAnnotations": {}, "externalURL": "http://alertmanager.example:9093",
        "alerts": list(alerts),
    }


@pytest.fixture
def dallas(db):
    rackspace = Provider.objects.create(slug="rackspace", name="Rackspace", kind="rackspace")
    dfw = Region.objects.create(provider=rackspace, slug="dfw", name="Dallas")
    zone = Zone.objects.create(region=dfw, slug="dfw1", name="Dallas DC")
    Server.objects.create(name="db1", role="database", zone=zone)
    return dfw


@pytest.fixture
def rules(db):
    return {
        "region": AlertRule.objects.create(name="Region down", position=10, matchers={"alertname": "RegionDown"},
                                           disaster_class="datacenter_offline", severity="sev1", scope_label="region",
                                           auto_declare=True),
        "server": AlertRule.objects.create(name="Server down", position=20,
                                           matchers={"alertname": "InstanceDown|HostUnreachable"},
                                           disaster_class="server_crash", severity="sev2", scope_label="server"),
    }


@pytest.fixture
def token(users, ada) -> str:
    _, raw = tokens.issue("alertmanager", role="ops", created_by=ada)
    return raw


def post(client, body, token: str | None):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return client.post(URL, data=json.dumps(body), content_type="application/json", **headers)


def test_a_region_down_alert_declares_a_dallas_incident_by_its_rule(client, dallas, rules, token):
    response = post(client, notification(alert("RegionDown", region="rackspace/dfw")), token)
    assert response.status_code == 200, response.content
    incident = Incident.objects.get()
    assert (incident.disaster_class, incident.severity) == ("datacenter_offline", "sev1")
    assert list(incident.impacted_regions.all()) == [dallas]
    assert incident.title == "RegionDown in rackspace/dfw"
    assert "Probe failures from three vantage points." in incident.summary
    assert incident.declared_by.username.startswith("token-alertmanager-")
    [proposal] = response.json()["proposals"]
    assert (proposal["state"], proposal["incident"]) == ("declared", incident.pk)
    assert AuditEvent.objects.filter(action="incident.declared", object_id=str(incident.pk)).exists()


def test_a_rule_without_auto_declare_proposes_and_ops_declare_from_the_dashboard(client, client_as, dallas, rules,
                                                                                 token):
    post(client, notification(alert("InstanceDown", server="db1")), token)
    assert not Incident.objects.exists()
    proposal = AlertProposal.objects.get()
    ops = client_as("alice")
    dashboard = ops.get(reverse("dashboard")).content.decode()
    assert "Proposed by alerts" in dashboard
    assert reverse("opsapi:proposal-declare", args=[proposal.pk]) in dashboard
    response = ops.post(reverse("opsapi:proposal-declare", args=[proposal.pk]))
    incident = Incident.objects.get()
    assert response.url == reverse("incidents:detail", args=[incident.pk])
    assert [s.name for s in incident.impacted_servers.all()] == ["db1"]
    assert incident.declared_by.username == "alice"
    ops.post(reverse("opsapi:proposal-declare", args=[proposal.pk]))  # a second click
    assert Incident.objects.count() == 1


def test_support_sees_the_proposal_but_cannot_declare_it(client, client_as, dallas, rules, token):
    post(client, notification(alert("InstanceDown", server="db1")), token)
    proposal = AlertProposal.objects.get()
    assert "Declare</button>" not in client_as("sam").get(reverse("dashboard")).content.decode()
    assert client_as("sam").post(reverse("opsapi:proposal-declare", args=[proposal.pk])).status_code == 403


def test_a_grouped_notification_and_its_repeats_fold_into_one_incident(client, dallas, rules, token):
    grouped = notification(alert("RegionDown", fingerprint="1111111111111111", region="rackspace/dfw", job="web"),
                           alert("RegionDown", fingerprint="2222222222222222", region="rackspace/dfw", job="db"))
    for _ in range(3):  # Alertmanager re-sends the group every repeat_interval
        assert post(client, grouped, token).status_code == 200
    assert Incident.objects.count() == 1
    assert AlertProposal.objects.count() == 1
    assert sorted(ReceivedAlert.objects.values_list("fingerprint", "times_received")) == [
        ("1111111111111111", 3), ("2222222222222222", 3)]


def test_resolved_alerts_are_recorded_on_the_incident_which_stays_open(client, client_as, dallas, rules, token):
    firing = notification(alert("RegionDown", region="rackspace/dfw"))
    post(client, firing, token)
    resolved = notification(alert("RegionDown", status="resolved", region="rackspace/dfw"), status="resolved")
    body = post(client, resolved, token).json()
    assert body["proposals"][0]["resolved"] is True
    received = ReceivedAlert.objects.get()
    assert received.status == "resolved"
    assert received.ends_at.isoformat() == "2026-11-21T15:20:00+00:00"
    assert Incident.objects.get().is_open  # people close incidents, not alerts
    assert AuditEvent.objects.filter(action="alert.resolved").count() == 1
    page = client_as("alice").get(reverse("opsapi:proposals")).content.decode()
    assert "all alerts resolved" in page


def test_a_resolved_alert_with_nothing_open_records_nothing(client, dallas, rules, token):
    body = post(client, notification(alert("RegionDown", status="resolved", region="rackspace/dfw")), token).json()
    assert body["resolved_without_proposal"] == 1
    assert not AlertProposal.objects.exists()


def test_a_scope_not_in_the_inventory_is_proposed_not_declared(client, dallas, rules, token):
    post(client, notification(alert("RegionDown", region="rackspace/iad")), token)
    assert not Incident.objects.exists()
    proposal = AlertProposal.objects.get()
    assert "'rackspace/iad' is not in the inventory" in proposal.note


def test_after_the_incident_is_closed_the_same_alert_opens_a_new_one(client, dallas, rules, token, alice):
    post(client, notification(alert("RegionDown", region="rackspace/dfw")), token)
    incidents.transition(alice, Incident.objects.get().pk, "closed")
    post(client, notification(alert("RegionDown", region="rackspace/dfw")), token)
    assert Incident.objects.filter(status="declared").count() == 1
    assert Incident.objects.count() == 2


def test_an_alert_no_rule_matches_is_counted_and_opens_nothing(client, dallas, rules, token):
    body = post(client, notification(alert("DiskAlmostFull", server="db1")), token).json()
    assert (body["received"], body["unmatched"]) == (1, 1)
    assert not AlertProposal.objects.exists()


@pytest.mark.parametrize("header", [None, "Bearer dra_not-a-token", "Basic YWxhZGRpbjpvcGVuc2VzYW1l", "Bearer"])
def test_without_a_valid_token_it_answers_401(client, rules, users, header):
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = client.post(URL, data=json.dumps(notification(alert("RegionDown"))), content_type="application/json",
                           **extra)
    assert response.status_code == 401
    assert "API token is required" in response.json()["error"]


def test_a_token_without_the_ops_role_or_revoked_is_refused(client, dallas, rules, users, ada):
    _support, raw = tokens.issue("support tool", role="support", created_by=ada)
    assert post(client, notification(alert("RegionDown", region="rackspace/dfw")), raw).status_code == 403
    ops, raw_ops = tokens.issue("old alertmanager", user=users["alice"], created_by=ada)
    tokens.revoke(ops, ada)
    assert post(client, notification(alert("RegionDown", region="rackspace/dfw")), raw_ops).status_code == 401
    assert not Incident.objects.exists()


@pytest.mark.parametrize(("mutate", "field"), [
    (lambda b: b.pop("alerts"), "alerts"),
    (lambda b: b["alerts"][0].update(status="maybe"), "alerts[0].status"),
    (lambda b: b["alerts"][0].update(labels={"alertname": 5}), "alerts[0].labels"),
    (lambda b: b["alerts"][0].update(startsAt="2026-02-30T00:00:00Z"), "alerts[0].startsAt"),
    (lambda b: b["alerts"][0]["labels"].update(region="dfw\x00"), "alerts[0].labels"),
    # Found by schemathesis with an ops token (tests/hostile/test_api_contract.py): fields of the wrong type were
    # ignored and the notification answered 200, breaking the documented contract.
    (lambda b: b.update(status={}), "status"),
    (lambda b: b.update(groupKey=7), "groupKey"),
    (lambda b: b["alerts"][0].update(annotations=None), "alerts[0].annotations"),
    (lambda b: b["alerts"][0].update(startsAt=None), "alerts[0].startsAt"),
    (lambda b: b["alerts"][0].update(fingerprint=["a"]), "alerts[0].fingerprint"),
    # Found by schemathesis: the group's status was read only through its alerts, so an empty group took any.
    (lambda b: b.update(status={}, alerts=[]), "status"),
    (lambda b: b.update(version=4), "version"),
    (lambda b: b["alerts"][0].update(fingerprint={}), "alerts[0].fingerprint"),
])
def test_a_malformed_body_is_refused_with_the_field_and_records_nothing(client, dallas, rules, token, mutate, field):
    body = copy.deepcopy(notification(alert("RegionDown", region="rackspace/dfw")))
    mutate(body)
    response = post(client, body, token)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == field
    assert not AlertProposal.objects.exists()


def test_a_body_that_is_not_json_is_refused(client, rules, token):
    response = client.post(URL, data="{not json", content_type="application/json",
                           HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 400
    assert response.json()["error"] == "nothing was recorded: the body is not valid JSON"


def test_a_body_nested_thousands_deep_is_refused_before_it_is_parsed(client, rules, token):
    # Issue 13's reproduction: json.loads recursing into such a body is what used to end in a RecursionError.
    response = client.post(URL, data="[" * 5000 + "]" * 5000, content_type="application/json",
                           HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 400
    assert response.json()["error"] == "nothing was recorded: the body nests deeper than 20 levels"


def test_a_lone_surrogate_in_a_label_is_refused_not_stored(client, dallas, rules, token):
    body = json.dumps(notification(alert("RegionDown", region="rackspace/dfw"))).replace("rackspace/dfw",
                                                                                         "rackspace/\\ud800")
    response = client.post(URL, data=body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 400
    assert "lone surrogate" in response.json()["error"]
    assert not AlertProposal.objects.exists()
