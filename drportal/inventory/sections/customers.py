"""Customers, written in two steps: the rows first (their databases, in assets.py, need them), then, once the
services exist, their services and contacts (`link`), so each customer is audited once."""

from __future__ import annotations

import datetime as dt
from typing import Any

from drportal.inventory.document import Document, Path, duplicates
from drportal.inventory.models import Customer, CustomerContact
from drportal.inventory.writer import Context, present, prime


def check(doc: Document, items: list[tuple[Path, dict[str, Any]]]) -> None:
    """Known services, one contact per purpose and email, a real termination date."""
    cat = doc.catalog
    duplicates(doc, "customers", lambda c: c["slug"], "customer", "slug")
    for path, c in doc.items("customers"):
        for i, slug in enumerate(c.get("services", [])):
            if not cat.has("service", slug):
                doc.error((*path, "services", i), f"unknown service {slug!r}")
        seen: set[tuple[str, str]] = set()
        for i, contact in enumerate(c.get("contacts", [])):
            # The key the table enforces: one contact per purpose and email (and one without an email).
            key = (contact["purpose"], contact.get("email", ""))
            if key in seen:
                who = repr(key[1]) if key[1] else "without an email"
                doc.error((*path, "contacts", i), f"duplicate {contact['purpose']} contact {who}")
            seen.add(key)
        if "terminated_on" in c:
            try:
                dt.date.fromisoformat(c["terminated_on"])
            except ValueError:
                doc.error((*path, "terminated_on"), f"{c['terminated_on']!r} is not a date")


def write(ctx: Context, items: list[tuple[Path, dict[str, Any]]]) -> None:
    prime(ctx, Customer, "slug", [c["slug"] for _, c in ctx.doc.items("customers")], prefetch=("services",))
    for path, c in ctx.doc.items("customers"):
        values = present(c, {"name": "name", "tier": "tier", "status": "status"})
        if "terminated_on" in c:
            day = dt.date.fromisoformat(c["terminated_on"])
            values["terminated_at"] = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
        change = ctx.writer.upsert(Customer, {"slug": c["slug"]}, values, path, {"terminated_at": "terminated_on"})
        if change is None:
            continue
        ctx.remember("customer", c["slug"], change.obj)
        # Committed (audited) after services are linked, so a customer gets one record, not two.
        ctx.pending_customers.append((path, c, change))


def link(ctx: Context, items: list[tuple[Path, dict[str, Any]]]) -> None:
    w = ctx.writer
    listed = [change.obj for _, c, change in ctx.pending_customers if "contacts" in c]
    existing: dict[int, list[CustomerContact]] = {}
    rows = list(CustomerContact.objects.filter(customer__in=listed))
    for row in rows:
        existing.setdefault(row.customer_id, []).append(row)
    asked = [{"customer": change.obj, "purpose": contact["purpose"], "email": contact.get("email", "")}
             for _, c, change in ctx.pending_customers for contact in c.get("contacts", [])]
    w.prime(CustomerContact, ["customer", "purpose", "email"], rows, asked)
    for path, c, change in ctx.pending_customers:
        if "services" in c:
            w.set_m2m(change, "services", [ctx.get("service", slug) for slug in c["services"]])
        w.commit(change, ctx.note)
        if "contacts" not in c:
            continue
        # The document's list is the customer's whole list: contacts it no longer names are removed.
        kept: set[int] = set()
        for i, contact in enumerate(c["contacts"]):
            key = {"customer": change.obj, "purpose": contact["purpose"]}
            key["email"] = contact.get("email", "")
            values = present(contact, {"name": "name", "phone": "phone"})
            cc = w.upsert(CustomerContact, key, values, (*path, "contacts", i))
            w.commit(cc, ctx.note)
            if cc is not None:
                kept.add(cc.obj.pk)
        for stale in existing.get(change.obj.pk, []):
            if stale.pk not in kept:
                w.remove(stale, ctx.note)
