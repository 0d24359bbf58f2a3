"""The JSON Schema of an inventory document (docs/inventory.md).

docs/inventory.schema.json is generated from SCHEMA (`python -m drportal.inventory.schema > docs/inventory.schema.json`)
and a test keeps the two equal. Field lengths follow the models' max_length, so a document that passes the schema
does not fail on a column width later. `x-error` is our own keyword: the message shown when a pattern does not match
(`x-secret`: without repeating the value, which may be a secret pasted by mistake).
"""

from __future__ import annotations

import json
from typing import Any

from drportal.inventory.choices import (
    AssetKind,
    ContactPurpose,
    CustomerStatus,
    CustomerTier,
    ExternalContactKind,
    ProviderKind,
    ServerRole,
    ServerStatus,
)

SCHEMA_ID = "https://drportal.example/schemas/inventory.schema.json"


def _string(max_length: int, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "maxLength": max_length, **extra}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/$defs/{name}"}


def _list(item: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "array", "items": item, **extra}


def _object(properties: dict[str, Any], required: list[str], **extra: Any) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False, **extra}


SLUG_PATTERN = r"^[-a-zA-Z0-9_]+$"
# Upper case by convention, which also keeps most secrets (mixed case, punctuation) from passing as a name.
ENV_NAME_PATTERN = r"^[A-Z_][A-Z0-9_]*$"
DURATION_PATTERN = r"^[1-9][0-9]{0,5}(m|h|d|w)$"
DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"

# Backup policy kinds and location rules: the contract with the backups app (backups/inventory_section.py).
POLICY_KINDS = ["database_dump", "system_image", "volume_snapshot", "point_in_time", "repository_mirror", "file_copy"]
LOCATION_RULES = ["any", "offsite_region", "offsite_zone", "named_region"]
# How a database dump is loaded (drportal/cloud/actions/storage_restore.py); "command" is the alternative.
RESTORE_METHODS = ["pg_restore"]
DB_NAME_PATTERN = r"^[A-Za-z_][-A-Za-z0-9_]*$"

# Every list has a maximum (docs/inventory.md, "Limits"): far above any real organisation's inventory, low
# enough that one document cannot make an import, or what is built from it later (DNS records for every
# public address, status rows for every protected asset), run for minutes.
LIMITS: dict[str, int] = {
    "providers": 50, "regions": 100, "zones": 50, "accounts": 500, "servers": 10_000, "assets": 20_000,
    "customers": 20_000, "services": 1_000, "offices": 200, "people": 5_000, "external_contacts": 1_000,
    "backup_policies": 1_000, "addresses": 64, "customer_services": 100, "contacts": 50, "databases": 500,
    "members": 5_000, "metadata": 100, "settings": 50, "dumps": 20,
}
SECTION_ITEMS = {
    "providers": "provider", "accounts": "account", "servers": "server", "assets": "asset", "customers": "customer",
    "services": "service", "offices": "office", "people": "person", "external_contacts": "external_contact",
    "backup_policies": "backup_policy",
}

