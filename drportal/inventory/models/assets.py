from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models

from drportal.inventory.choices import AssetKind


class Asset(models.Model):
    """Something a backup policy protects. Every server has one (kind=server, for its system images);
    customer databases live on a server; managed databases, caches, repositories and document stores
    live in a zone (or region) of their own."""

    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=30, choices=AssetKind.choices)
    server = models.ForeignKey(
        "inventory.Server", null=True, blank=True, on_delete=models.CASCADE, related_name="assets"
    )
    # Where a serverless asset runs now (a managed database's primary, a repository's main copy).
    zone = models.ForeignKey("inventory.Zone", null=True, blank=True, on_delete=models.PROTECT, related_name="assets")
    customer = models.ForeignKey(
        "inventory.Customer", null=True, blank=True, on_delete=models.PROTECT, related_name="assets"
    )
    account = models.ForeignKey(
        "inventory.ProviderAccount", null=True, blank=True, on_delete=models.PROTECT, related_name="assets"
    )
    # Provider identifier: an RDS instance id, a repository URL, a bucket prefix.
    external_id = models.CharField(max_length=500, blank=True)
    # A mirror of another asset (code repository mirrors, record copies).
    mirror_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="mirrors")
    description = models.TextField(blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    # Where the database's dumps live: [{account, container, prefix, region}] (docs/inventory.md); a restore
    # from cloud storage reads the newest object there.
    dumps = models.JSONField(default=list, blank=True)
    # How it is restored: {server, database, method: "pg_restore" | command, host, port, user, password_env}.
    restore = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["kind"]), models.Index(fields=["customer", "kind"])]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.kind in (AssetKind.SERVER, AssetKind.DATABASE) and not self.server_id:
            raise ValidationError({"server": f"an asset of kind {self.kind} needs a server"})

    @property
    def current_zone(self):
        """Where the asset runs now: its server's zone, else its own."""
        return self.server.zone if self.server_id else self.zone
