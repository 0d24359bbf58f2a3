"""A fresh install folds the usual outage alerts into incident proposals by itself: the default rules
(migration opsapi 0002) against Alertmanager's documented webhook payloads, with no rule made by hand."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps

from drportal.audit.models import AuditEvent
from drportal.incidents.models import Incident
from drportal.opsapi.models import AlertProposal, AlertRule
from tests.opsapi.test_alertmanager import alert, dallas, notification, post, token  # noqa: F401 - fixtures


@pytest.fixture(autouse=True)
def fresh_install(db):
    """The rows the data migration made, as a fresh install has them. A transactional test earlier in the same
    run flushes the tables (the migration's rows with them), so the migration's own function puts them back;
    it creates only what is missing."""
    migration = importlib.import_module("drportal.opsapi.migrations.0002_default_alert_rules")
    migration.add_defaults(apps, None)


def test_a_fresh_install_has_default_rules_that_only_propose(db):
    defaults = AlertRule.objects.filter(name__endswith="(default)")
    assert defaults.count() == 5
    assert not defaults.filter(auto_declare=True).exists()
    # Each came with its audit event, like a rule an admin adds.
    assert AuditEvent.objects.filter(action="alert_rule.created", object_type="opsapi.alertrule").count() == 5


def test_a_region_down_alert_proposes_a_datacenter_incident_for_that_region(client, dallas, token):  # noqa: F811
    body = post(client, notification(alert("RegionDown", region="rackspace/dfw", severity="critical")), token).json()
    assert body["unmatched"] == 0
    proposal = AlertProposal.objects.get()
    assert (proposal.rule.name, proposal.disaster_class, proposal.severity) == (
        "Region down (default)", "datacenter_offline", "sev1")
    assert proposal.impacted == {"regions": [dallas.pk]}
    assert proposal.state == "proposed"  # ops declare it with one click
    assert not Incident.objects.exists()


def test_a_grouped_notification_folds_each_alert_into_its_own_proposal(client, dallas, token):  # noqa: F811
    body = post(client, notification(
        alert("PostgresqlDown", fingerprint="0000000000000001", server="db1"),
        alert("InstanceDown", fingerprint="0000000000000002", server="db1"),
        alert("InstanceDown", fingerprint="0000000000000003", server="db1", instance="db1:9100"),
    ), token).json()
    assert (body["received"], body["unmatched"]) == (3, 0)
    by_rule = {p.rule.name: p for p in AlertProposal.objects.all()}
    assert set(by_rule) == {"Primary database down (default)", "Server down (default)"}
    assert by_rule["Primary database down (default)"].disaster_class == "database_primary_failure"
    # Two InstanceDown alerts about the same server: one proposal.
    assert by_rule["Server down (default)"].alerts.count() == 2


def test_resolved_alerts_are_recorded_on_the_proposal(client, dallas, token):  # noqa: F811
    post(client, notification(alert("RedisDown", server="db1")), token)
    post(client, notification(alert("RedisDown", status="resolved", server="db1"), status="resolved"), token)
    proposal = AlertProposal.objects.get()
    assert proposal.disaster_class == "cache_failover"
    assert proposal.resolved_at is not None


def test_drportals_own_backup_alerts_open_nothing(client, dallas, token):  # noqa: F811
    body = post(client, notification(alert("DrportalRpoBreached", policy="Daily dumps", asset="acme-db")),
                token).json()
    assert body["unmatched"] == 1
    assert not AlertProposal.objects.exists()


def test_a_rule_an_admin_adds_is_tried_before_the_defaults(client, dallas, token):  # noqa: F811
    AlertRule.objects.create(name="Dallas is down", matchers={"alertname": "RegionDown"},
                             disaster_class="datacenter_offline", severity="sev1", scope_label="region",
                             auto_declare=True)
    post(client, notification(alert("RegionDown", region="rackspace/dfw")), token)
    assert AlertProposal.objects.get().rule.name == "Dallas is down"
    assert Incident.objects.count() == 1
