from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q

from drportal.accounts.access import Role
from drportal.incidents.choices import DisasterClass, Severity
from drportal.opsapi.choices import OPEN_PROPOSAL_STATES, ProposalState, ScopeLabel


class ApiToken(models.Model):
    """A bearer token for /api/v1/ operations (and the Alertmanager receiver). Bound to a user (it acts as
    them, with their roles at the time of the call) or to a role (it acts as a service user of its own holding
    that role). Only the SHA-256 is kept; the token is shown once."""

    name = models.CharField(max_length=200)
    digest = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=12)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    role = models.CharField(max_length=20, choices=Role.choices, blank=True,
                            help_text="Set for a role token: `user` is then its own service user.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def digest_of(raw: str) -> str:
        return hashlib.sha256(raw.encode()).hexdigest()

    @staticmethod
    def new_raw() -> str:
        return "dra_" + secrets.token_urlsafe(32)


class AlertRule(models.Model):
    """Maps an alert's labels to a disaster class and a scope. Rules are tried in `position` order; the first
    whose matchers all hold wins. `matchers` is {label: value}; a value "a|b" matches either."""

    name = models.CharField(max_length=100, unique=True)
    position = models.PositiveIntegerField(default=100)
    matchers = models.JSONField(default=dict, help_text='e.g. {"alertname": "RegionDown", "severity": "critical"}')
    disaster_class = models.CharField(max_length=40, choices=DisasterClass.choices)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.SEV2)
    scope_label = models.CharField(max_length=10, choices=ScopeLabel.choices, blank=True)
    # Declared at once when the scope is found in the inventory; otherwise proposed for ops to declare.
    auto_declare = models.BooleanField(default=False)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name

    def matches(self, labels: dict[str, str]) -> bool:
        return all(str(labels.get(key, "")) in str(want).split("|") for key, want in self.matchers.items())


class AlertProposal(models.Model):
    """An incident proposed by alerts: every alert of one rule and one scope folds into it while it is open
    (proposed, or declared and the incident not yet over)."""

    rule = models.ForeignKey(AlertRule, on_delete=models.PROTECT, related_name="proposals")
    scope_key = models.CharField(max_length=300)  # "region:rackspace/dfw", "server:db1", or "" (none)
    title = models.CharField(max_length=200)
    disaster_class = models.CharField(max_length=40, choices=DisasterClass.choices)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    # What the scope label named, resolved against the inventory: {"regions": [ids], "zones": [...], ...}.
    impacted = models.JSONField(default=dict, blank=True)
    # Why it was proposed rather than declared (no auto-declare rule, or a scope not in the inventory).
    note = models.TextField(blank=True)
    state = models.CharField(max_length=10, choices=ProposalState.choices, default=ProposalState.PROPOSED)
    incident = models.ForeignKey("incidents.Incident", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="alert_proposals")
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    # Every alert folded into it reported resolved: recorded, never a reason to close the incident by itself.
    resolved_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")

    class Meta:
        ordering = ["-last_seen_at"]
        constraints = [
            # One open proposal per rule and scope: the insert of a second, racing one fails.
            models.UniqueConstraint(fields=["rule", "scope_key"], condition=Q(state__in=OPEN_PROPOSAL_STATES),
                                    name="alert_proposal_open_once"),
        ]
        indexes = [models.Index(fields=["state", "-last_seen_at"])]

    def __str__(self) -> str:
        return f"{self.title} ({self.state})"


class ReceivedAlert(models.Model):
    """One alert (Alertmanager's fingerprint) as last reported, folded into a proposal."""

    proposal = models.ForeignKey(AlertProposal, on_delete=models.CASCADE, related_name="alerts")
    fingerprint = models.CharField(max_length=64)
    status = models.CharField(max_length=10)  # "firing" or "resolved", as Alertmanager says
    labels = models.JSONField(default=dict)
    annotations = models.JSONField(default=dict, blank=True)
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    generator_url = models.URLField(max_length=1000, blank=True)
    first_received_at = models.DateTimeField()
    last_received_at = models.DateTimeField()
    times_received = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["proposal", "fingerprint"]
        constraints = [models.UniqueConstraint(fields=["proposal", "fingerprint"], name="received_alert_once")]

    def __str__(self) -> str:
        return f"{self.labels.get('alertname', 'alert')} {self.fingerprint} ({self.status})"
