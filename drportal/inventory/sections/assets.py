"""Assets (databases, buckets, repositories) and customers' databases, which are assets too: where they are,
whose they are, what they mirror, and where their dumps live and how they are restored."""

from __future__ import annotations

import shlex
from typing import Any

from drportal.inventory.catalog import Catalog
from drportal.inventory.choices import AssetKind
from drportal.inventory.document import Document, Path
from drportal.inventory.models import Asset, Customer
from drportal.inventory.writer import Context, present, prime


def check(doc: Document, items: list[tuple[Path, dict[str, Any]]]) -> None:
    """One namespace with the servers' assets, known references, no mirror loops, complete restores."""
    cat = doc.catalog
    asset_paths: dict[str, Path] = {}
    for path, s in doc.items("servers"):
        asset_paths.setdefault(s["name"], (*path, "name"))
    asset_items = list(doc.items("assets"))
    for cpath, c in doc.items("customers"):
        asset_items += [((*cpath, "databases", i), db) for i, db in enumerate(c.get("databases", []))]
    for path, a in asset_items:
        if a["name"] in asset_paths:
            first = doc.line(asset_paths[a["name"]])
            doc.error((*path, "name"), f"duplicate asset name {a['name']!r} (first at line {first}; "
                                       "every server is an asset under its own name)")
        else:
            asset_paths[a["name"]] = (*path, "name")
        kind = a.get("kind", AssetKind.DATABASE if "server" in a else AssetKind.MANAGED_DATABASE)
        if kind == AssetKind.DATABASE and "server" not in a:
            doc.error(path, "an asset of kind 'database' needs a server")
        if "server" in a and "zone" in a:
            doc.error((*path, "zone"), "give a server or a zone, not both (an asset on a server is where it is)")
        if "server" in a and not cat.has("server", a["server"]):
            doc.error((*path, "server"), f"unknown server {a['server']!r}")
        if "zone" in a and not cat.has_zone(a["zone"]):
            doc.error((*path, "zone"), f"unknown zone {a['zone']!r}")
        if "customer" in a and not cat.has("customer", a["customer"]):
            doc.error((*path, "customer"), f"unknown customer {a['customer']!r}")
        if "account" in a:
            provider = cat.provider_of_account(a["account"])
            if provider is None:
                doc.error((*path, "account"), f"unknown account {a['account']!r}")
            elif "zone" in a and provider != a["zone"].split("/")[0]:
                doc.error((*path, "zone"), f"zone {a['zone']!r} belongs to provider {a['zone'].split('/')[0]!r}, "
                                           f"but account {a['account']!r} is at provider {provider!r}")
        if "mirror_of" in a:
            if a["mirror_of"] == a["name"]:
                doc.error((*path, "mirror_of"), "an asset cannot be a mirror of itself")
            elif not cat.has("asset", a["mirror_of"]):
                doc.error((*path, "mirror_of"), f"unknown asset {a['mirror_of']!r}")
        _check_recovery(doc, cat, path, a)
    _mirror_cycles(doc, asset_items)
    _names_against_database(doc, asset_items)


# Storage drivers objectstore / s3 can read dumps through (drportal/cloud/adapters/objectstore.py, s3.py).
DUMP_DRIVERS = {"local", "cloudfiles", "rackspace", "openstack", "s3", "aws", "ec2"}


def _check_recovery(doc: Document, cat: Catalog, path: Path, a: dict[str, Any]) -> None:
    """Where a database's dumps live and how it is restored: every name must exist and the restore must say
    one way to load the dump, so a recovery never finds out at 3 a.m. that the inventory was incomplete."""
    for i, where in enumerate(a.get("dumps", [])):
        wpath = (*path, "dumps", i)
        driver = cat.account_driver(where["account"])
        if driver is None:
            doc.error((*wpath, "account"), f"unknown account {where['account']!r}")
        elif driver not in DUMP_DRIVERS:
            doc.error((*wpath, "account"), f"account {where['account']!r} (driver {driver!r}) cannot read object "
                                           f"storage; use one of {', '.join(sorted(DUMP_DRIVERS))}")
        if "region" in where and not cat.has_region(where["region"]):
            doc.error((*wpath, "region"), f"unknown region {where['region']!r}")
    restore = a.get("restore")
    if restore is None:
        return
    rpath = (*path, "restore")
    if "dumps" not in a:
        doc.error(rpath, "a restore needs dumps: say where the dumps live")
    target = restore.get("server", a.get("server"))
    if target is None and "host" not in restore:
        # A managed database has no server of ours: its restore names the address of the PostgreSQL it is loaded
        # into instead (restore.host).
        doc.error(rpath, "name the server the database is restored on (restore.server), or its address "
                         "(restore.host)")
    elif target is not None and not cat.has("server", target):
        doc.error((*rpath, "server"), f"unknown server {target!r}")
    if ("method" in restore) == ("command" in restore):
        doc.error(rpath, "give either method (pg_restore) or command, exactly one")
    if "command" in restore:
        try:
            argv = shlex.split(restore["command"])
        except ValueError as exc:
            doc.error((*rpath, "command"), f"cannot be split into arguments: {exc}")
        else:
            if not any("{path}" in arg for arg in argv):
                doc.error((*rpath, "command"), "must contain {path}, where the downloaded dump is put")


