"""The demo's stand-ins as `make run` keeps them, for tests that run the demo for real: a PostgreSQL for each
simulated replacement of a database server (manage.py serve_standin_databases, here a thread of the test) and
the demo data itself, with replacements that boot at once and accounts checked as the scheduler checks them."""

from __future__ import annotations

import shutil
import threading
from io import StringIO

import pytest


@pytest.fixture
def database_servers():
    """A PostgreSQL for each replacement database server while the test runs; yields the function giving the
    one at a node's address."""
    from django.db import connection as db

    from drportal.cloud.management.commands import serve_standin_databases
    from drportal.lib import standin_pg

    done = threading.Event()

    failures: list[Exception] = []

    def keep():
        while not done.wait(0.2):
            try:
                serve_standin_databases.reconcile()
            except Exception as exc:  # noqa: BLE001 - as the command does: look again; the test reports it
                failures.append(exc)
        db.close()

    thread = threading.Thread(target=keep)
    thread.start()
    yield standin_pg.node_server
    done.set()
    thread.join()
    standin_pg.reconcile_nodes(set())
    shutil.rmtree(standin_pg.demo_dir() / "nodes", ignore_errors=True)
    assert not failures, f"the stand-in database servers could not be kept: {failures[:3]}"


@pytest.fixture
def demo_cloud(transactional_db, monkeypatch, settings, tmp_path, database_servers):
    """`manage.py load_demo` with the simulated DNS on a free port (the worker, started after this, is told),
    replacements that boot at once (waiting on a pending node is the engine's business, tested there) and every
    account's provider check done. Yields the simulated DNS server."""
    from django.core.management import call_command

    from drportal.cloud import connection
    from drportal.cloud.adapters import dnsserver
    from drportal.inventory.models import ProviderAccount
    from drportal.lib import clock

    dns = dnsserver.start("127.0.0.1", 0)
    monkeypatch.setenv("SIM_DNS_PORT", str(dns.port))
    monkeypatch.setenv("CLOUD_DNS_RESOLVERS", f"127.0.0.1:{dns.port}")
    settings.CLOUD_DEPLOY_DIR = tmp_path / "deployments"
    call_command("load_demo", stdout=StringIO())
    for twin in ProviderAccount.objects.filter(name__endswith="-demo", driver="simulated"):
        twin.options = {**twin.options, "latency_s": 0}
        twin.save()
    connection.check_all(clock.now())  # what the scheduler does every quarter of an hour
    yield dns
    dns.stop()
