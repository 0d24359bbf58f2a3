from __future__ import annotations

from collections.abc import Iterable

from django import forms
from django.db.models import Q
from django.urls import reverse_lazy

from drportal.incidents.models import Incident
from drportal.inventory.choices import AssetKind
from drportal.inventory.models import Asset, Office, Region, Server, Service, Zone

# A <select> of every server stops being usable (and costs seconds to render) at thousands of servers:
# the declare page offers at most this many, narrowed by the zones, regions and search text chosen.
SERVER_OPTIONS = 100


def _refresh_servers(**attrs: str) -> dict[str, str]:
    """htmx attributes that reload the server options from the form's current values (selection kept)."""
    return {"hx-get": reverse_lazy("incidents:declare-servers"), "hx-include": "closest form",
            "hx-target": "#id_impacted_servers", "hx-swap": "innerHTML", **attrs}


class RegionsField(forms.ModelMultipleChoiceField):
    """Regions by the names people know them by ("Rackspace: Dallas, Texas (DFW)"), not their slugs: someone
    declaring that Dallas is down looks for Dallas."""

    def label_from_instance(self, obj: Region) -> str:
        return f"{obj.provider.name}: {obj.name}"


class ZonesField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Zone) -> str:
        return f"{obj.region.provider.name} {obj.region.name}: {obj.name}"


def _ids(values: Iterable[str]) -> list[int]:
    return [int(v) for v in values if str(v).isdigit()]


def server_choices(*, search: str = "", zones: Iterable[str] = (), regions: Iterable[str] = (),
                   selected: Iterable[str] = ()) -> tuple[list[tuple[int, str]], bool]:
    """The options of the impacted-servers field: the servers already chosen, then up to SERVER_OPTIONS
    matching the search text within the chosen zones and regions (every server when the inventory is
    small enough to list). Two queries whatever the inventory's size; the flag says whether more matched."""
    chosen = _ids(selected)
    found = Server.objects.select_related("zone__region__provider").order_by("name")
    zone_ids, region_ids = _ids(zones), _ids(regions)
    narrowed = bool(search.strip() or zone_ids or region_ids)
    if search.strip():
        found = found.filter(name__icontains=search.strip())
    if zone_ids or region_ids:
        found = found.filter(Q(zone_id__in=zone_ids) | Q(zone__region_id__in=region_ids))
    kept = list(Server.objects.select_related("zone__region__provider").filter(pk__in=chosen)
                .order_by("name")) if chosen else []
    matches = list(found.exclude(pk__in=chosen)[:SERVER_OPTIONS + 1])
    more = len(matches) > SERVER_OPTIONS
    if more and not narrowed:
        matches = []
    options = [(s.pk, f"{s.name} ({s.zone})") for s in kept + matches[:SERVER_OPTIONS]]
    return options, more


class DeclareForm(forms.ModelForm):
    impacted_regions = RegionsField(
        Region.objects.select_related("provider"), required=False,
        widget=forms.SelectMultiple(attrs=_refresh_servers(**{"hx-trigger": "change"})))
    impacted_zones = ZonesField(
        Zone.objects.select_related("region__provider"), required=False,
        widget=forms.SelectMultiple(attrs=_refresh_servers(**{"hx-trigger": "change"})))
    find_servers = forms.CharField(
        required=False, label="Find servers", help_text="Part of a server's name; the list below keeps your choices.",
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off",
                                      **_refresh_servers(**{"hx-trigger": "input changed delay:300ms, search"})}))
    impacted_servers = forms.ModelMultipleChoiceField(
        Server.objects.all(), required=False,
        help_text=f"Lists the servers of the chosen zones and regions, or those matching the search "
                  f"(at most {SERVER_OPTIONS} at a time).")
    impacted_offices = forms.ModelMultipleChoiceField(Office.objects.all(), required=False)
    impacted_services = forms.ModelMultipleChoiceField(Service.objects.all(), required=False)
    # Named kinds, not exclude(server, database): an IN list uses the kind index, a NOT IN reads every asset.
    impacted_assets = forms.ModelMultipleChoiceField(
        Asset.objects.filter(kind__in=[k for k in AssetKind.values if k not in (AssetKind.SERVER, AssetKind.DATABASE)]),
        required=False)

    class Meta:
        model = Incident
        fields = ["title", "severity", "disaster_class", "summary", "public_summary", "is_drill"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        data = self.data if self.is_bound else None
        options, more = server_choices(
            search=data.get("find_servers", "") if data else "",
            zones=data.getlist("impacted_zones") if data else (),
            regions=data.getlist("impacted_regions") if data else (),
            selected=data.getlist("impacted_servers") if data else (),
        )
        # Validation still checks the submitted ids against every server; only the rendered options are few.
        self.fields["impacted_servers"].widget.choices = options
        if more:
            self.fields["impacted_servers"].help_text = (
                "More servers exist than can be listed: choose zones or regions, or find servers by name.")

    def incident_fields(self) -> dict:
        return {key: self.cleaned_data[key] for key in self.Meta.fields if key in self.cleaned_data}

    def impacted(self) -> dict:
        return {
            key.removeprefix("impacted_"): self.cleaned_data[key]
            for key in self.fields
            if key.startswith("impacted_") and self.cleaned_data.get(key)
        }


class WidenForm(forms.Form):
    """Something else is down too (a second zone failed): what to add to an open incident's scope."""

    impacted_regions = RegionsField(Region.objects.select_related("provider"), required=False,
                                    label="Regions also down")
    impacted_zones = ZonesField(Zone.objects.select_related("region__provider"), required=False,
                                label="Zones also down")
    impacted_servers = forms.ModelMultipleChoiceField(Server.objects.all(), required=False, label="Servers also down")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        data = self.data if self.is_bound else None
        options, _ = server_choices(selected=data.getlist("impacted_servers") if data else ())
        self.fields["impacted_servers"].widget.choices = options

    def impacted(self) -> dict:
        return {key.removeprefix("impacted_"): list(value) for key, value in self.cleaned_data.items() if value}
