"""The API's contract, public like the API itself: the OpenAPI document as JSON, and the same document as a
page rendered here (no JavaScript, nothing fetched from elsewhere)."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from drportal.lib import openapi


@require_GET
def openapi_json(request: HttpRequest) -> JsonResponse:
    return JsonResponse(openapi.document(), json_dumps_params={"indent": 2})


def _resolve(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in node:
        kind, name = node["$ref"].split("/")[-2:]
        return doc["components"][kind][name]
    return node


def _operations(doc: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            responses = []
            for status, response in op["responses"].items():
                response = _resolve(doc, response)
                media = response.get("content", {}).get("application/json", {})
                example = media.get("example", next(iter(media.get("examples", {}).values()), {}).get("value"))
                responses.append({"status": status, "description": response.get("description", ""),
                                  "schema": json.dumps(media.get("schema"), indent=2) if media else "",
                                  "example": json.dumps(example, indent=2) if example is not None else ""})
            rows.append({
                "method": method.upper(), "path": path, "id": op.get("operationId", ""),
                "summary": op.get("summary", ""), "description": op.get("description", ""),
                "security": " or ".join(name for alt in op.get("security", []) for name in alt) or "none",
                "request_examples": [(name, json.dumps(e["value"], indent=2))
                                     for name, e in body.get("examples", {}).items()],
                "responses": responses,
            })
    return rows


@require_GET
def docs(request: HttpRequest) -> HttpResponse:
    doc = openapi.document()
    schemas = [(name, json.dumps(schema, indent=2)) for name, schema in doc["components"]["schemas"].items()]
    security = doc["components"]["securitySchemes"].items()
    return render(request, "api/docs.html", {"info": doc["info"], "operations": _operations(doc),
                                             "schemas": schemas, "security": security})
