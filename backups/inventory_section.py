"""The backup_policies section of the inventory document (docs/inventory.md), stored as BackupPolicy rows.
The core importer has already checked the shape, the cron expression, the zone and the references."""

from __future__ import annotations

from typing import Any

from backups.models import BackupPolicy
from drportal.inventory.choices import AssetKind

# Customer assets a policy "protects: customers: [...]" covers: their databases.
CUSTOMER_KINDS = (AssetKind.DATABASE, AssetKind.MANAGED_DATABASE)


def apply(ctx, items: list[tuple[tuple, dict[str, Any]]]) -> None:
    from drportal.inventory.importer import parse_duration
    from drportal.inventory.models import Asset

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
    from drportal.inventory.importer import Section, register_section

    register_section(Section("backup_policies", apply))
