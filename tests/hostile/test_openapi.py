"""The OpenAPI document of /api/v1/: every route of the "api" namespace is in it, it is a valid OpenAPI 3.1
document, every example in it matches its schema, and the readable page shows it without a login."""

from __future__ import annotations

import re

import jsonschema
import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from drportal.lib import openapi

NOT_OPERATIONS = {"/api/v1/openapi.json", "/api/v1/docs/"}


def api_routes() -> set[str]:
    def walk(patterns, prefix):
        for entry in patterns:
            route = prefix + str(entry.pattern)
            if isinstance(entry, URLResolver):
                yield from walk(entry.url_patterns, route)
            elif isinstance(entry, URLPattern):
                yield route

    [api] = [p for p in get_resolver().url_patterns if getattr(p, "namespace", None) == "api"]
    return {"/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", r) for r in walk(api.url_patterns, str(api.pattern))}


def test_every_api_route_is_documented_and_nothing_else():
    assert set(openapi.document()["paths"]) == api_routes() - NOT_OPERATIONS


def test_the_document_is_valid_openapi_3_1():
    from schemathesis.specs.openapi import definitions

    jsonschema.validate(openapi.document(), definitions.OPENAPI_31)


def test_every_operation_names_its_errors_and_its_authentication():
    for path, operations in openapi.document()["paths"].items():
        for method, operation in operations.items():
            assert {"401", "405", "500"} <= set(operation["responses"]), f"{method} {path}"
            assert operation["security"], f"{method} {path}"
            assert operation["operationId"]


def test_the_body_limits_of_the_code_are_in_the_document():
    from backups.api import MAX_BODY_BYTES
    from backups.ingest import MAX_BATCH

    doc = openapi.document()
    assert doc["components"]["schemas"]["BackupBatch"]["maxItems"] == MAX_BATCH
    assert f"{MAX_BODY_BYTES:,} bytes" in doc["paths"]["/api/v1/backups/"]["post"]["description"]


@pytest.mark.parametrize(("where", "example", "schema"), openapi.examples(openapi.document()),
                         ids=lambda v: v if isinstance(v, str) else "")
def test_every_example_matches_its_schema(where, example, schema):
    doc = openapi.document()
    resolver_root = {"components": doc["components"], **schema}
    jsonschema.Draft202012Validator(resolver_root, format_checker=jsonschema.FormatChecker()).validate(example)


def test_a_wrong_example_would_be_caught():
    doc = openapi.document()
    schema = {"components": doc["components"], "$ref": "#/components/schemas/BackupReport"}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema).validate({"id": "x", "asset": "a", "outcome": "maybe",
                                                          "started_at": "2026-11-21T10:00:00Z"})


def test_the_document_is_served_as_json_without_a_login(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.json()["openapi"] == "3.1.0"
    assert "/api/v1/backups/" in response.json()["paths"]


def test_the_readable_page_shows_every_operation_and_loads_nothing_from_elsewhere(client, db):
    page = client.get("/api/v1/docs/").content.decode()
    assert "POST /api/v1/backups/" in page
    assert "GET /api/v1/rpo/" in page
    assert "acme-db-2026-11-21" in page
    assert not re.search(r"""(src|href)=["']https?://""", page)
