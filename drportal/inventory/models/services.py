from __future__ import annotations

from django.db import models


class Service(models.Model):
    """What customers use, made of servers and managed assets: an outage of a server or a zone maps
    through here to the customers it hits."""

    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=200)
    # The name customers see on the public status page (never an internal host name).
    public_name = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)
    servers = models.ManyToManyField("inventory.Server", blank=True, related_name="services")
    assets = models.ManyToManyField("inventory.Asset", blank=True, related_name="services")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def display_name(self) -> str:
        return self.public_name or self.name
