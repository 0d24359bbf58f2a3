"""Turning reports (from agents through the API, or from pollers) into BackupRecords: validation that names
the field, viability per kind, one multi-row insert, idempotency on (asset, client id)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction

from backups import status
from backups.choices import Outcome, PolicyKind, RecordSource
from backups.models import BackupPolicy, BackupRecord, IngestToken
from drportal.audit import log as audit
from drportal.lib import inputs

# Agents' clocks drift a little; anything further ahead than this is refused as "in the future".
CLOCK_SKEW = timedelta(minutes=5)
MAX_BATCH = 5000
# The column is a PostgreSQL bigint: a larger number would fail the INSERT (a 500) instead of naming the field.
MAX_SIZE_BYTES = 2**63 - 1
SHA256 = re.compile(r"^[0-9a-f]{64}$")
# Django's Choices.values builds a new list on every access: once per report in a 5,000-report batch. A tuple,
# not a set: a JSON list or object as the outcome must be refused, not raise "unhashable".
OUTCOMES = tuple(Outcome.values)
FIELDS = {"id", "asset", "policy", "outcome", "error", "started_at", "completed_at", "size_bytes", "sha256",
          "location", "provider_state", "recovery_point"}
LOCATION_FIELDS = {"provider", "region", "zone", "container", "key"}


class IngestError(Exception):
    def __init__(self, errors: list[dict]):
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = errors


@dataclass
class Outcomes:
    created: list[int] = field(default_factory=list)
    duplicates: list[int] = field(default_factory=list)
    finished: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Pair:
    policy: BackupPolicy
    asset_id: int
    asset_name: str
    account_id: int | None  # the asset's own account, else its server's

    @property
    def policy_id(self) -> int:
        return self.policy.pk


# The (policy, asset) pairs of the named assets, under a token's policy when it has one, with the asset's own
# account, else its server's.
PAIRS_SQL = """
SELECT s.policy_id, s.asset_id, a.name, coalesce(a.account_id, sv.account_id)
FROM inventory_asset a
JOIN backups_policyassetstatus s ON s.asset_id = a.id
LEFT JOIN inventory_server sv ON sv.id = a.server_id
WHERE a.name = ANY(%s::text[]) AND (%s::bigint IS NULL OR s.policy_id = %s::bigint)
"""


class Lookups:
    """Resolves names to rows once per request: zones and regions by "provider/region[/zone]", pairs by
    (asset name, policy name)."""

    def __init__(self, items: list[dict], token: IngestToken | None):
        from drportal.inventory.models import Region, Zone

        self.token = token
        # Text PostgreSQL cannot take (NUL, lone surrogates) is never looked up: _check refuses it by name.
        names = {i.get("asset") for i in items if _storable(i.get("asset"))}
        # Plain values, not model instances: a batch of 5,000 reports would build 20,000 objects otherwise. One
        # array parameter, not the ORM's IN list: building and binding 1,000 placeholders cost 10 us of the
        # web worker's CPU per batched report (issue 17, docs/backups.md).
        with connection.cursor() as cur:
            policy = token.policy_id if token is not None else None
            cur.execute(PAIRS_SQL, [list(names), policy, policy])
            rows = cur.fetchall()
        policies = {p.pk: p for p in BackupPolicy.objects.filter(pk__in={r[0] for r in rows})} if rows else {}
        self.by_asset: dict[str, list[Pair]] = {}
        for policy_id, asset_id, name, account in rows:
            pair = Pair(policies[policy_id], asset_id, name, account)
            self.by_asset.setdefault(name, []).append(pair)
        self.assets = set(self.by_asset)
        if len(self.assets) < len(names):
            from drportal.inventory.models import Asset

            self.assets |= set(Asset.objects.filter(name__in=names - self.assets).values_list("name", flat=True))
        locations = [i["location"] for i in items if isinstance(i.get("location"), dict)]
        zones = {loc["zone"] for loc in locations if _storable(loc.get("zone"))}
        regions = {loc["region"] for loc in locations if _storable(loc.get("region"))}
        # Only the zones and regions named, fetched once per request (a batch names few).
        self.zones = {str(z): z for z in Zone.objects.select_related("region__provider").filter(
            _by_path(zones, ("region__provider__slug", "region__slug", "slug")))} if zones else {}
        self.regions = {str(r): r for r in Region.objects.select_related("provider").filter(
            _by_path(regions, ("provider__slug", "slug")))} if regions else {}


def _storable(value: object) -> bool:
    return isinstance(value, str) and inputs.text_problem(value) is None


def _by_path(paths: set[str], fields: tuple[str, ...]):
    """Q matching "provider/region[/zone]" strings; malformed ones match nothing (and are reported unknown)."""
    from django.db.models import Q

    query = Q(pk__in=[])
    for text in paths:
        parts = text.split("/")
        if len(parts) == len(fields):
            query |= Q(**dict(zip(fields, parts, strict=True)))
    return query


def _when(item: dict, name: str, now: datetime, errors: list, required: bool) -> datetime | None:
    value = item.get(name)
    if value in (None, ""):
        if required:
            errors.append({"field": name, "message": "is required"})
        return None
    try:
        parsed = inputs.when(value, name)
    except inputs.InputError as exc:
        errors.append(exc.as_dict())
        return None
    if parsed > now + CLOCK_SKEW:
        errors.append({"field": name, "message": "is in the future"})
        return None
    return parsed


def _text(item: dict, name: str, errors: list, max_length: int | None = None) -> str | None:
    """The field's text through the input boundary; None (and the error appended) when refused."""
    try:
        return inputs.text(item.get(name), name, max_length=max_length)
    except inputs.InputError as exc:
        errors.append(exc.as_dict())
        return None


