"""The OpenAPI 3.1 document of /api/v1/ (served at /api/v1/openapi.json, readable at /api/v1/docs/).

Each app describes its own operations in its own module and registers them from its AppConfig.ready()
(backups/openapi.py is the example): this module only holds what all operations share (authentication, the
error bodies, the server error) and assembles the document. A test (tests/hostile/test_openapi.py) fails when a
route of the "api" namespace is not documented, or when a documented example does not match its schema.
"""

from __future__ import annotations

import copy
from typing import Any

VERSION = "1.0.0"
PREFIX = "/api/v1"

_paths: dict[str, dict[str, Any]] = {}
_components: dict[str, dict[str, Any]] = {}

ERROR = {
    "type": "object",
    "description": "A refusal: `error` is a sentence; `errors` names each field refused (and, in a batch, the "
                   "index of the report it belongs to). Nothing was recorded.",
    "properties": {
        "error": {"type": "string"},
        "errors": {"type": "array", "items": {"$ref": "#/components/schemas/FieldError"}},
    },
    "required": ["error"],
}
FIELD_ERROR = {
    "type": "object",
    "properties": {
        "field": {"type": "string", "description": "the field as sent (`location.zone`), or `(body)`"},
        "message": {"type": "string", "description": "completes the sentence \"<field> ...\""},
        "index": {"type": "integer", "minimum": 0, "description": "in a batch: the report's position"},
    },
    "required": ["field", "message"],
}
SERVER_ERROR = {
    "type": "object",
    "description": "An unexpected error. The same error id is in the server's log line with the traceback.",
    "properties": {"error": {"type": "string"}, "error_id": {"type": "string", "pattern": "^[0-9a-f]{16}$"}},
    "required": ["error", "error_id"],
}


def _json(ref: str, description: str, example: Any | None = None) -> dict[str, Any]:
    media: dict[str, Any] = {"schema": {"$ref": f"#/components/schemas/{ref}"}}
    if example is not None:
        media["example"] = example
    return {"description": description, "content": {"application/json": media}}


COMMON: dict[str, dict[str, Any]] = {
    "securitySchemes": {
        "bearerToken": {"type": "http", "scheme": "bearer", "bearerFormat": "drb_...",
                        "description": "An ingest token issued on the Tokens page (/backups/tokens/). Only its "
                                       "SHA-256 is stored. Any Authorization header that is not a valid, "
                                       "unrevoked bearer token answers 401."},
        "staffSession": {"type": "apiKey", "in": "cookie", "name": "sessionid",
                         "description": "A signed-in staff user's session (any role), for the operations that "
                                        "accept it."},
    },
    "schemas": {"Error": ERROR, "FieldError": FIELD_ERROR, "ServerError": SERVER_ERROR},
    "responses": {
        "Unauthorized": _json("Error", "No valid credentials (missing, malformed, unknown or revoked token).",
                              {"error": "A valid, unrevoked bearer token is required (Authorization: Bearer "
                                        "drb_...)."}),
        "MethodNotAllowed": {**_json("Error", "The operation does not take this method (see Allow).",
                                     {"error": "use POST"}),
                             "headers": {"Allow": {"schema": {"type": "string"}}}},
        "ServerError": _json("ServerError", "An unexpected error; the error id is in the log.",
                             {"error": "An unexpected error happened on the server. Quote error id "
                                       "3f2a9c0d1e4b5a67 when reporting it.", "error_id": "3f2a9c0d1e4b5a67"}),
    },
}


def register(paths: dict[str, dict[str, Any]], components: dict[str, dict[str, Any]] | None = None) -> None:
    """Add an app's operations (path relative to /api/v1, e.g. "/backups/") and the components they use.
    Registering the same operation or component name twice with different content is a programming error."""
    for path, operations in paths.items():
        here = _paths.setdefault(PREFIX + path, {})
        for method, operation in operations.items():
            if here.get(method, operation) != operation:
                raise ValueError(f"{method.upper()} {PREFIX}{path} is registered twice")
            here[method] = operation
    for kind, items in (components or {}).items():
        bucket = _components.setdefault(kind, {})
        for name, value in items.items():
            if bucket.get(name, value) != value or name in COMMON.get(kind, {}):
                raise ValueError(f"component {kind}/{name} is registered twice")
            bucket[name] = value


def document() -> dict[str, Any]:
    """The whole document, built fresh (callers may change their copy)."""
    components = copy.deepcopy(COMMON)
    for kind, items in _components.items():
        components.setdefault(kind, {}).update(copy.deepcopy(items))
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "drportal API",
            "version": VERSION,
            "summary": "Backup reports in, recovery-point status out.",
            "description": "The token-authenticated API of drportal (docs/backups.md). Every refusal is a 4xx "
                           "with a JSON body naming the field; nothing is recorded by a refused request. Text "
                           "may not hold NUL characters or lone surrogates; times are ISO 8601 with a UTC offset "
                           "within ±23:59, from 2000-01-01 on; integers fit PostgreSQL's bigint.",
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "servers": [{"url": "/", "description": "this drportal"}],
        "paths": copy.deepcopy(dict(sorted(_paths.items()))),
        "components": components,
    }


def examples(doc: dict[str, Any]) -> list[tuple[str, Any, dict[str, Any]]]:
    """(where, example, schema) for every example of a request or response body in the document."""
    found = []
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            bodies = [("request", operation.get("requestBody", {}))]
            bodies += [(f"response {status}", response) for status, response in operation.get("responses", {}).items()]
            for where, body in bodies:
                if "$ref" in body:
                    body = doc["components"]["responses"][body["$ref"].rsplit("/", 1)[1]]
                for media in body.get("content", {}).values():
                    samples = [media["example"]] if "example" in media else []
                    samples += [e["value"] for e in media.get("examples", {}).values()]
                    found += [(f"{method.upper()} {path} {where}", s, media["schema"]) for s in samples]
    return found
