"""The token API: POST /api/v1/backups/ for agents and backup scripts, GET /api/v1/rpo/ for monitors.
Both are public URL names (drportal.accounts.access.PUBLIC_ENDPOINTS): they check their own credentials."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt

from backups import ingest as ingestion
from drportal.accounts.access import ALL_STAFF, has_role
from drportal.lib import clock, inputs

# A single report is a few hundred bytes; a batch of MAX_BATCH reports fits well under this.
MAX_BODY_BYTES = 2 * 1024 * 1024
# A batch, a report, its location: three levels. A little room for a client's habits, none for a bomb.
MAX_DEPTH = 5


def _error(status: int, message: str, errors: list[dict] | None = None) -> JsonResponse:
    body: dict = {"error": message}
    if errors:
        body["errors"] = errors
    return JsonResponse(body, status=status)


def _not_allowed(method: str) -> JsonResponse:
    response = _error(405, f"use {method}")
    response["Allow"] = method
    return response


UNAUTHORIZED = "A valid, unrevoked bearer token is required (Authorization: Bearer drb_...)."


@csrf_exempt
def ingest(request: HttpRequest) -> JsonResponse:
    """One report (an object) or a batch (a list). A single report that is well-formed costs two queries
    (see ingest.ingest_one); every refusal checks the token first, so a bad token is a 401 whatever the body."""
    if request.method != "POST":
        return _not_allowed("POST")
    digest = ingestion.digest_of(request.headers.get("Authorization", ""))
    if digest is None:
        return _error(401, UNAUTHORIZED)

    def refuse(status: int, message: str, errors: list[dict] | None = None) -> JsonResponse:
        if ingestion.token_by_digest(digest) is None:
            return _error(401, UNAUTHORIZED)
        return _error(status, message, errors)

    length = request.headers.get("Content-Length", "")
    if not length.isdigit():
        return refuse(411, "a Content-Length header is required")
    if int(length) > MAX_BODY_BYTES:
        return refuse(413, f"the body is larger than {MAX_BODY_BYTES} bytes: send smaller batches")
    try:
        payload = inputs.load_json(request.body, max_bytes=MAX_BODY_BYTES, max_depth=MAX_DEPTH)
    except inputs.InputError as exc:
        return refuse(400, "the body is not a JSON report or batch; nothing was recorded", [exc.as_dict()])
    now = clock.now()
    if not isinstance(payload, list):
        one = ingestion.ingest_one(payload, digest, now)
        if not one.token_ok:
            return _error(401, UNAUTHORIZED)
        if one.errors:
            return _error(400, "invalid backup report; nothing was recorded", one.errors)
        return JsonResponse({"id": one.row["id"], "status": one.state, "viable": one.row["viable"]},
                            status=201 if one.state == "created" else 200)
    token = ingestion.token_by_digest(digest)
    if token is None:
        return _error(401, UNAUTHORIZED)
    items = payload
    if not items or len(items) > ingestion.MAX_BATCH:
        return _error(400, f"send one object or a list of 1-{ingestion.MAX_BATCH} objects",
                      [{"field": "(body)", "message": "empty or too many items"}])
    lookups = ingestion.Lookups([i for i in items if isinstance(i, dict)], token)
    rows, errors = [], []
    for index, item in enumerate(items):
        try:
            rows.append(ingestion.build_row(item, lookups, now))
        except ingestion.IngestError as exc:
            errors += [e | {"index": index} for e in exc.errors]
    if errors:
        return _error(400, "invalid backup report; nothing was recorded", errors)
    try:
        with transaction.atomic():
            result = ingestion.save_rows(rows)
            ingestion.audit_ingested(token, result)
    except ingestion.IngestError as exc:
        return _error(400, "invalid backup report; nothing was recorded", exc.errors)
    return JsonResponse({"created": len(result.created), "duplicates": len(result.duplicates),
                         "finished": len(result.finished)}, status=201 if result.created else 200)


# One statement, with PostgreSQL writing each row's JSON: 500,000 rows as Python dicts and json.dumps would cost
# more than the query. Per asset first (on the status rows), then the names. Its three parts come out in order
# (part 0: the count; 1: the databases; 2: per customer its worst database) from a cursor WITH HOLD, which
# PostgreSQL materialises when it is declared: the view streams the answer a batch of rows at a time, so its
# memory stays flat whatever the number of databases, and a failing query is still a 500 before any byte.
RPO_SQL = """
WITH per AS (
  SELECT s.asset_id, max(s.recovery_point) AS rp, min(extract(epoch FROM p.rpo_objective))::float8 AS objective,
         bool_or(s.rpo_status <> 'ok') AS troubled
  FROM backups_policyassetstatus s JOIN backups_backuppolicy p ON p.id = s.policy_id AND p.active
  WHERE s.customer_id IS NOT NULL {scope}
  GROUP BY s.asset_id
), rows AS MATERIALIZED (
  SELECT a.id AS asset_id, a.name AS asset, c.name AS customer, per.rp, per.objective,
         round(extract(epoch FROM (%(now)s - per.rp))::numeric, 1)::float8 AS seconds,
         CASE WHEN per.rp IS NULL OR extract(epoch FROM (%(now)s - per.rp)) > per.objective THEN 'breached'
              WHEN per.troubled THEN 'at_risk' ELSE 'ok' END AS status
  FROM per
  JOIN inventory_asset a ON a.id = per.asset_id AND a.kind IN ('database', 'managed_database')
  JOIN inventory_customer c ON c.id = a.customer_id
  LEFT JOIN inventory_server sv ON sv.id = a.server_id
  WHERE true {account_scope}
)
SELECT 0 AS part, '' AS customer, '' AS asset, (SELECT count(*) FROM rows)::text
UNION ALL
SELECT 1, customer, asset,
       json_build_object('asset', asset, 'asset_id', asset_id, 'customer', customer, 'last_recovery_point', rp,
                         'rpo_seconds', seconds, 'objective_seconds', objective, 'status', status)::text
