from __future__ import annotations

import textwrap
from pathlib import Path

import django_rq
import pytest
from django.conf import settings
from rq import SimpleWorker

from drportal.incidents import services as incidents
from drportal.inventory.models import Provider, Region, Server, Zone
from scenarios import loader


@pytest.fixture(autouse=True)
def clean_redis():
    """Our own Redis db number only (REDIS_URL), never FLUSHALL."""
    conn = django_rq.get_connection("high")
    conn.flushdb()
    yield conn
    conn.flushdb()


def drain(queue: str = "high") -> None:
    """Run every queued job to the end with a non-forking worker on real Redis."""
    conn = django_rq.get_connection(queue)
    SimpleWorker([django_rq.get_queue(queue)], connection=conn).work(burst=True)


@pytest.fixture
def staff_notices(monkeypatch) -> list[dict]:
    """Every call the engine makes to notifications.api.notify_staff (the contract), passed through to
    the real function, whatever channel it delivers on. The page sent when an incident is declared
    (notifications' own listener, keyed "incident:<id>:ops") is not the engine's and is left out."""
    import notifications.api

    calls: list[dict] = []
    real = notifications.api.notify_staff

    def spy(**kwargs):
        if not str(kwargs.get("dedupe_key", "")).startswith("incident:"):
            calls.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(notifications.api, "notify_staff", spy)
    return calls


@pytest.fixture
def demo(db):
    """The demo data of `manage.py load_demo` (both seed inventories, the demo backup history, the simulated
    twins of the cloud accounts), without its users: the tests have their own."""
    from backups import demo as backups_demo
    from drportal.cloud import demo as cloud_demo
    from drportal.inventory.importer import import_inventory
    from drportal.lib import clock

    for path in sorted((Path(settings.BASE_DIR) / "inventories").glob("*.yaml")):
        import_inventory(path.read_text(), actor="test:demo", source=path.name)
    now = clock.now()
    backups_demo.load(now)
    cloud_demo.load(now)


@pytest.fixture
def make_servers(db):
    def make(count: int, provider: str = "simulated", prefix: str = "web") -> list[Server]:
        prov, _ = Provider.objects.get_or_create(slug=provider, defaults={"name": provider.title(), "kind": provider})
        region, _ = Region.objects.get_or_create(provider=prov, slug="dfw", defaults={"name": "Dallas"})
        zone, _ = Zone.objects.get_or_create(region=region, slug="dfw1", defaults={"name": "Dallas 1"})
        return [Server.objects.create(name=f"{prefix}{i}", role="application", zone=zone, image=f"img-{i}")
                for i in range(count)]

    return make


@pytest.fixture
def declare(alice):
    def make(disaster_class: str = "server_crash", servers=(), title: str = "Server down", **fields):
        return incidents.declare(alice, title=title, disaster_class=disaster_class,
                                 impacted={"servers": list(servers)} if servers else None, **fields)

    return make


def scenario_from(text: str) -> loader.Scenario:
    scenario, errors = loader.parse(textwrap.dedent(text), "test.yaml", loader.installed_actions())
    assert errors == [], errors
    return scenario


HEADER = """\
id: test-{name}
title: Test scenario {name}
disaster_class: server_crash
trigger: "A test"
objectives: {{rto_minutes: 30, rpo_minutes: 60}}
owner: ops
last_reviewed: 2026-01-01
steps:
"""


def scenario(name: str, steps: str) -> loader.Scenario:
    return scenario_from(HEADER.format(name=name) + textwrap.dedent(steps))
