"""Services and the servers and assets they run on."""

from __future__ import annotations

from typing import Any

from drportal.inventory.document import Document, Path, duplicates
from drportal.inventory.models import Service
from drportal.inventory.writer import Context, present, prime


def check(doc: Document, items: list[tuple[Path, dict[str, Any]]]) -> None:
    """Unique slugs; known servers and assets."""
    cat = doc.catalog
    duplicates(doc, "services", lambda s: s["slug"], "service", "slug")
    for path, s in doc.items("services"):
        for i, name in enumerate(s.get("servers", [])):
            if not cat.has("server", name):
                doc.error((*path, "servers", i), f"unknown server {name!r}")
        for i, name in enumerate(s.get("assets", [])):
            if not cat.has("asset", name):
                doc.error((*path, "assets", i), f"unknown asset {name!r}")


def write(ctx: Context, items: list[tuple[Path, dict[str, Any]]]) -> None:
    w = ctx.writer
    slugs = [s["slug"] for _, s in ctx.doc.items("services")]
    prime(ctx, Service, "slug", slugs, prefetch=("servers", "assets"))
    for path, s in ctx.doc.items("services"):
        values = present(s, {"name": "name", "public_name": "public_name", "description": "description"})
        change = w.upsert(Service, {"slug": s["slug"]}, values, path)
        if change is None:
            continue
        if "servers" in s:
            w.set_m2m(change, "servers", [ctx.get("server", n) for n in s["servers"]])
        if "assets" in s:
            w.set_m2m(change, "assets", [ctx.get("asset", n) for n in s["assets"]])
        w.commit(change, ctx.note)
        ctx.remember("service", s["slug"], change.obj)
