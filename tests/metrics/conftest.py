"""A swept world (tests/backups' Jivosoft and Cybernance in miniature) and a scrape of /metrics."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from prometheus_client.parser import text_string_to_metric_families

from backups import sweep
from tests.backups.conftest import at, record, world  # noqa: F401 (the world fixture, shared)

NOW = at("2026-11-21 15:00")
TOKEN = "metrics-token-for-tests-0123456789"


@pytest.fixture
def swept(world, settings):  # noqa: F811
    """acme-db dumped at 10:00 in Dallas and copied to Kansas City; zeta-db never backed up."""
    settings.METRICS_TOKEN = TOKEN
    with time_machine.travel(NOW - timedelta(minutes=2), tick=False):  # received two minutes before the scrape
        record(world.daily, world.acme_db, at("2026-11-21 10:00"), zone=world.dfw1)
        record(world.weekly, world.acme_db, at("2026-11-15 11:00"), zone=world.mci1)
    sweep.sweep(NOW)
    return world


def scrape(client) -> dict:
    """{metric family name: [samples]} as prometheus-client's own parser reads the answer."""
    with time_machine.travel(NOW, tick=False):
        response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    return {f.name: f.samples for f in text_string_to_metric_families(response.content.decode())}


def sample(families: dict, name: str, **labels) -> float | None:
    family = name.removesuffix("_total")
    found = [s.value for s in families.get(family, []) if s.name == name and labels.items() <= s.labels.items()]
    assert len(found) <= 1, f"{name}{labels} matches {len(found)} samples"
    return found[0] if found else None