def _names_against_database(doc: Document, asset_items: list[tuple[Path, dict]]) -> None:
    """A server's own asset and other assets share one namespace across documents: an asset must not take
    over a server's asset (or the reverse), or a server would lose its system-image asset."""
    names = {a["name"]: path for path, a in asset_items}
    for name, server in Asset.objects.filter(name__in=names, kind=AssetKind.SERVER).values_list("name", "server__name"):
        doc.error((*names[name], "name"), f"{name!r} is the asset of server {server!r} (choose another name)")
    servers = {s["name"]: path for path, s in doc.items("servers")}
    taken = Asset.objects.filter(name__in=servers).exclude(kind=AssetKind.SERVER).values_list("name", "kind")
    for name, kind in taken:
        doc.error((*servers[name], "name"), f"an asset of kind {kind!r} is already named {name!r}; every server "
                                           "is an asset under its own name")


def _mirror_cycles(doc: Document, asset_items: list[tuple[Path, dict]]) -> None:
    origin = {a["name"]: a.get("mirror_of") for _, a in asset_items}
    for path, a in asset_items:
        seen, name = {a["name"]}, a.get("mirror_of")
        while origin.get(name):
            if name in seen:
                doc.error((*path, "mirror_of"), f"mirrors form a loop through {name!r}")
                break
            seen.add(name)
            name = origin[name]


ASSET_FIELDS = {"external_id": "external_id", "description": "description", "metadata": "metadata",
                "dumps": "dumps", "restore": "restore"}


def _asset_values(ctx: Context, a: dict[str, Any], customer: Customer | None) -> dict[str, Any]:
    values = present(a, ASSET_FIELDS)
    values["kind"] = a.get("kind", AssetKind.DATABASE if "server" in a else AssetKind.MANAGED_DATABASE)
    values["server"] = ctx.get("server", a["server"]) if "server" in a else None
    values["zone"] = ctx.get("zone", a["zone"]) if "zone" in a else None
    if customer is not None or "customer" in a:
        values["customer"] = customer or ctx.get("customer", a["customer"])
    if "account" in a:
        values["account"] = ctx.get("account", a["account"])
    values["mirror_of"] = ctx.get("asset", a["mirror_of"]) if "mirror_of" in a else None
    return values


def write(ctx: Context, items: list[tuple[Path, dict[str, Any]]]) -> None:
    w = ctx.writer
    pending: list[tuple[Path, dict[str, Any], Customer | None]] = [(p, a, None) for p, a in ctx.doc.items("assets")]
    for path, c in ctx.doc.items("customers"):
        customer = ctx.get("customer", c["slug"])
        pending += [((*path, "databases", i), db, customer) for i, db in enumerate(c.get("databases", []))]
    names = {a["name"] for _, a, _ in pending}
    prime(ctx, Asset, "name", sorted(names), "server", "zone", "customer", "account", "mirror_of")
    done: set[str] = set()
    # Origins before their mirrors (loops were refused in the check pass, so this ends).
    while pending:
        ready = [(p, a, c) for p, a, c in pending if a.get("mirror_of") not in names or a["mirror_of"] in done]
        if not ready:
            break
        for path, a, customer in ready:
            change = w.upsert(Asset, {"name": a["name"]}, _asset_values(ctx, a, customer), path)
            w.commit(change, ctx.note)
            done.add(a["name"])
            if change is not None:
                ctx.remember("asset", a["name"], change.obj)
        pending = [x for x in pending if x[1]["name"] not in done]