def _check(item: object, now: datetime, errors: list, between=None) -> dict:
    """The checks that need no database: every bad field is appended to `errors`; returns the parsed values."""
    if not isinstance(item, dict):
        raise IngestError([{"field": "(body)", "message": "each backup must be a JSON object"}])
    if not item.keys() <= FIELDS:
        errors += [{"field": inputs.printable(k), "message": "is not a known field"}
                   for k in sorted(set(item) - FIELDS)]
    client_id = item.get("id")
    if not isinstance(client_id, str) or not 0 < len(client_id) <= 200:
        errors.append({"field": "id", "message": "is required: a string of 1-200 characters unique per asset"})
    elif inputs.text_problem(client_id):
        errors.append({"field": "id", "message": inputs.text_problem(client_id)})
    for name in ("asset", "policy"):
        if isinstance(item.get(name), str) and inputs.text_problem(item[name]):
            errors.append({"field": name, "message": inputs.text_problem(item[name])})
            between = None
    location = item.get("location")
    if isinstance(location, dict):
        for key, value in location.items():
            if key not in LOCATION_FIELDS:
                continue  # named by _location
            if value is not None and not isinstance(value, str):
                errors.append({"field": f"location.{key}", "message": "must be a string"})
            elif value and inputs.text_problem(value):
                errors.append({"field": f"location.{key}", "message": inputs.text_problem(value)})
    if between is not None:  # the pair's errors come here, in the order fields are documented
        between()
    outcome = item.get("outcome")
    if outcome not in OUTCOMES:
        errors.append({"field": "outcome", "message": f"must be one of {', '.join(Outcome.values)}"})
    started = _when(item, "started_at", now, errors, required=True)
    completed = _when(item, "completed_at", now, errors, required=outcome in (Outcome.SUCCEEDED, Outcome.FAILED))
    if started and completed and completed < started:
        errors.append({"field": "completed_at", "message": "is before started_at"})
    size = item.get("size_bytes")
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
        errors.append({"field": "size_bytes", "message": "must be a whole number of bytes, zero or more"})
    elif size is not None and size > MAX_SIZE_BYTES:
        errors.append({"field": "size_bytes", "message": f"must be at most {MAX_SIZE_BYTES} bytes"})
    # Null and "" mean absent; other falsy values (0, false, []) are the wrong type, not absent.
    sha = "" if item.get("sha256") is None else item["sha256"]
    if sha != "" and (not isinstance(sha, str) or not SHA256.match(sha.lower())):
        errors.append({"field": "sha256", "message": "must be 64 hexadecimal characters"})
    error_text = _text(item, "error", errors) or ""
    state = "" if item.get("provider_state") is None else item["provider_state"]
    if not isinstance(state, str) or len(state) > 50:
        errors.append({"field": "provider_state", "message": "must be a string of at most 50 characters"})
    else:
        state = _text(item, "provider_state", errors) or ""
    recovery = _when(item, "recovery_point", now, errors, required=False)
    return {"client_id": client_id, "outcome": outcome, "started_at": started, "completed_at": completed,
            "size_bytes": size, "sha256": sha.lower() if isinstance(sha, str) else "",
            "error": error_text[:10000], "provider_state": state,
            "recovery_point": recovery}


