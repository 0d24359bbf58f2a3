"""Offices, the people who work in them, and the external contacts (carriers, landlords, vendors) called in a
disaster."""

from __future__ import annotations

from typing import Any

from drportal.inventory.document import Document, Path, duplicates
from drportal.inventory.models import ExternalContact, Office, Person
from drportal.inventory.writer import Context, present, prime


def check(doc: Document, items: list[tuple[Path, dict[str, Any]]]) -> None:
    """Unique slugs, emails and call-forwarding orders; people in known offices."""
    cat = doc.catalog
    duplicates(doc, "offices", lambda o: o["slug"], "office", "slug")
    duplicates(doc, "people", lambda p: p["email"], "person (email)", "email")
    forwarding: dict[int, Path] = {}
    for path, p in doc.items("people"):
        order = p.get("call_forwarding_order")
        if order in forwarding:
            first = doc.line(forwarding[order])
            doc.error((*path, "call_forwarding_order"), f"call-forwarding order {order} is taken (line {first})")
        elif order is not None:
            forwarding[order] = path
        if "office" in p and not cat.has("office", p["office"]):
            doc.error((*path, "office"), f"unknown office {p['office']!r}")
    duplicates(doc, "external_contacts", lambda e: (e["kind"], e["organisation"]), "external contact")


PERSON_FIELDS = {
    "name": "name", "title": "title", "phone": "phone", "is_key_personnel": "key_personnel",
    "call_forwarding_order": "call_forwarding_order", "on_site_rank": "on_site_rank", "has_laptop": "laptop",
    "has_home_internet": "home_internet", "coworking_member": "coworking_member",
}
OFFICE_FIELDS = {k: k for k in ("name", "address", "city", "main_phone", "person_in_charge_role", "notes")}
EXTERNAL_FIELDS = {k: k for k in ("name", "phone", "email", "account_number", "notes")}


def write(ctx: Context, items: list[tuple[Path, dict[str, Any]]]) -> None:
    w = ctx.writer
    prime(ctx, Office, "slug", [o["slug"] for _, o in ctx.doc.items("offices")])
    prime(ctx, Person, "email", [p["email"] for _, p in ctx.doc.items("people")], "office")
    externals = [{"kind": e["kind"], "organisation": e["organisation"]} for _, e in ctx.doc.items("external_contacts")]
    rows = ExternalContact.objects.filter(organisation__in=[e["organisation"] for e in externals])
    w.prime(ExternalContact, ["kind", "organisation"], rows, externals)
    for path, o in ctx.doc.items("offices"):
        change = w.upsert(Office, {"slug": o["slug"]}, present(o, OFFICE_FIELDS), path)
        w.commit(change, ctx.note)
        if change is not None:
            ctx.remember("office", o["slug"], change.obj)
    for path, p in ctx.doc.items("people"):
        values = present(p, PERSON_FIELDS)
        if "office" in p:
            values["office"] = ctx.get("office", p["office"])
        w.commit(w.upsert(Person, {"email": p["email"]}, values, path, PERSON_FIELDS), ctx.note)
    for path, e in ctx.doc.items("external_contacts"):
        key = {"kind": e["kind"], "organisation": e["organisation"]}
        w.commit(w.upsert(ExternalContact, key, present(e, EXTERNAL_FIELDS), path), ctx.note)