DEFS: dict[str, Any] = {
    "slug": _string(50, pattern=SLUG_PATTERN, **{"x-error": "is not a valid slug (letters, digits, - and _)"}),
    "text": _string(200),
    "phone": _string(32),
    "email": _string(254),
    "region_ref": _string(
        101,
        pattern=r"^[-a-zA-Z0-9_]+/[-a-zA-Z0-9_]+$",
        **{"x-error": "is not a region reference (provider/region)"},
    ),
    "zone_ref": _string(
        152,
        pattern=r"^[-a-zA-Z0-9_]+/[-a-zA-Z0-9_]+/[-a-zA-Z0-9_]+$",
        **{"x-error": "is not a zone reference (provider/region/zone)"},
    ),
    "duration": _string(
        8, pattern=DURATION_PATTERN, **{"x-error": "is not a duration (a number and m, h, d or w: 5m, 26h, 35d)"}
    ),
    "metadata": {"type": "object", "additionalProperties": True, "maxProperties": LIMITS["metadata"]},
    "zone": _object({"slug": _ref("slug"), "name": _string(100)}, ["slug", "name"]),
    "region": _object(
        {"slug": _ref("slug"), "name": _string(100), "zones": _list(_ref("zone"), maxItems=LIMITS["zones"])},
        ["slug", "name"],
    ),
    "provider": _object(
        {
            "slug": _ref("slug"),
            "name": _string(100),
            "kind": {"enum": list(ProviderKind.values)},
            "regions": _list(_ref("region"), maxItems=LIMITS["regions"]),
        },
        ["slug", "name", "kind"],
    ),
    "account": _object(
        {
            "name": _ref("slug"),
            "provider": _ref("slug"),
            "driver": _string(50),
            # Only the NAMES of environment variables: a value that looks like a secret does not match.
            "credentials_env": {
                "type": "object",
                "maxProperties": LIMITS["settings"],
                "additionalProperties": _string(
                    100,
                    pattern=ENV_NAME_PATTERN,
                    **{"x-error": "is not the name of an environment variable (secrets never go in the document)",
                       "x-secret": True},
                ),
            },
            "options": {
                "type": "object",
                "maxProperties": LIMITS["settings"],
                "additionalProperties": {"type": ["string", "integer", "boolean"]},
            },
        },
        ["name", "provider", "driver"],
    ),
    "server": _object(
        {
            "name": _string(100),
            "role": {"enum": list(ServerRole.values)},
            "zone": _ref("zone_ref"),
            "account": _ref("slug"),
            "provider_node_id": _string(200),
            "image": _string(200),
            "size": _string(100),
            "public_ips": _list({"type": "string", "maxLength": 64}, maxItems=LIMITS["addresses"]),
            "private_ips": _list({"type": "string", "maxLength": 64}, maxItems=LIMITS["addresses"]),
            "dns_names": _list({"type": "string", "maxLength": 253}, maxItems=LIMITS["addresses"]),
            "stateless": {"type": "boolean"},
            "status": {"enum": list(ServerStatus.values)},
            "metadata": _ref("metadata"),
        },
        ["name", "role", "zone"],
    ),
    "asset": _object(
        {
            "name": _string(200),
            # Servers get their asset (kind "server") from the servers section.
            "kind": {"enum": [k for k in AssetKind.values if k != AssetKind.SERVER]},
            "server": _string(100),
            "zone": _ref("zone_ref"),
            "customer": _ref("slug"),
            "account": _ref("slug"),
            "external_id": _string(500),
            "mirror_of": _string(200),
            "description": {"type": "string", "maxLength": 5000},
            "metadata": _ref("metadata"),
            "dumps": _list(_ref("dump_location"), maxItems=LIMITS["dumps"]),
            "restore": _ref("restore"),
        },
        ["name", "kind"],
    ),
    "dump_location": _object(
        {
            "account": _ref("slug"),
            "container": _string(255, minLength=1),
            "prefix": _string(500),
            "region": _ref("region_ref"),
        },
        ["account", "container"],
    ),
    "restore": _object(
        {
            "server": _string(100),
            "database": _string(
                63, pattern=DB_NAME_PATTERN, **{"x-error": "is not a database name (letters, digits, _ and -)"}
            ),
            "method": {"enum": RESTORE_METHODS},
            # One command line (split like a shell would, never run by one): {path}, {database}, {host}, {port}.
            "command": _string(1000, minLength=1),
            "host": _string(253),
            "port": {"type": "integer", "minimum": 1, "maximum": 65535},
            "user": _string(63),
            "password_env": _string(
                100, pattern=ENV_NAME_PATTERN,
                **{"x-error": "is not the name of an environment variable (secrets never go in the document)",
                   "x-secret": True},
            ),
        },
        ["database"],
    ),
    "customer_database": _object(
        {
            "name": _string(200),
            "kind": {"enum": [AssetKind.DATABASE.value, AssetKind.MANAGED_DATABASE.value]},
            "server": _string(100),
            "zone": _ref("zone_ref"),
            "account": _ref("slug"),
            "external_id": _string(500),
            "description": {"type": "string", "maxLength": 5000},
            "metadata": _ref("metadata"),
            "dumps": _list(_ref("dump_location"), maxItems=LIMITS["dumps"]),
            "restore": _ref("restore"),
        },
        ["name"],
    ),
    "contact": _object(
        {
            "purpose": {"enum": list(ContactPurpose.values)},
            "name": _ref("text"),
            "email": _ref("email"),
            "phone": _ref("phone"),
        },
        ["purpose"],
        anyOf=[{"required": ["email"]}, {"required": ["name"]}],
    ),
    "customer": _object(
        {
            "slug": _ref("slug"),
            "name": _ref("text"),
            "tier": {"enum": list(CustomerTier.values)},
            "status": {"enum": list(CustomerStatus.values)},
            "terminated_on": _string(10, pattern=DATE_PATTERN, **{"x-error": "is not a date (YYYY-MM-DD)"}),
            "services": _list(_ref("slug"), maxItems=LIMITS["customer_services"]),
            "contacts": _list(_ref("contact"), maxItems=LIMITS["contacts"]),
            "databases": _list(_ref("customer_database"), maxItems=LIMITS["databases"]),
        },
        ["slug", "name"],
    ),
    "service": _object(
        {
            "slug": _ref("slug"),
            "name": _ref("text"),
            "public_name": _ref("text"),
            "description": {"type": "string", "maxLength": 5000},
            "servers": _list(_string(100), maxItems=LIMITS["members"]),
            "assets": _list(_string(200), maxItems=LIMITS["members"]),
        },
        ["slug", "name"],
    ),
    "office": _object(
        {
            "slug": _ref("slug"),
            "name": _ref("text"),
            "address": {"type": "string", "maxLength": 1000},
            "city": _string(100),
            "main_phone": _ref("phone"),
            "person_in_charge_role": _ref("text"),
            "notes": {"type": "string", "maxLength": 5000},
        },
        ["slug", "name"],
    ),
    "person": _object(
        {
            "email": _ref("email"),
            "name": _ref("text"),
            "title": _ref("text"),
            "office": _ref("slug"),
            "phone": _ref("phone"),
            "key_personnel": {"type": "boolean"},
            "call_forwarding_order": {"type": "integer", "minimum": 1, "maximum": 32767},
            "on_site_rank": {"type": "integer", "minimum": 1, "maximum": 32767},
            "laptop": {"type": "boolean"},
            "home_internet": {"type": "boolean"},
            "coworking_member": {"type": "boolean"},
        },
        ["email", "name"],
    ),
    "external_contact": _object(
        {
            "kind": {"enum": list(ExternalContactKind.values)},
            "organisation": _ref("text"),
            "name": _ref("text"),
            "phone": _ref("phone"),
            "email": _ref("email"),
            "account_number": _string(100),
            "notes": {"type": "string", "maxLength": 5000},
        },
        ["kind", "organisation"],
    ),
    "backup_policy": _object(
        {
            "name": _string(200),
            "kind": {"enum": POLICY_KINDS},
            "description": {"type": "string", "maxLength": 5000},
            # What it protects: named assets, every asset of some kinds, the servers' images, customers' databases.
            "protects": _object(
                {
                    "assets": _list(_string(200), maxItems=LIMITS["members"]),
                    "servers": _list(_string(100), maxItems=LIMITS["members"]),
                    "customers": _list(_ref("slug"), maxItems=LIMITS["members"]),
                    "kinds": _list({"enum": list(AssetKind.values)}, maxItems=len(AssetKind.values)),
                },
                [],
                minProperties=1,
            ),
            # Five-field cron: when a backup is expected (for point_in_time and repository_mirror, how often the
            # window or the mirrors are checked).
            "schedule": _string(100),
            "time_zone": _string(64),
            "grace": _ref("duration"),
            "rpo": _ref("duration"),
            "retention": _ref("duration"),
            # offsite_*: another region (zone) than where the protected asset runs NOW; named_region: in that one.
            "location": _object(
                {"rule": {"enum": LOCATION_RULES}, "region": _ref("region_ref")},
                ["rule"],
            ),
            "verify_within": _ref("duration"),
            "active": {"type": "boolean"},
        },
        ["name", "kind", "protects", "schedule", "rpo"],
    ),
}

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": SCHEMA_ID,
    "title": "drportal inventory document",
    "description": "Providers, locations, servers, assets, services, customers, offices, people, external "
    "contacts and backup policies of one organisation. See docs/inventory.md.",
    "type": "object",
    "properties": {
        "version": {"const": 1},
        "organisation": _ref("text"),
        **{name: _list(_ref(item), maxItems=LIMITS[name]) for name, item in SECTION_ITEMS.items()},
    },
    "required": ["version"],
    "additionalProperties": False,
    "$defs": DEFS,
}


def schema_json() -> str:
    return json.dumps(SCHEMA, indent=2, sort_keys=False) + "\n"


if __name__ == "__main__":
    print(schema_json(), end="")