def _row(checked: dict, kind: str, retention: timedelta, policy_id: int, asset_id: int, location: dict,
         token_id: int | None, source: str) -> dict:
    """The record's columns (attnames) from checked values and the resolved pair; IngestError for the one
    rule that needs the policy's kind."""
    outcome, recovery = checked["outcome"], checked["recovery_point"]
    if kind == PolicyKind.POINT_IN_TIME and recovery is None and outcome == Outcome.SUCCEEDED:
        raise IngestError([{"field": "recovery_point", "message": "is required for point-in-time policies "
                                                                  "(the latest restorable time)"}])
    recovery = recovery or checked["started_at"]
    viable = status.is_viable(kind, outcome=outcome, size_bytes=checked["size_bytes"], sha256=checked["sha256"],
                              provider_state=checked["provider_state"], recovery_point=recovery,
                              from_poller=source == RecordSource.POLLER)
    return checked | {
        "policy_id": policy_id, "asset_id": asset_id, "provider": "", "region_id": None, "zone_id": None,
        "container": "", "key": "", **location,
        "recovery_point": recovery if outcome == Outcome.SUCCEEDED else None, "viable": viable,
        "expires_at": (recovery + retention) if viable else None, "source": source, "token_id": token_id,
    }


def build_row(item: object, lookups: Lookups, now: datetime, source: str = RecordSource.AGENT) -> dict:
    """One validated row (column attname -> value) from one JSON object, or IngestError listing every bad
    field. Plain dicts: a batch of 5,000 model instances costs more than the insert."""
    errors: list[dict] = []
    found: list[Pair | None] = []
    checked = _check(item, now, errors, lambda: found.append(_pair(item, lookups, errors)))
    pair = found[0] if found else None
    location = _location(item.get("location"), lookups, errors)
    if errors:
        raise IngestError(errors)
    token = lookups.token
    return _row(checked, pair.policy.kind, pair.policy.retention, pair.policy_id, pair.asset_id, location,
                token.pk if token is not None else None, source)


def build_record(item: object, lookups: Lookups, now: datetime, source: str = RecordSource.AGENT) -> BackupRecord:
    """One validated, unsaved record from one JSON object, or IngestError listing every bad field."""
    return BackupRecord(**build_row(item, lookups, now, source))


def _pair(item: dict, lookups: Lookups, errors: list) -> Pair | None:
    asset, policy = item.get("asset"), item.get("policy")
    if not isinstance(asset, str) or not asset:
        errors.append({"field": "asset", "message": "is required: the asset's name"})
        return None
    if asset not in lookups.assets:
        errors.append({"field": "asset", "message": f"unknown asset {asset!r}"})
        return None
    candidates = lookups.by_asset.get(asset, [])
    if policy is not None and not isinstance(policy, str):
        errors.append({"field": "policy", "message": "must be the policy's name"})
        return None
    if policy:
        candidates = [p for p in candidates if p.policy.name == policy]
    if not candidates:
        scope = "this token's policy" if lookups.token and lookups.token.policy_id else f"policy {policy!r}"
        errors.append({"field": "policy" if policy else "asset",
                       "message": f"asset {asset!r} is not protected by {scope}"})
        return None
    if len(candidates) > 1:
        errors.append({"field": "policy", "message": f"asset {asset!r} has several policies: name one"})
        return None
    pair = candidates[0]
    token = lookups.token
    if token is not None and token.account_id:
        if pair.account_id != token.account_id:
            errors.append({"field": "asset", "message": f"asset {asset!r} is not in this token's account"})
            return None
    return pair


def _location(value: object, lookups: Lookups, errors: list) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        errors.append({"field": "location", "message": "must be an object"})
        return {}
    for key in sorted(set(value) - LOCATION_FIELDS):
        errors.append({"field": f"location.{key}", "message": "is not a known field"})
    out: dict = {}
    for key in ("provider", "container", "key"):
        text = value.get(key) or ""
        out[key] = text if isinstance(text, str) else ""  # a wrong type is named by _check
    if value.get("zone"):
        zone = lookups.zones.get(value["zone"]) if isinstance(value["zone"], str) else None
        if zone is None:
            errors.append({"field": "location.zone", "message": "unknown zone: use provider/region/zone"})
        else:
            out.update(zone_id=zone.pk, region_id=zone.region_id, provider=out["provider"] or zone.region.provider.slug)
    elif value.get("region"):
        region = lookups.regions.get(value["region"]) if isinstance(value["region"], str) else None
        if region is None:
            errors.append({"field": "location.region", "message": "unknown region: use provider/region"})
        else:
            out.update(region_id=region.pk, provider=out["provider"] or region.provider.slug)
    return out


DIRTY_SQL = """
UPDATE backups_policyassetstatus SET dirty = true
WHERE (policy_id, asset_id) IN (SELECT unnest(%s::bigint[]), unnest(%s::bigint[])) AND NOT dirty
"""


