"""Providers with their regions and zones, and the cloud accounts at them: the first section written, since
everything else is somewhere."""

from __future__ import annotations

import re
from typing import Any

from drportal.inventory.document import Document, Path, duplicates
from drportal.inventory.models import Provider, ProviderAccount, Region, Zone
from drportal.inventory.writer import Context, present, prime

AWS_KEY_ID = re.compile(r"^(AKIA|ASIA)[A-Z0-9]{16}$")
SECRET_OPTION = re.compile(r"(secret|password|passwd|token|api_?key|private_?key|credential)", re.IGNORECASE)


def check(doc: Document, items: list[tuple[Path, dict[str, Any]]]) -> None:
    """Duplicate slugs at every level; accounts at known providers, naming variables, not secrets."""
    cat = doc.catalog
    duplicates(doc, "providers", lambda p: p["slug"], "provider", "slug")
    for path, p in doc.items("providers"):
        seen_regions: dict[str, Path] = {}
        for i, r in enumerate(p.get("regions", [])):
            rpath = (*path, "regions", i)
            if r["slug"] in seen_regions:
                doc.error((*rpath, "slug"), f"duplicate region {r['slug']!r} in provider {p['slug']!r}")
            seen_regions[r["slug"]] = rpath
            seen_zones: set[str] = set()
            for j, z in enumerate(r.get("zones", [])):
                if z["slug"] in seen_zones:
                    doc.error((*rpath, "zones", j, "slug"), f"duplicate zone {z['slug']!r} in region {r['slug']!r}")
                seen_zones.add(z["slug"])

    duplicates(doc, "accounts", lambda a: a["name"], "account", "name")
    for path, a in doc.items("accounts"):
        if not cat.has_provider(a["provider"]):
            doc.error((*path, "provider"), f"unknown provider {a['provider']!r}")
        for field_name, var in a.get("credentials_env", {}).items():
            if AWS_KEY_ID.match(var):
                doc.error((*path, "credentials_env", field_name),
                          "looks like an AWS access key id, not the name of an environment variable "
                          "(secrets never go in the document)")
        for option in a.get("options", {}):
            if SECRET_OPTION.search(option):
                doc.error((*path, "options", option), f"{option!r} looks like a secret: put it in an environment "
                                                      "variable and name that variable in credentials_env")


def write(ctx: Context, items: list[tuple[Path, dict[str, Any]]]) -> None:
    w = ctx.writer
    prime(ctx, Provider, "slug", [p["slug"] for _, p in ctx.doc.items("providers")])
    prime(ctx, ProviderAccount, "name", [a["name"] for _, a in ctx.doc.items("accounts")], "provider")
    for path, p in ctx.doc.items("providers"):
        change = w.upsert(Provider, {"slug": p["slug"]}, {"name": p["name"], "kind": p["kind"]}, path)
        w.commit(change, ctx.note)
        if change is None:
            continue
        ctx.remember("provider", p["slug"], change.obj)
        for i, r in enumerate(p.get("regions", [])):
            rpath = (*path, "regions", i)
            rc = w.upsert(Region, {"provider": change.obj, "slug": r["slug"]}, {"name": r["name"]}, rpath)
            w.commit(rc, ctx.note)
            if rc is None:
                continue
            ctx.remember("region", f"{p['slug']}/{r['slug']}", rc.obj)
            for j, z in enumerate(r.get("zones", [])):
                zc = w.upsert(Zone, {"region": rc.obj, "slug": z["slug"]}, {"name": z["name"]}, (*rpath, "zones", j))
                w.commit(zc, ctx.note)
                if zc is not None:
                    ctx.remember("zone", f"{p['slug']}/{r['slug']}/{z['slug']}", zc.obj)
    for path, a in ctx.doc.items("accounts"):
        values = {"provider": ctx.get("provider", a["provider"]), "driver": a["driver"]}
        values |= present(a, {"credentials_env": "credentials_env", "options": "options"})
        change = w.upsert(ProviderAccount, {"name": a["name"]}, values, path)
        w.commit(change, ctx.note)
        if change is not None:
            ctx.remember("account", a["name"], change.obj)
