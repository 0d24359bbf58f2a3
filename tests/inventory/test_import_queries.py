"""The cost of an import does not grow query by query with the document: rows are loaded in bulk."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from drportal.inventory.importer import COMMAND_ACTOR, import_inventory
from drportal.inventory.models import Asset, Server


def document(servers: int) -> str:
    lines = ["version: 1",
             "providers: [{slug: p, name: P, kind: other, regions: [{slug: r, name: R, zones: [{slug: z, name: Z}]}]}]",
             "accounts: [{name: acct, provider: p, driver: simulated}]",
             "servers:"]
    lines += [f"  - {{name: s{i}, role: database, zone: p/r/z, account: acct, public_ips: [198.51.100.{i + 1}]}}"
              for i in range(servers)]
    lines.append("customers:")
    lines += [f"  - {{slug: c{i}, name: C{i}, contacts: [{{purpose: outage, email: o@c{i}.example}}], "
              f"databases: [{{name: db-c{i}, server: s{i}}}]}}" for i in range(servers)]
    lines.append(f"services: [{{slug: svc, name: Svc, servers: [{', '.join(f's{i}' for i in range(servers))}]}}]")
    return "\n".join(lines) + "\n"


def queries_of_a_reimport(servers: int) -> int:
    text = document(servers)
    import_inventory(text, COMMAND_ACTOR)
    with CaptureQueriesContext(connection) as captured:
        assert import_inventory(text, COMMAND_ACTOR).startswith("0 created, 0 updated")
    return len(captured)


def test_a_reimport_costs_the_same_queries_for_5_or_40_servers(db):
    small = queries_of_a_reimport(5)
    Server.objects.all().delete()
    Asset.objects.all().delete()
    assert queries_of_a_reimport(40) == small
    # BEGIN, the advisory lock, asset names against servers' assets and servers against assets (2), providers
    # and accounts in bulk, the region and the zone (one by one: few), servers and their assets in bulk, the
    # zone's region (for Server.clean), customers with their services (2), customer databases, services with
    # servers and assets (3), contacts, COMMIT.
    assert small == 19


@pytest.mark.django_db(transaction=True)
def test_two_imports_at_once_do_not_duplicate_or_fail():
    text = document(10)
    results: list[str] = []

    def run() -> None:
        try:
            results.append(import_inventory(text, COMMAND_ACTOR))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    # The advisory lock serialises them: one creates everything, the other finds it all unchanged.
    assert sorted(r.split(",")[0] for r in results) == ["0 created", "55 created"]
    assert Server.objects.count() == 10
