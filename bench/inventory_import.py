"""Inventory import at a size well past the seeds: 500 servers, 1,000 customers with a database and a contact
each, 20 services, 100 people. Runs in a scratch test database (created and dropped here), never the live one.

Measures the first import, a re-import that changes nothing, and a re-import that changes one field.
No target is set by an issue; the ones below are ours: an operator re-uploading a document should wait
seconds, not minutes.
"""

from __future__ import annotations

import os
import time

SERVERS, CUSTOMERS, SERVICES, PEOPLE = 500, 1000, 20, 100


def document(size_of_web1: str = "4 GB") -> str:
    lines = [
        "version: 1",
        "providers:",
        "  - {slug: bench, name: Bench, kind: simulated, regions: [{slug: r1, name: R1, zones: "
        "[{slug: z1, name: Z1}, {slug: z2, name: Z2}]}]}",
        "accounts:",
        "  - {name: bench-acct, provider: bench, driver: simulated, credentials_env: {key: BENCH_KEY}}",
        "servers:",
    ]
    for i in range(SERVERS):
        role = "database" if i % 5 == 0 else "application"
        size = size_of_web1 if i == 1 else "4 GB"
        lines.append(
            f"  - {{name: srv{i}, role: {role}, zone: bench/r1/z{1 + i % 2}, account: bench-acct, size: {size}, "
            f"public_ips: [198.51.{i // 250}.{i % 250 + 1}], private_ips: [10.9.{i // 250}.{i % 250 + 1}], "
            f"dns_names: [srv{i}.bench.example]}}"
        )
    lines.append("services:")
    for s in range(SERVICES):
        members = ", ".join(f"srv{i}" for i in range(s, SERVERS, SERVICES))
        lines.append(f"  - {{slug: svc{s}, name: Service {s}, servers: [{members}]}}")
    lines.append("customers:")
    for c in range(CUSTOMERS):
        lines.append(
            f"  - {{slug: cust{c}, name: Customer {c}, services: [svc{c % SERVICES}], "
            f"contacts: [{{purpose: outage, email: ops@cust{c}.example}}], "
            f"databases: [{{name: db-cust{c}, server: srv{(c % (SERVERS // 5)) * 5}}}]}}"
        )
    lines.append("offices: [{slug: hq, name: HQ}]")
    lines.append("people:")
    for p in range(PEOPLE):
        lines.append(f"  - {{email: p{p}@bench.example, name: Person {p}, office: hq}}")
    return "\n".join(lines) + "\n"


def run() -> list[dict]:
    import django

    django.setup()
    from django.db import connections
    from django.test.utils import setup_databases, teardown_databases

    from drportal.inventory.importer import import_inventory

    # A scratch database of our own, so a test run using test_<name> at the same time is not disturbed.
    connections["default"].settings_dict.setdefault("TEST", {})["NAME"] = f"bench_inventory_{os.getpid()}"
    old = setup_databases(verbosity=0, interactive=False)
    try:
        text = document()
        objects = 0
        timings = {}
        for label, doc in (("first import", text), ("re-import, no change", text),
                           ("re-import, one field changed", document("8 GB"))):
            started = time.perf_counter()
            summary = import_inventory(doc, "bench", "bench.yaml")
            timings[label] = time.perf_counter() - started
            objects = max(objects, sum(int(part.split()[0]) for part in summary.split(",")[:3]))
    finally:
        teardown_databases(old, verbosity=0)
    targets = {"first import": 30.0, "re-import, no change": 5.0, "re-import, one field changed": 5.0}
    return [
        {"name": f"inventory {label} ({objects} objects)", "value": round(seconds, 2), "unit": "s",
         "target": f"<= {targets[label]:.0f} s", "met": seconds <= targets[label]}
        for label, seconds in timings.items()
    ]


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "drportal.settings")
    for row in run():
        print(row)
