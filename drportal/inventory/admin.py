from __future__ import annotations

from django.contrib import admin

from drportal.inventory import models


@admin.register(models.ProviderAccount)
class ProviderAccountAdmin(admin.ModelAdmin):
    list_display = ["name", "provider", "driver"]
    # The encrypted blob is never shown, not even encrypted.
    exclude = ["credentials_encrypted"]


for model in (models.Provider, models.Region, models.Zone, models.Server, models.Asset, models.Service,
              models.Customer, models.CustomerContact, models.Office, models.Person, models.ExternalContact):
    admin.site.register(model)
