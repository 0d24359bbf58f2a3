"""The hostile inputs of issue 13, each as it was reported against `make run`: every one answered a server
error (or was accepted) before the input boundary (drportal/lib/inputs.py) existed."""

from __future__ import annotations

import json
import logging

import pytest
import time_machine

from backups.models import BackupRecord, IngestToken
from tests.backups.conftest import at

URL = "/api/v1/backups/"
NOW = at("2026-11-21 15:00")


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def token(world) -> str:
    return IngestToken.issue("jivosoft agent", policy=world.daily)[1]


def post(client, body, token: str | None = None, **headers):
    if token:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    client.raise_request_exception = False
    return client.post(URL, data=data, content_type="application/json", **headers)


def report(**over) -> dict:
    base = {"id": "acme-db-2026-11-21", "asset": "acme-db", "outcome": "succeeded",
            "started_at": "2026-11-21T10:00:00Z", "completed_at": "2026-11-21T10:20:00Z", "size_bytes": 123456,
            "sha256": "ab" * 32}
    return base | over


def refused(response, field: str) -> bool:
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/json"
    return field in {e["field"] for e in response.json()["errors"]}


@pytest.mark.parametrize("field", ["id", "error", "provider_state"])
def test_a_nul_character_in_a_text_field_is_refused_naming_it(client, world, token, field):
    response = post(client, report(**{field: "bad\x00text"}), token)
    assert refused(response, field)
    assert not BackupRecord.objects.exists()


def test_a_nul_character_in_a_batch_item_is_refused_with_its_index(client, world, token):
    response = post(client, [report(), report(id="two", error="\x00")], token)
    assert refused(response, "error")
    assert response.json()["errors"][0]["index"] == 1
    assert not BackupRecord.objects.exists()


@pytest.mark.parametrize("when", ["2026-02-30T10:00:00Z", "2026-13-01T10:00:00Z", "2026-00-10T10:00:00Z",
                                  "2026-11-21T25:00:00Z", "2026-11-21T10:00:00+25:00",
                                  "2026-11-21T10:00:00-99:59", "2026-11-21T10:00:00+24:00"])
def test_an_impossible_time_is_refused_naming_the_field(client, world, token, when):
    response = post(client, report(started_at=when, completed_at=None, outcome="running"), token)
    assert refused(response, "started_at")
    assert not BackupRecord.objects.exists()


def test_json_nested_thousands_of_levels_deep_is_refused(client, world, token):
    response = post(client, "[" * 5000 + "]" * 5000, token)
    assert refused(response, "(body)")


def test_a_deep_object_inside_a_field_is_refused(client, world, token):
    deep = report(location={"zone": json.loads("[" * 50 + "]" * 50)})
    response = post(client, deep, token)
    assert response.status_code == 400


def test_a_lone_surrogate_is_refused_naming_the_field(client, world, token):
    response = post(client, '{"id": "\\ud800", "asset": "acme-db", "outcome": "running", '
                            '"started_at": "2026-11-21T10:00:00Z"}', token)
    assert refused(response, "id")
    assert not BackupRecord.objects.exists()


def test_a_lone_surrogate_in_an_unknown_key_is_refused(client, world, token):
    response = post(client, '{"\\udfff": 1}', token)
    assert response.status_code == 400


def test_a_backup_in_year_one_is_not_accepted_as_viable(client, world, token):
    response = post(client, report(started_at="0001-01-01T00:00:00-12:00", completed_at="0001-01-01T01:00:00-12:00"),
                    token)
    assert refused(response, "started_at")
    assert "2000-01-01" in json.dumps(response.json())
    assert not BackupRecord.objects.exists()


def test_a_backup_before_the_floor_is_refused(client, world, token):
    response = post(client, report(started_at="1999-12-31T23:59:59Z", completed_at="2000-01-01T00:10:00Z"), token)
    assert refused(response, "started_at")


@pytest.mark.parametrize("size", [2**63, -1, 10**30])
def test_a_size_outside_a_bigint_is_refused(client, world, token, size):
    assert refused(post(client, report(size_bytes=size), token), "size_bytes")


@pytest.mark.parametrize("header", ["", " ", "Bearer", "Bearer ", "Basic Zm9vOmJhcg==", "bearer \x7f",
                                    "Token abc", "Bearer a b c", "Bearer " + "x" * 5000])
def test_a_malformed_authorization_header_on_rpo_is_a_401_with_a_sentence(client, world, header):
    client.raise_request_exception = False
    response = client.get("/api/v1/rpo/", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401, response.content
    assert response.json()["error"].endswith(".") or " " in response.json()["error"]


@pytest.mark.parametrize("header", ["", " ", "Bearer", "Basic Zm9vOmJhcg==", "Bearer a b c"])
def test_a_malformed_authorization_header_on_ingest_is_a_401(client, world, header):
    response = post(client, report(), None, HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert "bearer token" in response.json()["error"]


def test_an_unexpected_error_under_the_api_answers_json_with_an_id_that_is_in_the_log(
        client, world, token, monkeypatch, caplog):
    from backups import ingest

    def explode(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(ingest, "ingest_one", explode)
    with caplog.at_level(logging.ERROR):
        response = post(client, report(), token)
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    error_id = response.json()["error_id"]
    assert "boom" not in response.content.decode()
    assert any(error_id in r.getMessage() for r in caplog.records)


def test_an_unexpected_error_in_a_session_api_request_answers_json_too(client, users, monkeypatch):
    from backups import api

    monkeypatch.setattr(api, "RPO_SQL", "SELECT 1/0")
    client.force_login(users["alice"])
    client.raise_request_exception = False
    response = client.get("/api/v1/rpo/")
    assert response.status_code == 500
    assert "error_id" in response.json()
