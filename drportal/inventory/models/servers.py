from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.db import models

from drportal.inventory.choices import ServerRole, ServerStatus
from drportal.inventory.validators import validate_hostname


class Server(models.Model):
    name = models.CharField(max_length=100, unique=True, validators=[validate_hostname])
    role = models.CharField(max_length=20, choices=ServerRole.choices)
    zone = models.ForeignKey("inventory.Zone", on_delete=models.PROTECT, related_name="servers")
    account = models.ForeignKey(
        "inventory.ProviderAccount", null=True, blank=True, on_delete=models.PROTECT, related_name="servers"
    )
    provider_node_id = models.CharField(max_length=200, blank=True, db_index=True)
    image = models.CharField(max_length=200, blank=True)
    size = models.CharField(max_length=100, blank=True)
    public_ips = ArrayField(models.GenericIPAddressField(), default=list, blank=True)
    private_ips = ArrayField(models.GenericIPAddressField(), default=list, blank=True)
    dns_names = ArrayField(models.CharField(max_length=253, validators=[validate_hostname]), default=list, blank=True)
    stateless = models.BooleanField(default=False)
    status = models.CharField(max_length=20, choices=ServerStatus.choices, default=ServerStatus.ACTIVE)
    metadata = models.JSONField(default=dict, blank=True)
    # When sync_inventory last saw the node at the provider.
    last_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["zone", "status"]), models.Index(fields=["role"])]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.account_id and self.zone_id and self.account.provider_id != self.zone.region.provider_id:
            raise ValidationError({"zone": f"zone {self.zone} belongs to another provider than account {self.account}"})
