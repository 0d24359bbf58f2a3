from __future__ import annotations

import os

from django.core.exceptions import ValidationError
from django.db import models

from drportal.inventory.choices import ProviderKind
from drportal.lib import crypto


class Provider(models.Model):
    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=20, choices=ProviderKind.choices)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ProviderAccount(models.Model):
    """Credentials for one provider account. Secrets are never stored in plain text: either the names of
    environment variables that hold them (`credentials_env`), or a Fernet token (`credentials_encrypted`)."""

    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="accounts")
    name = models.SlugField(unique=True)
    # libcloud driver name ("rackspace", "ec2", "powerdns", "simulated") or "aws" for boto3.
    driver = models.CharField(max_length=50)
    # {"key": "RACKSPACE_USERNAME", "secret": "RACKSPACE_API_KEY"}: field -> environment variable name.
    credentials_env = models.JSONField(default=dict, blank=True)
    credentials_encrypted = models.TextField(blank=True)
    # Non-secret options: region, endpoint_url, host, port.
    options = models.JSONField(default=dict, blank=True)
    # The last "do the credentials work?" check against the provider (drportal.cloud.connection), kept so
    # scenario readiness can say whether each account answered recently without calling it on a page load.
    connection_ok = models.BooleanField(null=True, editable=False)
    connection_checked_at = models.DateTimeField(null=True, blank=True, editable=False)
    connection_message = models.CharField(max_length=500, blank=True, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def credentials(self) -> dict[str, str]:
        """The secrets, read at the moment of use. Never logged, never rendered."""
        values: dict[str, str] = {}
        if self.credentials_encrypted:
            import json

            values.update(json.loads(crypto.decrypt(self.credentials_encrypted)))
        for field, var in self.credentials_env.items():
            if var in os.environ:
                values[field] = os.environ[var]
        return values

    def set_credentials(self, values: dict[str, str]) -> None:
        import json

        self.credentials_encrypted = crypto.encrypt(json.dumps(values))

    def masked_credentials(self) -> dict[str, str]:
        shown = {field: f"${var}" for field, var in self.credentials_env.items()}
        if self.credentials_encrypted:
            shown["stored"] = "encrypted"
        return shown


class Region(models.Model):
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="regions")
    slug = models.SlugField()
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["provider__name", "name"]
        constraints = [models.UniqueConstraint(fields=["provider", "slug"], name="region_unique_slug")]

    def __str__(self) -> str:
        return f"{self.provider.slug}/{self.slug}"


class Zone(models.Model):
    """A data center or availability zone inside a region."""

    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="zones")
    slug = models.SlugField()
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["region__provider__name", "region__name", "name"]
        constraints = [models.UniqueConstraint(fields=["region", "slug"], name="zone_unique_slug")]

    def __str__(self) -> str:
        return f"{self.region}/{self.slug}"

    def clean(self) -> None:
        if not self.slug:
            raise ValidationError({"slug": "a zone needs a slug"})
