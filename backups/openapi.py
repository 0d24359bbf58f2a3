"""The backups app's part of the OpenAPI document (drportal/lib/openapi.py): POST /api/v1/backups/ and
GET /api/v1/rpo/. Limits come from the code that enforces them, so the document cannot drift from it."""

from __future__ import annotations

from typing import Any

from backups.api import MAX_BODY_BYTES, MAX_DEPTH
from backups.choices import Outcome
from backups.ingest import MAX_BATCH, MAX_SIZE_BYTES
from drportal.lib import openapi

TIME = {"type": "string", "format": "date-time",
        "description": "ISO 8601 with a UTC offset (Z or ±hh:mm, within ±23:59), not before 2000-01-01 and "
                       "at most 5 minutes ahead of the server's clock"}
# Agents send "" or null for a time they do not have: both mean absent.
MAYBE_TIME = {"anyOf": [TIME, {"const": ""}, {"type": "null"}]}
TEXT = "Text without NUL characters or lone surrogates."

REPORT: dict[str, Any] = {
    "type": "object",
    "description": "One backup as the agent saw it. A retry with the same `id` for the same asset is a duplicate "
                   "(nothing changes), except that a `running` report is finished by a later one. `completed_at` "
                   "is required when the outcome is succeeded or failed; point-in-time policies need "
                   "`recovery_point` (the latest restorable time) on success. " + TEXT,
    "properties": {
        "id": {"type": "string", "minLength": 1, "maxLength": 200,
               "description": "The agent's own id of this backup, unique per asset."},
        "asset": {"type": "string", "minLength": 1, "description": "The protected asset's name."},
        "policy": {"type": ["string", "null"],
                   "description": "The policy's name; needed only when the asset has several policies in the "
                                  "token's scope."},
        "outcome": {"enum": list(Outcome.values)},
        "error": {"type": ["string", "null"], "description": "What went wrong (kept up to 10,000 characters)."},
        "started_at": TIME,
        "completed_at": MAYBE_TIME,
        "size_bytes": {"type": ["integer", "null"], "minimum": 0, "maximum": MAX_SIZE_BYTES},
        "sha256": {"type": ["string", "null"], "pattern": "^([0-9a-fA-F]{64})?$"},
        "location": {
            "type": ["object", "null"],
            "additionalProperties": False,
            "properties": {
                "provider": {"type": ["string", "null"]},
                "region": {"type": ["string", "null"], "description": "provider/region, e.g. rackspace/mci"},
                "zone": {"type": ["string", "null"], "description": "provider/region/zone, e.g. rackspace/dfw/dfw1"},
                "container": {"type": ["string", "null"]},
                "key": {"type": ["string", "null"]},
            },
        },
        "provider_state": {"type": ["string", "null"], "maxLength": 50,
                           "description": "The provider's state of a snapshot or image (`available`)."},
        "recovery_point": MAYBE_TIME,
    },
    "required": ["id", "asset", "outcome", "started_at"],
    "additionalProperties": False,
}

EXAMPLE_REPORT = {
    "id": "acme-db-2026-11-21", "asset": "acme-db", "outcome": "succeeded",
    "started_at": "2026-11-21T10:00:00Z", "completed_at": "2026-11-21T10:20:00Z", "size_bytes": 123456,
    "sha256": "ab" * 32,
    "location": {"zone": "rackspace/dfw/dfw1", "container": "dumps", "key": "acme-db/2026-11-21.dump"},
}

SCHEMAS: dict[str, Any] = {
    "BackupReport": REPORT,
    "BackupBatch": {"type": "array", "items": {"$ref": "#/components/schemas/BackupReport"},
                    "minItems": 1, "maxItems": MAX_BATCH},
    "IngestedOne": {
        "type": "object",
        "properties": {"id": {"type": "integer"}, "status": {"enum": ["created", "finished", "duplicate"]},
                       "viable": {"type": "boolean", "description": "whether it counts as a recovery point"}},
        "required": ["id", "status", "viable"],
        "additionalProperties": False,
    },
    "IngestedBatch": {
        "type": "object",
        "properties": {name: {"type": "integer", "minimum": 0} for name in ("created", "duplicates", "finished")},
        "required": ["created", "duplicates", "finished"],
        "additionalProperties": False,
    },
    "RpoReport": {
        "type": "object",
        "properties": {
            "generated_at": {"type": "string", "format": "date-time"},
            "count": {"type": "integer", "minimum": 0},
            "databases": {"type": "array", "items": {"$ref": "#/components/schemas/RpoDatabase"}},
            "customers": {"type": "array", "items": {"$ref": "#/components/schemas/RpoCustomer"}},
        },
        "required": ["generated_at", "count", "databases", "customers"],
        "additionalProperties": False,
    },
    "RpoDatabase": {
        "type": "object",
        "properties": {
            "asset": {"type": "string"}, "asset_id": {"type": "integer"}, "customer": {"type": "string"},
            "last_recovery_point": {"type": ["string", "null"], "format": "date-time"},
            "rpo_seconds": {"type": ["number", "null"], "description": "age of the last recovery point"},
            "objective_seconds": {"type": ["number", "null"], "description": "the tightest policy's RPO"},
            "status": {"$ref": "#/components/schemas/RpoStatus"},
        },
        "required": ["asset", "asset_id", "customer", "last_recovery_point", "rpo_seconds", "objective_seconds",
                     "status"],
        "additionalProperties": False,
    },
    "RpoCustomer": {
        "type": "object",
        "properties": {
            "customer": {"type": "string"}, "databases": {"type": "integer", "minimum": 0},
            "status": {"$ref": "#/components/schemas/RpoStatus"},
            "rpo_seconds": {"type": ["number", "null"], "description": "the worst database's; null when one has "
                                                                       "no recovery point"},
        },
        "required": ["customer", "databases", "status", "rpo_seconds"],
        "additionalProperties": False,
    },
    "RpoStatus": {"enum": ["ok", "at_risk", "breached"]},
}

