"""GET /api/v1/rpo/: every customer database with its last recovery point against the objective."""

from __future__ import annotations

import pytest
import time_machine

from backups import sweep
from backups.models import IngestToken
from tests.backups.conftest import at, record

URL = "/api/v1/rpo/"
NOW = at("2026-11-21 15:00")


@pytest.fixture
def swept(world):
    with time_machine.travel(NOW, tick=False):
        record(world.daily, world.acme_db, at("2026-11-21 10:00"), zone=world.dfw1)
        record(world.weekly, world.acme_db, at("2026-11-15 11:00"), zone=world.mci1)
        record(world.daily, world.zeta_db, at("2026-11-19 10:00"), zone=world.dfw1)
        sweep.sweep(NOW)
        yield world


def test_it_lists_every_customer_database_for_a_staff_session(client_as, swept):
    with time_machine.travel(NOW, tick=False):
        body = client_as("mona").get(URL).json()
    assert body["count"] == 2
    acme, zeta = body["databases"]
    assert acme == {"asset": "acme-db", "asset_id": swept.acme_db.pk, "customer": "Acme Dental",
                    "last_recovery_point": "2026-11-21T10:00:00+00:00", "rpo_seconds": 18000.0,
                    "objective_seconds": 93600.0, "status": "ok"}
    assert (zeta["customer"], zeta["status"], zeta["rpo_seconds"]) == ("Zeta Clinics", "breached", 2 * 86400 + 18000)
    assert body["customers"] == [
        {"customer": "Acme Dental", "databases": 1, "status": "ok", "rpo_seconds": 18000.0},
        {"customer": "Zeta Clinics", "databases": 1, "status": "breached", "rpo_seconds": 2 * 86400 + 18000.0},
    ]


def test_a_token_sees_the_databases_of_its_scope(client, swept):
    raw = IngestToken.issue("monitor", policy=swept.weekly)[1]
    with time_machine.travel(NOW, tick=False):
        response = client.get(URL, HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 200
    assert [d["asset"] for d in response.json()["databases"]] == ["acme-db", "zeta-db"]


def test_it_refuses_anonymous_callers_and_bad_tokens(client, swept):
    assert client.get(URL).status_code == 401
    assert client.get(URL, HTTP_AUTHORIZATION="Bearer drb_wrong").status_code == 401


def test_a_user_without_a_role_is_refused(client_as, swept):
    assert client_as("nobody").get(URL).status_code == 401
