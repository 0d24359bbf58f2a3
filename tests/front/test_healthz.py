from __future__ import annotations

from unittest import mock

import pytest


@pytest.mark.django_db
def test_it_reports_database_and_queue_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["database"] == "ok"
    assert response.json()["queue"] == "ok"


@pytest.mark.django_db
def test_it_answers_503_naming_the_queue_when_redis_is_unreachable(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["queue"] == "ConnectionError"
    assert response.json()["database"] == "ok"


@pytest.mark.django_db
def test_it_answers_503_naming_the_database_when_it_fails(client):
    from django.db import OperationalError

    with mock.patch("drportal.front.health.connection.cursor", side_effect=OperationalError("gone")):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "OperationalError"


def test_it_needs_no_login(client, db):
    assert client.get("/healthz").status_code == 200
