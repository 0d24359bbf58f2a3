"""What a reference in an inventory document may point at: names defined in the document, else rows already in
the database. Built once by the check pass (importer.check_meaning) and read by every section's check."""

from __future__ import annotations

from drportal.inventory.document import Document
from drportal.inventory.models import Asset, Customer, Office, Provider, ProviderAccount, Region, Server, Service, Zone

# The field that names each kind of object in the inventory document (the rest are named by their path).
NATURAL_KEYS = {
    "provider": (Provider, "slug"),
    "account": (ProviderAccount, "name"),
    "server": (Server, "name"),
    "asset": (Asset, "name"),
    "customer": (Customer, "slug"),
    "service": (Service, "slug"),
    "office": (Office, "slug"),
}

class Catalog:
    """What a reference may point at: names defined in this document, else rows already in the database
    (another document imported into the same install)."""

    def __init__(self, doc: Document):
        d = doc.data
        self.providers = {p["slug"]: p for p in d.get("providers", [])}
        self.regions: set[str] = set()
        self.zones: set[str] = set()
        for p in d.get("providers", []):
            for r in p.get("regions", []):
                self.regions.add(f"{p['slug']}/{r['slug']}")
                for z in r.get("zones", []):
                    self.zones.add(f"{p['slug']}/{r['slug']}/{z['slug']}")
        self.account_provider = {a["name"]: a["provider"] for a in d.get("accounts", [])}
        self.account_driver_names = {a["name"]: a["driver"] for a in d.get("accounts", [])}
        self.servers = {s["name"] for s in d.get("servers", [])}
        self.assets = {a["name"] for a in d.get("assets", [])} | self.servers
        for c in d.get("customers", []):
            self.assets |= {db["name"] for db in c.get("databases", [])}
        self.customers = {c["slug"] for c in d.get("customers", [])}
        self.services = {s["slug"] for s in d.get("services", [])}
        self.offices = {o["slug"] for o in d.get("offices", [])}

    def has_provider(self, slug: str) -> bool:
        return slug in self.providers or Provider.objects.filter(slug=slug).exists()

    def has_region(self, ref: str) -> bool:
        if ref in self.regions:
            return True
        provider, slug = ref.split("/")
        return Region.objects.filter(provider__slug=provider, slug=slug).exists()

    def has_zone(self, ref: str) -> bool:
        if ref in self.zones:
            return True
        provider, region, slug = ref.split("/")
        return Zone.objects.filter(region__provider__slug=provider, region__slug=region, slug=slug).exists()

    def account_driver(self, name: str) -> str | None:
        if name in self.account_driver_names:
            return self.account_driver_names[name]
        return ProviderAccount.objects.filter(name=name).values_list("driver", flat=True).first()

    def provider_of_account(self, name: str) -> str | None:
        if name in self.account_provider:
            return self.account_provider[name]
        return ProviderAccount.objects.filter(name=name).values_list("provider__slug", flat=True).first()

    def has(self, kind: str, name: str) -> bool:
        model, field_name = NATURAL_KEYS[kind]
        return name in getattr(self, f"{kind}s") or model.objects.filter(**{field_name: name}).exists()
