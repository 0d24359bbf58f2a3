"""The backup_policies section of the inventory document (docs/inventory.md): its checks, and its rows
(BackupPolicy). The core importer has already checked the shape against the schema; this checks the cron
expression, the time zone, the location and the references, and stores the policies."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from backups.models import BackupPolicy
from drportal.inventory.choices import AssetKind
from drportal.inventory.document import Document, Path, duplicates, parse_duration, short
from drportal.inventory.models import Asset
from drportal.inventory.section import Section, register_section

# Customer assets a policy "protects: customers: [...]" covers: their databases.
CUSTOMER_KINDS = (AssetKind.DATABASE, AssetKind.MANAGED_DATABASE)


def validate(doc: Document, items: list[tuple[Path, dict[str, Any]]]) -> None:
    cat = doc.catalog
    duplicates(doc, "backup_policies", lambda p: p["name"], "backup policy", "name")
    for path, p in items:
        protects = p["protects"]
        for kind in ("assets", "servers", "customers"):
            for i, name in enumerate(protects.get(kind, [])):
                if not cat.has(kind[:-1], name):
                    doc.error((*path, "protects", kind, i), f"unknown {kind[:-1]} {name!r}")
        if len(p["schedule"].split()) != 5 or not croniter.is_valid(p["schedule"]):
            doc.error((*path, "schedule"), f"{short(p['schedule'])} is not a five-field cron expression")
        if "time_zone" in p:
            try:
                ZoneInfo(p["time_zone"])
            except (ZoneInfoNotFoundError, ValueError):
                doc.error((*path, "time_zone"), f"unknown time zone {p['time_zone']!r}")
        location = p.get("location", {"rule": "any"})
        if location["rule"] == "named_region" and "region" not in location:
            doc.error((*path, "location"), "a location with rule 'named_region' needs the region (provider/region)")
        if location["rule"] != "named_region" and "region" in location:
            doc.error((*path, "location", "region"), "only a location with rule 'named_region' takes a region")
        if "region" in location and not cat.has_region(location["region"]):
            doc.error((*path, "location", "region"), f"unknown region {location['region']!r}")


def apply(ctx, items: list[tuple[Path, dict[str, Any]]]) -> None:
    for path, p in items:
        location = p.get("location", {"rule": "any"})
        values: dict[str, Any] = {
            "kind": p["kind"], "description": p.get("description", ""), "schedule": " ".join(p["schedule"].split()),
            "time_zone": p.get("time_zone", "UTC"), "rpo_objective": parse_duration(p["rpo"]),
            "location_rule": location["rule"],
            "target_region": ctx.get("region", location["region"]) if "region" in location else None,
            "verify_within": parse_duration(p["verify_within"]) if "verify_within" in p else None,
            "active": p.get("active", True),
        }
        for field, key in (("grace", "grace"), ("retention", "retention")):
            if key in p:
                values[field] = parse_duration(p[key])
        change = ctx.writer.upsert(BackupPolicy, {"name": p["name"]}, values, path,
                                   {"rpo_objective": "rpo", "location_rule": "location", "target_region": "location"})
        if change is None:
            continue
        protects = p["protects"]
        assets = {ctx.get("asset", name) for name in protects.get("assets", [])}
        assets |= {ctx.get("asset", name) for name in protects.get("servers", [])}
        if protects.get("customers"):
            assets |= set(Asset.objects.filter(customer__slug__in=protects["customers"], kind__in=CUSTOMER_KINDS))
        if protects.get("kinds"):
            assets |= set(Asset.objects.filter(kind__in=protects["kinds"]))
        ctx.writer.set_m2m(change, "assets", sorted(assets, key=lambda a: a.name))
        if not change.created and change.before != change.after:
            # A changed rule can change every pair's status: recompute them at the next sweep.
            change.obj.pairs.update(dirty=True)
        ctx.writer.commit(change, ctx.note)


def register() -> None:
    register_section(Section("backup_policies", apply, validate))