def _cursor():
    """A Django cursor (logged like any other, so query counts see it) over a psycopg cursor that binds on the
    server and prepares every statement it runs: the statements below are few and fixed, and PostgreSQL's
    parse and plan of them cost more than running them (1.2 ms of planning against 0.1 ms of running for
    STORE_ONE_SQL's lookups).
    Django's own cursors bind on the client and turn preparation off (prepare_threshold=None), so this is
    scoped to ingestion. psycopg keeps the prepared statements per connection (CONN_MAX_AGE keeps those).
    Behind PgBouncer in transaction mode this needs PgBouncer >= 1.21 with max_prepared_statements set."""
    db = connections[DEFAULT_DB_ALIAS]  # once: each attribute of the `connection` proxy is a thread-local lookup
    db.ensure_connection()
    conn = db.connection
    if conn.prepare_threshold is None:
        # None turns preparation off even when asked for. A threshold never reached keeps every other
        # statement unprepared, as Django wants, and lets PreparedCursor ask for it.
        conn.prepare_threshold = 2**31 - 1
    raw = _PreparedCursor(conn)
    return db.make_debug_cursor(raw) if db.queries_logged else db.make_cursor(raw)


def store_group(params: list[dict]) -> list[tuple]:
    """STORE_GROUP_SQL: several single reports (store_one_params each) settled as STORE_ONE_SQL settles one, in
    one statement, so one round trip and one commit: the group commit of backups/lean.py. Returns each report's
    (token found, settled, id, viable) in order. One statement is all or nothing: an error rolls every report
    of the group back, and the caller answers each of them the general way."""
    # One JSON text, not one parameter per value: psycopg dumps each value in Python, json.dumps in C, and
    # PostgreSQL parses the text in C (issue 17, docs/backups.md "How it stays fast").
    with _cursor() as cur:
        if len(params) == 1:
            # Alone, STORE_ONE_SQL costs PostgreSQL less: 0.8 against 1.07 ms of backend CPU (bench data set,
            # load 5); from 2 reports on the group's statement costs less per report (0.26-0.32 against
            # 0.43-0.51 ms at 8 reports, and 0.10-0.12 against 0.14-0.22 ms of Python).
            cur.execute(STORE_ONE_SQL, params[0])
            return [cur.fetchone()]
        document = json.dumps([p | {"n": n} for n, p in enumerate(params)], default=_iso, check_circular=False)
        cur.execute(STORE_GROUP_SQL, [document])
        return [tuple(row[1:]) for row in cur.fetchall()]


