"""Servers, each in a zone (and at an account of that zone's provider), and each an asset under its own name."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError

from drportal.inventory.choices import AssetKind
from drportal.inventory.document import Document, Path, duplicates, short
from drportal.inventory.models import Asset, Server
from drportal.inventory.validators import validate_hostname
from drportal.inventory.writer import Context, present, prime


def ip_ok(value: str) -> bool:
    try:
        Server._meta.get_field("public_ips").base_field.clean(value, None)
    except ValidationError:
        return False
    return True


def normal_ip(value: str) -> str:
    # The model field stores IPv6 in its compressed form; comparing that form keeps re-import a no-op.
    return Server._meta.get_field("public_ips").base_field.to_python(value)


def hostname_ok(value: str) -> bool:
    try:
        validate_hostname(value)
    except ValidationError:
        return False
    return True


def check(doc: Document, items: list[tuple[Path, dict[str, Any]]]) -> None:
    """Names and addresses that are what they say, a known zone, and an account at the zone's provider."""
    cat = doc.catalog
    duplicates(doc, "servers", lambda s: s["name"], "server name", "name")
    for path, s in doc.items("servers"):
        if not hostname_ok(s["name"]):
            doc.error((*path, "name"), f"{short(s['name'])} is not a valid host name")
        for list_name in ("public_ips", "private_ips"):
            for i, ip in enumerate(s.get(list_name, [])):
                if not ip_ok(ip):
                    doc.error((*path, list_name, i), f"{short(ip)} is not a valid IP address")
        for i, name in enumerate(s.get("dns_names", [])):
            if not hostname_ok(name):
                doc.error((*path, "dns_names", i), f"{short(name)} is not a valid host name")
        if not cat.has_zone(s["zone"]):
            doc.error((*path, "zone"), f"unknown zone {s['zone']!r}")
        if "account" in s:
            provider = cat.provider_of_account(s["account"])
            zone_provider = s["zone"].split("/")[0]
            if provider is None:
                doc.error((*path, "account"), f"unknown account {s['account']!r}")
            elif provider != zone_provider:
                doc.error(
                    (*path, "zone"),
                    f"zone {s['zone']!r} belongs to provider {zone_provider!r}, but account {s['account']!r} "
                    f"is at provider {provider!r}",
                )


SERVER_FIELDS = {
    "role": "role", "provider_node_id": "provider_node_id", "image": "image", "size": "size",
    "dns_names": "dns_names", "stateless": "stateless", "status": "status", "metadata": "metadata",
}


def write(ctx: Context, items: list[tuple[Path, dict[str, Any]]]) -> None:
    w = ctx.writer
    names = [s["name"] for _, s in ctx.doc.items("servers")]
    prime(ctx, Server, "name", names, "zone__region__provider", "account")
    prime(ctx, Asset, "name", names, "server", "account", "zone")
    for path, s in ctx.doc.items("servers"):
        values = present(s, SERVER_FIELDS) | {"zone": ctx.get("zone", s["zone"])}
        for list_name in ("public_ips", "private_ips"):
            if list_name in s:
                values[list_name] = [normal_ip(ip) for ip in s[list_name]]
        if "account" in s:
            values["account"] = ctx.get("account", s["account"])
        change = w.upsert(Server, {"name": s["name"]}, values, path)
        w.commit(change, ctx.note)
        if change is None:
            continue
        server = change.obj
        ctx.remember("server", server.name, server)
        # Every server is an asset too: its system images are what backup policies of kind system_image protect.
        asset = w.upsert(
            Asset, {"name": server.name}, {"kind": AssetKind.SERVER, "server": server, "account": server.account,
                                           "zone": None}, (*path, "name")
        )
        w.commit(asset, ctx.note)
        if asset is not None:
            ctx.remember("asset", server.name, asset.obj)
