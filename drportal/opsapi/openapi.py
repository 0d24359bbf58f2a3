"""This app's part of the OpenAPI document (drportal/lib/openapi.py): the Alertmanager receiver and the incident
and run API, registered from OpsApiConfig.ready(). The Alertmanager receiver's request body is Alertmanager's own
webhook format."""

from __future__ import annotations

from typing import Any

from drportal.incidents.choices import DisasterClass
from drportal.opsapi.choices import INCIDENT_FILTERS
from scenarios.choices import RunState

BEARER = [{"apiToken": []}]
ERROR = {"$ref": "#/components/schemas/Error"}


def _responses(ok: dict[str, Any], *codes: int) -> dict[str, Any]:
    out = dict(ok)
    words = {400: "Invalid input; nothing changed", 401: "No valid API token", 403: "The token's role may not",
             404: "Not found", 405: "Wrong method", 409: "The state does not allow it (already done, run over)",
             413: "Body too large"}
    shared = {401: "Unauthorized", 405: "MethodNotAllowed"}
    # Every operation answers these: input the boundary refuses, no token, the wrong method, an unexpected error.
    for code in sorted({*codes, 400, 401, 405}):
        out[str(code)] = ({"$ref": f"#/components/responses/{shared[code]}"} if code in shared else
                          {"description": words[code], "content": {"application/json": {"schema": ERROR}}})
    out["500"] = {"$ref": "#/components/responses/ServerError"}
    return out


def _json(schema: dict[str, Any], description: str = "OK", links: dict[str, Any] | None = None) -> dict[str, Any]:
    out = {"description": description, "content": {"application/json": {"schema": schema}}}
    return out | {"links": links} if links else out


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


TIME = {"type": ["string", "null"], "format": "date-time"}
# A run's steps are what the step operation acts on: its first step, and the run read again afterwards.
RUN_LINKS = {
    "ActOnItsFirstStep": {"operationId": "stepAction", "parameters": {"pk": "$response.body#/steps/0/id"},
                          "description": "Complete, decide, approve or refuse one of the run's steps."},
    "ReadTheRun": {"operationId": "getRun", "parameters": {"pk": "$response.body#/id"}},
}
ID_PARAM = {"name": "pk", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}

SCHEMAS: dict[str, Any] = {
    "Incident": {"type": "object", "required": ["id", "title", "status", "severity", "disaster_class"], "properties": {
        "id": {"type": "integer"}, "title": {"type": "string"},
        "status": {"enum": ["declared", "responding", "recovered", "closed"]},
        "severity": {"enum": ["sev1", "sev2", "sev3", "sev4"]}, "disaster_class": {"type": "string"},
        "is_drill": {"type": "boolean"}, "declared_at": TIME, "declared_by": {"type": "string"},
        "responding_at": TIME, "recovered_at": TIME, "closed_at": TIME, "summary": {"type": "string"},
        "public_summary": {"type": "string"},
        "impacted": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
        "scope_counts": {"type": "object", "additionalProperties": {"type": "integer"}},
        "run": {"type": ["integer", "null"]}}},
    "Declare": {"type": "object", "required": ["title", "disaster_class"], "properties": {
        "title": {"type": "string", "maxLength": 200}, "severity": {"enum": ["sev1", "sev2", "sev3", "sev4"]},
        "disaster_class": {"enum": list(DisasterClass.values)}, "summary": {"type": "string"},
        "public_summary": {"type": "string"},
        "is_drill": {"type": "boolean"},
        "impacted": {"type": "object", "properties": {
            "regions": {"type": "array", "items": {"type": "string", "examples": ["rackspace/dfw"]}},
            "zones": {"type": "array", "items": {"type": "string", "examples": ["rackspace/dfw/dfw1"]}},
            "servers": {"type": "array", "items": {"type": "string"}},
            "offices": {"type": "array", "items": {"type": "string"}},
            "services": {"type": "array", "items": {"type": "string"}}}, "additionalProperties": False}}},
    "Step": {"type": "object", "properties": {
        "id": {"type": "integer"}, "step_id": {"type": "string"}, "item": {"type": "string"},
        "kind": {"enum": ["manual", "decision", "wait", "approval", "automated", "notify"]},
        "title": {"type": "string"}, "state": {"type": "string"}, "attempts": {"type": "integer"},
        "actor": {"type": ["string", "null"]}, "ready_at": TIME, "started_at": TIME, "finished_at": TIME,
        "error": {"type": "string"}, "skip_reason": {"type": "string"}, "notes": {"type": "string"},
        "evidence": {"type": "string"}, "outputs": {"type": "object"}}},
    "Run": {"type": "object", "properties": {
        "id": {"type": "integer"}, "incident": {"type": "integer"}, "scenario": {"type": "string"},
        "title": {"type": "string"}, "state": {"type": "string"}, "drill": {"type": "boolean"},
        "started_at": TIME, "finished_at": TIME, "note": {"type": "string"},
        "steps": {"type": "array", "items": _ref("Step")}}},
    "AlertmanagerWebhook": {"type": "object", "required": ["alerts"], "properties": {
        "version": {"type": "string"}, "groupKey": {"type": "string"}, "status": {"enum": ["firing", "resolved"]},
        "receiver": {"type": "string"}, "externalURL": {"type": "string"},
        "alerts": {"type": "array", "maxItems": 1000, "items": {"type": "object", "required": ["labels"],
                   "properties": {"status": {"enum": ["firing", "resolved"]},
                                  "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                                  "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
                                  "startsAt": {"type": "string"}, "endsAt": {"type": "string"},
                                  "generatorURL": {"type": "string"}, "fingerprint": {"type": "string"}}}}}},
    "AlertOutcome": {"type": "object", "properties": {
        "received": {"type": "integer"}, "unmatched": {"type": "integer"},
        "resolved_without_proposal": {"type": "integer"},
        "proposals": {"type": "array", "items": {"type": "object", "properties": {
            "id": {"type": "integer"}, "state": {"enum": ["proposed", "declared", "dismissed", "ended"]},
            "incident": {"type": ["integer", "null"]}, "title": {"type": "string"},
            "resolved": {"type": "boolean"}}}}}},
}

