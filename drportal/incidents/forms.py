from __future__ import annotations

from django import forms

from drportal.incidents.models import Incident
from drportal.inventory.models import Asset, Office, Region, Server, Service, Zone


class DeclareForm(forms.ModelForm):
    impacted_regions = forms.ModelMultipleChoiceField(Region.objects.select_related("provider"), required=False)
    impacted_zones = forms.ModelMultipleChoiceField(Zone.objects.select_related("region__provider"), required=False)
    impacted_servers = forms.ModelMultipleChoiceField(Server.objects.all(), required=False)
    impacted_offices = forms.ModelMultipleChoiceField(Office.objects.all(), required=False)
    impacted_services = forms.ModelMultipleChoiceField(Service.objects.all(), required=False)
    impacted_assets = forms.ModelMultipleChoiceField(
        Asset.objects.exclude(kind__in=["server", "database"]), required=False
    )

    class Meta:
        model = Incident
        fields = ["title", "severity", "disaster_class", "summary", "public_summary", "is_drill"]

    def impacted(self) -> dict:
        return {
            key.removeprefix("impacted_"): self.cleaned_data[key]
            for key in self.fields
            if key.startswith("impacted_") and self.cleaned_data.get(key)
        }
