"""GET /api/v1/rpo/: every customer database with its last recovery point against the objective."""

from __future__ import annotations

import json

import pytest
import time_machine
from django.core.signals import request_finished
from django.db import close_old_connections, connection

from backups import api, sweep
from backups.models import IngestToken
from tests.backups.conftest import at, record

URL = "/api/v1/rpo/"
NOW = at("2026-11-21 15:00")


def body(response) -> dict:
    """The streamed answer, read to its end and parsed: it must be one valid JSON document."""
    assert response.streaming, "the answer is streamed, whatever its size"
    return json.loads(b"".join(response.streaming_content))


def open_cursors() -> list[str]:
    with connection.cursor() as cur:
        cur.execute("SELECT name FROM pg_cursors WHERE name LIKE 'rpo_%'")
        return [row[0] for row in cur.fetchall()]


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
        answer = body(client_as("mona").get(URL))
    assert answer["count"] == 2
    acme, zeta = answer["databases"]
    assert acme == {"asset": "acme-db", "asset_id": swept.acme_db.pk, "customer": "Acme Dental",
                    "last_recovery_point": "2026-11-21T10:00:00+00:00", "rpo_seconds": 18000.0,
                    "objective_seconds": 93600.0, "status": "ok"}
    assert (zeta["customer"], zeta["status"], zeta["rpo_seconds"]) == ("Zeta Clinics", "breached", 2 * 86400 + 18000)
    assert answer["customers"] == [
        {"customer": "Acme Dental", "databases": 1, "status": "ok", "rpo_seconds": 18000.0},
        {"customer": "Zeta Clinics", "databases": 1, "status": "breached", "rpo_seconds": 2 * 86400 + 18000.0},
    ]


def test_a_token_sees_the_databases_of_its_scope(client, swept):
    raw = IngestToken.issue("monitor", policy=swept.weekly)[1]
    with time_machine.travel(NOW, tick=False):
        response = client.get(URL, HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 200
    assert [d["asset"] for d in body(response)["databases"]] == ["acme-db", "zeta-db"]


def test_it_refuses_anonymous_callers_and_bad_tokens(client, swept):
    assert client.get(URL).status_code == 401
    assert client.get(URL, HTTP_AUTHORIZATION="Bearer drb_wrong").status_code == 401


def test_a_user_without_a_role_is_refused(client_as, swept):
    assert client_as("nobody").get(URL).status_code == 401


def test_it_answers_in_a_fixed_number_of_queries_whatever_the_number_of_databases(client_as, swept,
                                                                                   django_assert_num_queries):
    client = client_as("mona")
    with time_machine.travel(NOW, tick=False):
        # The session, the user, the profile, the user's groups (roles); DECLARE the cursor, FETCH its count;
        # FETCH the rows, FETCH nothing more, CLOSE. More databases only add a FETCH per RPO_BATCH rows.
        with django_assert_num_queries(9):
            assert body(client.get(URL))["count"] == 2


def test_databases_and_customers_split_across_fetches_still_make_one_document(client_as, swept, monkeypatch):
    # One row per FETCH: the switch from databases to customers falls between two fetches.
    monkeypatch.setattr(api, "RPO_BATCH", 1)
    with time_machine.travel(NOW, tick=False):
        answer = body(client_as("mona").get(URL))
    assert [d["asset"] for d in answer["databases"]] == ["acme-db", "zeta-db"]
    assert [c["customer"] for c in answer["customers"]] == ["Acme Dental", "Zeta Clinics"]
    assert open_cursors() == []


def test_a_token_whose_scope_holds_no_database_gets_empty_lists(client, swept):
    raw = IngestToken.issue("images only", policy=swept.images)[1]
    with time_machine.travel(NOW, tick=False):
        answer = body(client.get(URL, HTTP_AUTHORIZATION=f"Bearer {raw}"))
    assert (answer["count"], answer["databases"], answer["customers"]) == (0, [], [])


def test_a_client_that_goes_away_before_reading_leaves_no_cursor_open(client_as, swept):
    with time_machine.travel(NOW, tick=False):
        response = client_as("mona").get(URL)
    assert len(open_cursors()) == 1
    # What a WSGI server does when the client hangs up: close the answer unread. (Without closing the test's
    # database connection, as Django's test client does too.)
    request_finished.disconnect(close_old_connections)
    try:
        response.close()
    finally:
        request_finished.connect(close_old_connections)
    assert open_cursors() == []