PATHS: dict[str, Any] = {
    "/api/v1/alerts/alertmanager": {"post": {
        "operationId": "alertmanagerWebhook", "summary": "Alertmanager webhook: propose or declare incidents",
        "description": "Token must hold the ops role. Alerts fold by rule and scope; resolved alerts are recorded.",
        "security": BEARER, "requestBody": {"required": True, "content": {"application/json": {
            "schema": _ref("AlertmanagerWebhook")}}},
        "responses": _responses({"200": _json(_ref("AlertOutcome"))}, 400, 401, 403, 405, 413)}},
    "/api/v1/incidents/": {
        "get": {"operationId": "listIncidents", "summary": "Incidents, newest first (100)", "security": BEARER,
                "parameters": [{"name": "status", "in": "query", "schema": {
                    "enum": list(INCIDENT_FILTERS)}}],
                "responses": _responses({"200": _json({"type": "object", "properties": {
                    "incidents": {"type": "array", "items": _ref("Incident")}}})}, 401, 403)},
        "post": {"operationId": "declareIncident", "summary": "Declare an incident (ops)", "security": BEARER,
                 "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("Declare")}}},
                 "responses": _responses({"201": _json(_ref("Incident"), "Declared")}, 400, 401, 403)}},
    "/api/v1/incidents/{pk}/": {"get": {
        "operationId": "getIncident", "summary": "An incident with its scope and run", "security": BEARER,
        "parameters": [ID_PARAM], "responses": _responses({"200": _json(_ref("Incident"))}, 401, 403, 404)}},
    "/api/v1/incidents/{pk}/run/": {"post": {
        "operationId": "startRun", "summary": "Start a scenario for the incident (ops)", "security": BEARER,
        "parameters": [ID_PARAM], "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["scenario"], "properties": {"scenario": {"type": "string"}}}}}},
        "responses": _responses({"201": _json(_ref("Run"), "Started", RUN_LINKS),
                                 "200": _json(_ref("Run"), "Already started", RUN_LINKS)}, 400, 401, 403, 404, 409)}},
    "/api/v1/runs/": {"get": {
        "operationId": "listRuns", "summary": "Runs, newest first (100)", "security": BEARER,
        "parameters": [{"name": "state", "in": "query", "schema": {"enum": list(RunState.values)}}],
        "responses": _responses({"200": _json({"type": "object", "properties": {
            "runs": {"type": "array", "items": _ref("Run")}}})}, 401, 403)}},
    "/api/v1/runs/{pk}/": {"get": {
        "operationId": "getRun", "summary": "A run with its steps and their states", "security": BEARER,
        "parameters": [ID_PARAM], "responses": _responses({"200": _json(_ref("Run"), "OK", RUN_LINKS)}, 401, 403,
                                                          404)}},
    "/api/v1/steps/{pk}/{op}/": {"post": {
        "operationId": "stepAction",
        "summary": "Complete or decide (ops), approve or refuse (the step's approver role)",
        "security": BEARER, "parameters": [ID_PARAM, {"name": "op", "in": "path", "required": True, "schema": {
            "enum": ["complete", "decide", "approve", "refuse"]}}],
        "requestBody": {"content": {"application/json": {"schema": {"type": "object", "properties": {
            "notes": {"type": "string"}, "evidence": {"type": "string"}, "choice": {"type": "string"}}}}}},
        "responses": _responses({"200": _json(_ref("Step"))}, 400, 401, 403, 404, 409)}},
}


SECURITY_SCHEMES = {"apiToken": {
    "type": "http", "scheme": "bearer", "bearerFormat": "dra_...",
    "description": "An API token, bound to a user (acting with their roles at each call) or to a role; issued on "
                   "/alerts/tokens/ (admins) or with `manage.py api_token`. Only its SHA-256 is stored."}}


def fragment() -> dict[str, Any]:
    return {"paths": PATHS, "components": {"schemas": SCHEMAS, "securitySchemes": SECURITY_SCHEMES}}


def register() -> None:
    from drportal.lib import openapi

    openapi.register({path.removeprefix(openapi.PREFIX): ops for path, ops in PATHS.items()},
                     {"schemas": SCHEMAS, "securitySchemes": SECURITY_SCHEMES})