ERROR = "#/components/responses/"

INGEST = {
    "operationId": "reportBackups",
    "summary": "Report one backup, or a batch of them",
    "description": f"One report (an object) or a batch (a list of 1 to {MAX_BATCH:,}); a batch is recorded whole "
                   f"or not at all. The body is at most {MAX_BODY_BYTES:,} bytes and nests at most {MAX_DEPTH} "
                   "levels. A bad token is a 401 whatever the body.",
    "tags": ["backups"],
    "security": [{"bearerToken": []}],
    "requestBody": {
        "required": True,
        "content": {"application/json": {
            "schema": {"oneOf": [{"$ref": "#/components/schemas/BackupReport"},
                                 {"$ref": "#/components/schemas/BackupBatch"}]},
            "examples": {
                "one": {"summary": "One finished dump", "value": EXAMPLE_REPORT},
                "batch": {"summary": "A batch", "value": [EXAMPLE_REPORT, EXAMPLE_REPORT | {
                    "id": "zeta-db-2026-11-21", "asset": "zeta-db", "outcome": "running", "completed_at": None,
                    "size_bytes": None, "sha256": None}]},
            },
        }},
    },
    "responses": {
        "201": {"description": "Recorded (for a batch: at least one new record).",
                "content": {"application/json": {
                    "schema": {"oneOf": [{"$ref": "#/components/schemas/IngestedOne"},
                                         {"$ref": "#/components/schemas/IngestedBatch"}]},
                    "examples": {"one": {"value": {"id": 812, "status": "created", "viable": True}},
                                 "batch": {"value": {"created": 2, "duplicates": 0, "finished": 0}}}}},
                "links": {"ReadTheRecoveryPoint": {
                    "operationId": "rpoStatus",
                    "description": "The new recovery point shows in the RPO report of the token's scope."}}},
        "200": {"description": "Nothing new: a retry (duplicate) or a running backup now finished.",
                "content": {"application/json": {
                    "schema": {"oneOf": [{"$ref": "#/components/schemas/IngestedOne"},
                                         {"$ref": "#/components/schemas/IngestedBatch"}]},
                    "example": {"id": 812, "status": "duplicate", "viable": True}}}},
        "400": {
            "description": "A field was refused (named in `errors`); nothing was recorded.",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}, "example": {
                "error": "invalid backup report; nothing was recorded",
                "errors": [{"field": "started_at", "message": "is not a real date and time (day is out of "
                                                              "range for month)"}]}}}},
        "401": {"$ref": ERROR + "Unauthorized"},
        "405": {"$ref": ERROR + "MethodNotAllowed"},
        "411": {"description": "No Content-Length header.", "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/Error"},
            "example": {"error": "a Content-Length header is required"}}}},
        "413": {"description": f"The body is larger than {MAX_BODY_BYTES:,} bytes.", "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/Error"},
            "example": {"error": f"the body is larger than {MAX_BODY_BYTES} bytes: send smaller batches"}}}},
        "500": {"$ref": ERROR + "ServerError"},
    },
}

RPO = {
    "operationId": "rpoStatus",
    "summary": "Recovery point of every customer database, against its objective",
    "description": "Every customer database: its newest recovery point across its active policies, against the "
                   "tightest objective, and per customer its worst database. A token sees the databases of its "
                   "policy or account; a staff session sees all. Any Authorization header, even an empty one, "
                   "means token authentication.",
    "tags": ["backups"],
    "security": [{"bearerToken": []}, {"staffSession": []}],
    "responses": {
        "200": {"description": "The report.", "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/RpoReport"},
            "example": {"generated_at": "2026-11-21T15:00:00+00:00", "count": 1, "databases": [{
                "asset": "acme-db", "asset_id": 3, "customer": "Acme Dental",
                "last_recovery_point": "2026-11-21T10:00:00+00:00", "rpo_seconds": 18000.0,
                "objective_seconds": 93600.0, "status": "ok"}],
                "customers": [{"customer": "Acme Dental", "databases": 1, "status": "ok", "rpo_seconds": 18000.0}]},
        }}, "links": {"ReportABackupOfAListedDatabase": {
            "operationId": "reportBackups",
            "description": "An agent reports a backup of a database the report lists (here one that finished when "
                           "the report was made); the next report shows it as the database's recovery point.",
            "requestBody": {"id": "link-{$response.body#/generated_at}", "asset": "$response.body#/databases/0/asset",
                            "outcome": "succeeded", "started_at": "$response.body#/generated_at",
                            "completed_at": "$response.body#/generated_at"},
            # schemathesis' extension: send this body as it is rather than merged into a generated one, whose
            # other generated fields (a zone that does not exist, say) would be refused and end the chain.
            "x-schemathesis": {"merge_body": False}}}},
        "401": {"$ref": ERROR + "Unauthorized"},
        "405": {"$ref": ERROR + "MethodNotAllowed"},
        "500": {"$ref": ERROR + "ServerError"},
    },
}


def register() -> None:
    openapi.register({"/backups/": {"post": INGEST}, "/rpo/": {"get": RPO}}, {"schemas": SCHEMAS})