FROM rows
UNION ALL
SELECT 2, customer, '', json_build_object('customer', customer, 'databases', databases, 'status', status,
                                          'rpo_seconds', rpo_seconds)::text
FROM (SELECT customer, count(*) AS databases,
             CASE max(CASE status WHEN 'breached' THEN 2 WHEN 'at_risk' THEN 1 ELSE 0 END)
                  WHEN 2 THEN 'breached' WHEN 1 THEN 'at_risk' ELSE 'ok' END AS status,
             CASE WHEN bool_or(seconds IS NULL) THEN NULL ELSE max(seconds) END AS rpo_seconds
      FROM rows GROUP BY customer) per_customer
ORDER BY 1, 2, 3
"""
# Rows per FETCH: a few hundred KB of JSON per chunk written to the client.
RPO_BATCH = 5000


def rpo(request: HttpRequest) -> HttpResponse:
    """Every customer database: its newest recovery point across its policies, against the tightest objective,
    and per customer its worst database. A bearer token sees the databases in its scope (its policy or its
    account); a staff session sees all."""
    if request.method != "GET":
        return _not_allowed("GET")
    scope, account_scope, params = "", "", {}
    # Any Authorization header, even an empty one, means token authentication: TokenApiMiddleware has then
    # skipped the session middleware, so there is no request.user to fall back on.
    if "HTTP_AUTHORIZATION" in request.META:
        token = ingestion.authenticate(request.META["HTTP_AUTHORIZATION"])
        if token is None:
            return _error(401, UNAUTHORIZED)
        if token.policy_id:
            scope = "AND s.asset_id IN (SELECT asset_id FROM backups_policyassetstatus WHERE policy_id = %(policy)s)"
            params["policy"] = token.policy_id
        else:
            account_scope = "AND coalesce(a.account_id, sv.account_id) = %(account)s"
            params["account"] = token.account_id
    elif not (request.user.is_authenticated and has_role(request.user, *ALL_STAFF)):
        return _error(401, "A bearer token or a staff session is required.")
    now = clock.now()
    params["now"] = now
    name = f"rpo_{uuid.uuid4().hex}"
    with connection.cursor() as cur:
        # Only the two fixed scope clauses above and a generated cursor name are formatted in.
        cur.execute(f"DECLARE {name} NO SCROLL CURSOR WITH HOLD FOR " + RPO_SQL.format(
            scope=scope, account_scope=account_scope), params)
        cur.execute(f"FETCH 1 FROM {name}")
        count = cur.fetchone()[3]
    head = f'{{"generated_at": "{now.isoformat()}", "count": {count}, "databases": ['
    return StreamingHttpResponse(RpoBody(name, head), content_type="application/json")


class RpoBody:
    """The answer, streamed: its head, the databases, then the customers, RPO_BATCH rows a fetch. The server
    calls close() when the answer is sent or the client went away, even if it never started: the cursor,
    held past the transaction, would otherwise keep its rows on the database server until the connection
    ends."""

    def __init__(self, name: str, head: str) -> None:
        self.name, self.head, self.closed = name, head, False

    def __iter__(self) -> Iterator[str]:
        yield self.head
        part, first = 1, True
        with connection.cursor() as cur:
            while rows := self._fetch(cur):
                chunk = []
                for row_part, _, _, text in rows:
                    if row_part != part:
                        chunk.append('], "customers": [')
                        part, first = row_part, True
                    chunk.append(text if first else "," + text)
                    first = False
                yield "".join(chunk)
        self.close()
        # No database in scope: no customer row switched the part.
        yield '], "customers": []}' if part == 1 else "]}"

    def _fetch(self, cur) -> list[tuple]:
        cur.execute(f"FETCH {RPO_BATCH} FROM {self.name}")
        return cur.fetchall()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            with connection.cursor() as cur:
                cur.execute(f"CLOSE {self.name}")
