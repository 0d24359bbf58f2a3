from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from drportal.incidents.choices import TRANSITIONS, DisasterClass, IncidentStatus, Severity


class Incident(models.Model):
    title = models.CharField(max_length=200)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.SEV2)
    status = models.CharField(max_length=20, choices=IncidentStatus.choices, default=IncidentStatus.DECLARED)
    disaster_class = models.CharField(max_length=40, choices=DisasterClass.choices)
    summary = models.TextField(blank=True)
    # What the public status page may say; internal notes never leave `summary`.
    public_summary = models.TextField(blank=True)
    is_drill = models.BooleanField(default=False)

    impacted_regions = models.ManyToManyField("inventory.Region", blank=True, related_name="incidents")
    impacted_zones = models.ManyToManyField("inventory.Zone", blank=True, related_name="incidents")
    impacted_servers = models.ManyToManyField("inventory.Server", blank=True, related_name="incidents")
    impacted_offices = models.ManyToManyField("inventory.Office", blank=True, related_name="incidents")
    impacted_services = models.ManyToManyField("inventory.Service", blank=True, related_name="incidents")
    impacted_assets = models.ManyToManyField("inventory.Asset", blank=True, related_name="incidents")
    # Everything the impacted_* relations hit, resolved by drportal.incidents.scope (ids by kind); every
    # consumer of "what is down?" reads this, never the relations themselves.
    scope = models.JSONField(default=dict, blank=True)
    scope_resolved_at = models.DateTimeField(null=True, blank=True)

    commander = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    declared_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    declared_at = models.DateTimeField(db_index=True)
    responding_at = models.DateTimeField(null=True, blank=True)
    recovered_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-declared_at"]
        indexes = [models.Index(fields=["status", "-declared_at"])]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"

    @property
    def is_open(self) -> bool:
        return self.status in (IncidentStatus.DECLARED, IncidentStatus.RESPONDING)

    def check_transition(self, to: str) -> None:
        if to not in TRANSITIONS.get(self.status, ()):
            raise ValidationError(f"an incident cannot go from {self.status} to {to}")