def _iso(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not a report's value")


def _prepared_cursor_class():
    import psycopg

    class PreparedCursor(psycopg.Cursor):
        def execute(self, query, params=None, *, prepare=None, binary=None):
            return super().execute(query, params, prepare=True if prepare is None else prepare, binary=binary)

        def _send_query_prepared(self, name, pgq, *, binary=None):
            # psycopg records the query text only for unprepared runs; Django's query log reads it.
            self._query = pgq
            return super()._send_query_prepared(name, pgq, binary=binary)

    return PreparedCursor


_PreparedCursor = _prepared_cursor_class()


def save(records: list[BackupRecord]) -> Outcomes:
    """save_rows() for model instances (pollers, demo data); sets each record's pk."""
    rows = [{f.attname: getattr(r, f.attname) for f in _fields()} for r in records]
    result = save_rows(rows)
    for r, row in zip(records, rows, strict=True):
        r.pk = row["id"]
    return result


def save_rows(rows: list[dict]) -> Outcomes:
    """One statement: a multi-row INSERT ... ON CONFLICT DO NOTHING RETURNING of the whole batch, and the
    pairs marked dirty for the sweep, atomic by itself. A retry of a known (asset, id) is a duplicate, except
    that a running record is finished by a later report with the same id. Sets row["id"]."""
    keys = [(r["asset_id"], r["client_id"]) for r in rows]
    if len(set(keys)) != len(keys):
        raise IngestError([{"field": "id", "message": "the same id appears twice for one asset in this batch"}])
    return _store(rows)


def _store(rows: list[dict]) -> Outcomes:
    result = Outcomes()
    inserted = _insert(rows)
    result.created = list(inserted.values())
    missing = [r for r in rows if r["id"] is None]
    if missing:
        with transaction.atomic():
            _resolve_conflicts(missing, result)
            pairs = {(r["policy_id"], r["asset_id"]) for r in missing}
            with connection.cursor() as cur:
                cur.execute(DIRTY_SQL, [[p for p, _ in pairs], [a for _, a in pairs]])
    return result


_INSERT: tuple[str, list] | None = None


def _fields() -> list:
    return [f for f in BackupRecord._meta.concrete_fields if not f.primary_key]


def _insert_sql() -> tuple[str, list[str]]:
    global _INSERT
    if _INSERT is None:
        fields = _fields()
        cols = ", ".join(connection.ops.quote_name(f.column) for f in fields)
        arrays = ", ".join(f"%b::{f.db_type(connection)}[]" for f in fields)
        # One array per column rather than one placeholder per value: a 5,000-row batch is 28 parameters,
        # and the statement text is the same for every batch, so it is prepared once per connection. Only
        # the model's column names and types are formatted in. %b sends the arrays in binary: psycopg writes
        # 28 arrays of 1,000 values in 18 ms that way against 60 ms as text.
        sql = f"""
WITH ins AS (
  INSERT INTO {BackupRecord._meta.db_table} ({cols}) SELECT * FROM unnest({arrays})
  ON CONFLICT DO NOTHING RETURNING id, asset_id, client_id
), dirty AS ({DIRTY_SQL})
SELECT id, asset_id, client_id FROM ins"""  # noqa: S608
        _INSERT = (sql, [f.attname for f in fields])
    return _INSERT


def _insert(rows: list[dict]) -> dict[tuple[int, str], int]:
    """Django's bulk_create(ignore_conflicts=True) cannot say which rows went in; this can."""
    from django.utils import timezone

    sql, names = _insert_sql()
    now = timezone.now()
    defaults = {"observed_sha256": "", "checksum_ok": None, "verified_at": None, "verified_ok": None,
                "verified_how": "", "token_id": None}
    params = [[now] * len(rows) if name == "created_at" else [r[name] if name in r else defaults[name] for r in rows]
              for name in names]
    pairs = {(r["policy_id"], r["asset_id"]) for r in rows}
    params += [[p for p, _ in pairs], [a for _, a in pairs]]
    with _cursor() as cur:
        cur.execute(sql, params)
        inserted = {(asset_id, client_id): pk for pk, asset_id, client_id in cur.fetchall()}
    for r in rows:
        r["id"] = inserted.get((r["asset_id"], r["client_id"]))
    return inserted


def _resolve_conflicts(rows: list[dict], result: Outcomes) -> None:
    from django.db.models import Q

    query = Q()
    for r in rows:
        query |= Q(asset_id=r["asset_id"], client_id=r["client_id"])
    existing = {(e.asset_id, e.client_id): e for e in BackupRecord.objects.select_for_update().filter(query)}
    for r in rows:
        row = existing[(r["asset_id"], r["client_id"])]
        r["id"] = row.pk
        if row.outcome == Outcome.RUNNING and r["outcome"] != Outcome.RUNNING:
            for name in ("completed_at", "outcome", "error", "size_bytes", "sha256", "provider", "region_id",
                         "zone_id", "container", "key", "provider_state", "recovery_point", "viable", "expires_at"):
                setattr(row, name, r[name])
            row.save()
            result.finished.append(row.pk)
        else:
            result.duplicates.append(row.pk)


def audit_ingested(token: IngestToken, result: Outcomes) -> None:
    """The audit trail of an agent's report on the general path (batches, and single reports the one-statement
    path could not settle): one event per request naming the records it created or finished. Duplicates
    change nothing and are not recorded. The single-report statement writes its own event (STORE_ONE_SQL)."""
    if not result.created and not result.finished:
        return
    audit.record(f"token:{token.name}", "backups.records_ingested", token,
                 after={"created": sorted(result.created), "finished": sorted(result.finished),
                        "duplicates": len(result.duplicates)})


def digest_of(header: str) -> str | None:
    """The SHA-256 of the token in an "Authorization: Bearer ..." header; None when there is none."""
    from backups.models import hash_token

    scheme, _, raw = header.partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        return None
    return hash_token(raw.strip())


def authenticate(header: str) -> IngestToken | None:
    """The token behind an "Authorization: Bearer ..." header, if valid and not revoked. One indexed lookup
    of its SHA-256: the raw token is never stored."""
    digest = digest_of(header)
    return token_by_digest(digest) if digest else None


def token_by_digest(digest: str) -> IngestToken | None:
    return IngestToken.objects.filter(digest=digest, revoked_at__isnull=True).first()


# The hot path of one report, in one prepared statement and one round trip: the token (valid and unrevoked,
# checked on every request, so a revocation takes effect at once), the asset's pair under the token's scope,
# the location, the INSERT ... ON CONFLICT DO NOTHING and the pair marked dirty for the sweep. Viability
# depends on the policy's kind, which only the database knows here: Python computes it for every kind
# (status.is_viable, the one definition) and the statement picks the pair's. When anything is not settled
# (no such asset, two candidate pairs, another account, unknown location, a point-in-time report without
# its restorable time) nothing is written and the caller takes the general path for the error messages.
STORE_ONE_SQL = """
WITH t AS (
  SELECT id, name, policy_id, account_id FROM backups_ingesttoken
  WHERE digest = %(digest)s::text AND revoked_at IS NULL
), pr AS (
  SELECT s.policy_id, s.asset_id, coalesce(a.account_id, sv.account_id) AS account_id, p.kind, p.retention
  FROM t
  JOIN inventory_asset a ON a.name = %(asset)s::text
  JOIN backups_policyassetstatus s ON s.asset_id = a.id AND (t.policy_id IS NULL OR s.policy_id = t.policy_id)
  JOIN backups_backuppolicy p ON p.id = s.policy_id AND (%(policy)s::text IS NULL OR p.name = %(policy)s::text)
  LEFT JOIN inventory_server sv ON sv.id = a.server_id
  LIMIT 2
), loc AS (
  SELECT z.id AS zone_id, r.id AS region_id, pv.slug AS provider
  FROM inventory_provider pv
  JOIN inventory_region r ON r.provider_id = pv.id AND r.slug = %(region)s::text
  LEFT JOIN inventory_zone z ON z.region_id = r.id AND z.slug = %(zone)s::text
  WHERE pv.slug = %(provider)s::text AND (%(zone)s::text IS NULL OR z.id IS NOT NULL)
), ok AS (
  SELECT pr.policy_id, pr.asset_id, pr.retention, pr.kind = ANY(string_to_array(%(viable_kinds)s::text, ' '))
         AS viable, t.id AS token_id, loc.zone_id, loc.region_id, loc.provider
  FROM pr CROSS JOIN t
  LEFT JOIN loc ON true
  WHERE (SELECT count(*) FROM pr) = 1 AND (t.account_id IS NULL OR pr.account_id = t.account_id)
    AND (%(region)s::text IS NULL OR loc.region_id IS NOT NULL)
    AND NOT (pr.kind = 'point_in_time' AND %(pit_missing)s::boolean)
), ins AS (
  INSERT INTO backups_backuprecord (
    policy_id, asset_id, client_id, started_at, completed_at, outcome, error, size_bytes, sha256, provider,
    region_id, zone_id, container, key, provider_state, recovery_point, viable, expires_at, source, token_id,
    created_at, observed_sha256, checksum_ok, verified_at, verified_ok, verified_how)
  SELECT ok.policy_id, ok.asset_id, %(client_id)s::text, %(started_at)s::timestamptz, %(completed_at)s::timestamptz,
         %(outcome)s::text, %(error)s::text, %(size_bytes)s::bigint, %(sha256)s::text,
         coalesce(nullif(%(loc_provider)s::text, ''), ok.provider, ''), ok.region_id, ok.zone_id,
         %(container)s::text, %(key)s::text, %(provider_state)s::text, %(recovery_point)s::timestamptz, ok.viable,
         CASE WHEN ok.viable THEN %(recovery)s::timestamptz + ok.retention END, %(source)s::text, ok.token_id,
         %(created_at)s::timestamptz, '', NULL, NULL, NULL, ''
  FROM ok
  ON CONFLICT DO NOTHING
  RETURNING id, viable
), dirty AS (
  UPDATE backups_policyassetstatus s SET dirty = true FROM ok
  WHERE s.policy_id = ok.policy_id AND s.asset_id = ok.asset_id AND NOT s.dirty
), audited AS (
  -- The audit event of the new record, in the same statement (see audit_ingested for the general way).
  INSERT INTO audit_auditevent (at, actor_id, actor_label, action, object_type, object_id, object_repr, after, note)
  SELECT %(created_at)s::timestamptz, NULL, left('token:' || t.name, 200), 'backups.record_ingested',
         'backups.backuprecord', ins.id::text, left(%(asset)s::text || ' #' || %(client_id)s::text, 300),
         jsonb_build_object('asset', %(asset)s::text, 'id', %(client_id)s::text, 'outcome', %(outcome)s::text),
         ''
  FROM ins CROSS JOIN t
)
SELECT (SELECT count(*) FROM t), (SELECT count(*) FROM ok), (SELECT id FROM ins), (SELECT viable FROM ins)
"""
KINDS = list(PolicyKind.values)

# STORE_ONE_SQL for a group of reports (store_group), row by row the same rules: each report's token, its pair
# (exactly one under the token's scope), its location, the point-in-time rule. A report that is not settled
# writes nothing, as alone. The same (asset, id) twice in one group: the first one is inserted, the later ones
# settle nothing new (no id), so the full path answers them as the duplicates they are.
STORE_GROUP_SQL = """
WITH x AS (
  SELECT * FROM jsonb_to_recordset(%s::jsonb) AS x(
    n int, digest text, asset text, policy text, provider text, region text, zone text, viable_kinds text,
    pit_missing boolean, client_id text, started_at timestamptz, completed_at timestamptz, outcome text,
    error text, size_bytes bigint, sha256 text, loc_provider text, container text, key text,
    provider_state text, recovery timestamptz, recovery_point timestamptz, source text, created_at timestamptz)
), t AS (
  SELECT x.n, k.id, k.name, k.policy_id, k.account_id
  FROM x JOIN backups_ingesttoken k ON k.digest = x.digest AND k.revoked_at IS NULL
), pr AS (
  SELECT t.n, c.*, count(*) OVER (PARTITION BY t.n) AS found
  FROM t JOIN x ON x.n = t.n CROSS JOIN LATERAL (
    SELECT s.policy_id, s.asset_id, coalesce(a.account_id, sv.account_id) AS account_id, p.kind, p.retention
    FROM inventory_asset a
    JOIN backups_policyassetstatus s ON s.asset_id = a.id AND (t.policy_id IS NULL OR s.policy_id = t.policy_id)
    JOIN backups_backuppolicy p ON p.id = s.policy_id AND (x.policy IS NULL OR p.name = x.policy)
    LEFT JOIN inventory_server sv ON sv.id = a.server_id
    WHERE a.name = x.asset
    LIMIT 2) c
), ok AS (
  SELECT x.*, pr.policy_id, pr.asset_id, pr.retention, t.id AS token_id, t.name AS token_name,
         pr.kind = ANY(string_to_array(x.viable_kinds, ' ')) AS viable, loc.zone_id, loc.region_id,
         loc.slug AS provider_slug, row_number() OVER (PARTITION BY pr.asset_id, x.client_id ORDER BY x.n) AS nth
  FROM x JOIN t ON t.n = x.n JOIN pr ON pr.n = x.n
  LEFT JOIN LATERAL (
    SELECT z.id AS zone_id, r.id AS region_id, pv.slug
    FROM inventory_provider pv
    JOIN inventory_region r ON r.provider_id = pv.id AND r.slug = x.region
    LEFT JOIN inventory_zone z ON z.region_id = r.id AND z.slug = x.zone
    WHERE pv.slug = x.provider AND (x.zone IS NULL OR z.id IS NOT NULL)
  ) loc ON true
  WHERE pr.found = 1 AND (t.account_id IS NULL OR pr.account_id = t.account_id)
    AND (x.region IS NULL OR loc.region_id IS NOT NULL)
    AND NOT (pr.kind = 'point_in_time' AND x.pit_missing)
), ins AS (
  INSERT INTO backups_backuprecord (
    policy_id, asset_id, client_id, started_at, completed_at, outcome, error, size_bytes, sha256, provider,
    region_id, zone_id, container, key, provider_state, recovery_point, viable, expires_at, source, token_id,
    created_at, observed_sha256, checksum_ok, verified_at, verified_ok, verified_how)
  SELECT policy_id, asset_id, client_id, started_at, completed_at, outcome, error, size_bytes, sha256,
         coalesce(nullif(loc_provider, ''), provider_slug, ''), region_id, zone_id, container, key,
         provider_state, recovery_point, viable, CASE WHEN viable THEN recovery + retention END, source, token_id,
         created_at, '', NULL, NULL, NULL, ''
  FROM ok WHERE nth = 1
  ON CONFLICT DO NOTHING
  RETURNING id, viable, asset_id, client_id
), dirty AS (
  UPDATE backups_policyassetstatus s SET dirty = true FROM (SELECT DISTINCT policy_id, asset_id FROM ok) d
  WHERE s.policy_id = d.policy_id AND s.asset_id = d.asset_id AND NOT s.dirty
), done AS (
  SELECT ok.*, ins.id AS record_id, ins.viable AS record_viable
  FROM ok JOIN ins ON ins.asset_id = ok.asset_id AND ins.client_id = ok.client_id AND ok.nth = 1
), audited AS (
  -- Each new record's audit event, as STORE_ONE_SQL writes it.
  INSERT INTO audit_auditevent (at, actor_id, actor_label, action, object_type, object_id, object_repr, after, note)
  SELECT created_at, NULL, left('token:' || token_name, 200), 'backups.record_ingested', 'backups.backuprecord',
         record_id::text, left(asset || ' #' || client_id, 300),
         jsonb_build_object('asset', asset, 'id', client_id, 'outcome', outcome), ''
  FROM done ORDER BY n
)
SELECT x.n, (SELECT count(*) FROM t WHERE t.n = x.n), (SELECT count(*) FROM ok WHERE ok.n = x.n),
       done.record_id, done.record_viable
FROM x LEFT JOIN done ON done.n = x.n
ORDER BY x.n
"""


@dataclass
class One:
    """The answer to one report: `token_ok` False means 401; `errors` means 400; else the stored row."""
    token_ok: bool
    errors: list[dict] = field(default_factory=list)
    row: dict | None = None
    state: str = ""


def store_one_params(item: object, digest: str, now: datetime) -> dict | None:
    """STORE_ONE_SQL's parameters for a report that passes every check needing no database, else None (the
    general way then names what is wrong). Shared by ingest_one and the lean WSGI path (backups/lean.py)."""
    from django.utils import timezone

    errors: list[dict] = []
    checked = _check(item, now, errors) if isinstance(item, dict) else None
    if checked is None or errors:
        return None
    loc = item.get("location")
    params = {"digest": digest, "asset": item.get("asset"), "policy": item.get("policy"),
              "provider": None, "region": None, "zone": None}
    fast = isinstance(params["asset"], str) and (params["policy"] is None or isinstance(params["policy"], str))
    location = {"provider": "", "container": "", "key": ""}
    if loc is not None:
        fast = fast and isinstance(loc, dict) and loc.keys() <= LOCATION_FIELDS
        for key in ("provider", "container", "key"):
            text = loc.get(key) or "" if fast else ""
            fast = fast and isinstance(text, str)
            location[key] = text
        path = loc.get("zone") or loc.get("region") if fast else None
        if path:
            parts = path.split("/") if isinstance(path, str) else []
            fast = fast and len(parts) == (3 if loc.get("zone") else 2)
            if fast:
                params.update(zip(("provider", "region", "zone"), parts, strict=False))
    if not fast:
        return None
    outcome, recovery = checked["outcome"], checked["recovery_point"] or checked["started_at"]
    facts = {"outcome": outcome, "size_bytes": checked["size_bytes"], "sha256": checked["sha256"],
             "provider_state": checked["provider_state"], "recovery_point": recovery, "from_poller": False}
    return params | {
        # The kinds for which this report would be viable, as one text: two arrays cost psycopg more to send
        # than the rest of the parameters together.
        "viable_kinds": " ".join(kind for kind in KINDS if status.is_viable(kind, **facts)),
        "pit_missing": checked["recovery_point"] is None and outcome == Outcome.SUCCEEDED,
        "client_id": checked["client_id"], "started_at": checked["started_at"],
        "completed_at": checked["completed_at"], "outcome": outcome, "error": checked["error"],
        "size_bytes": checked["size_bytes"], "sha256": checked["sha256"],
        "loc_provider": location["provider"], "container": location["container"], "key": location["key"],
        "provider_state": checked["provider_state"], "recovery": recovery,
        "recovery_point": recovery if outcome == Outcome.SUCCEEDED else None,
        "source": RecordSource.AGENT.value, "created_at": timezone.now(),
    }


def ingest_one(item: object, digest: str, now: datetime) -> One:
    """One report from an agent: one statement (STORE_ONE_SQL) when all is well. Anything it cannot settle
    (a bad field, an unknown asset, an ambiguous policy, a retry of a known id) goes the general way, with
    the same messages and the same idempotency."""
    params = store_one_params(item, digest, now)
    if params is not None:
        with _cursor() as cur:
            cur.execute(STORE_ONE_SQL, params)
            tokens, settled, pk, viable = cur.fetchone()
        if not tokens:
            return One(token_ok=False)
        if settled and pk is not None:
            return One(token_ok=True, row={"id": pk, "viable": viable}, state="created")
    # The general way: the token first (a bad token is a 401 whatever the body), then every field named.
    token = token_by_digest(digest)
    if token is None:
        return One(token_ok=False)
    lookups = Lookups([item] if isinstance(item, dict) else [], token)
    try:
        row = build_row(item, lookups, now)
        with transaction.atomic():
            result = save_rows([row])
            audit_ingested(token, result)
    except IngestError as exc:
        return One(token_ok=True, errors=exc.errors)
    return One(token_ok=True, row=row, state="created" if result.created else (
        "finished" if result.finished else "duplicate"))
