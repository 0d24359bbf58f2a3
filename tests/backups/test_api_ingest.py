"""POST /api/v1/backups/: bearer tokens, idempotency, errors naming the field, the batch form."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from backups.models import BackupRecord, IngestToken, PolicyAssetStatus
from drportal.audit.models import AuditEvent
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
    return client.post(URL, data=data, content_type="application/json", **headers)


def report(**over) -> dict:
    base = {"id": "acme-db-2026-11-21", "asset": "acme-db", "outcome": "succeeded",
            "started_at": "2026-11-21T10:00:00Z", "completed_at": "2026-11-21T10:20:00Z", "size_bytes": 123456,
            "sha256": "ab" * 32, "location": {"zone": "rackspace/dfw/dfw1", "container": "dumps",
                                               "key": "acme-db/2026-11-21.dump"}}
    return base | over


def test_it_records_a_backup(client, world, token):
    PolicyAssetStatus.objects.update(dirty=False)
    response = post(client, report(), token)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "created"
    assert body["viable"] is True
    rec = BackupRecord.objects.get(pk=body["id"])
    assert (rec.asset, rec.policy, rec.zone, rec.region, rec.provider) == (
        world.acme_db, world.daily, world.dfw1, world.dfw, "rackspace")
    assert rec.recovery_point == at("2026-11-21 10:00")
    assert rec.expires_at == at("2026-11-21 10:00") + timedelta(days=14)
    assert PolicyAssetStatus.objects.get(policy=world.daily, asset=world.acme_db).dirty


def test_a_retry_with_the_same_id_never_makes_a_second_record(client, world, token):
    first = post(client, report(), token).json()
    again = post(client, report(), token)
    assert again.status_code == 200
    assert again.json() == {"id": first["id"], "status": "duplicate", "viable": True}
    assert BackupRecord.objects.count() == 1


def test_a_running_report_is_finished_by_a_later_one_with_the_same_id(client, world, token):
    post(client, report(outcome="running", completed_at=None, size_bytes=None, sha256=None), token)
    response = post(client, report(), token)
    assert response.json()["status"] == "finished"
    rec = BackupRecord.objects.get()
    assert (rec.outcome, rec.viable, rec.size_bytes) == ("succeeded", True, 123456)


@pytest.mark.parametrize(("change", "field"), [
    ({"asset": "nope-db"}, "asset"),
    ({"size_bytes": -1}, "size_bytes"),
    ({"started_at": "2026-11-22T10:00:00Z"}, "started_at"),
    ({"completed_at": "2026-11-21T09:00:00Z"}, "completed_at"),
    ({"started_at": "yesterday"}, "started_at"),
    ({"sha256": "xyz"}, "sha256"),
    ({"outcome": "maybe"}, "outcome"),
    ({"id": ""}, "id"),
    ({"colour": "blue"}, "colour"),
    ({"location": {"zone": "rackspace/nowhere/x"}}, "location.zone"),
    ({"policy": "Weekly system images"}, "policy"),
])
def test_bad_input_is_refused_naming_the_field(client, world, token, change, field):
    response = post(client, report(**change), token)
    assert response.status_code == 400
    assert field in [e["field"] for e in response.json()["errors"]]
    assert BackupRecord.objects.count() == 0


def test_malformed_json_is_a_400(client, world, token):
    response = post(client, "{not json", token)
    assert (response.status_code, response.json()["errors"][0]["field"]) == (400, "(body)")


@pytest.mark.parametrize("header", ["", "Bearer nope", "Basic abc"])
def test_it_refuses_a_missing_or_bad_token(client, world, header):
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    assert post(client, report(), **extra).status_code == 401


def test_it_refuses_a_revoked_token(client, world, token):
    IngestToken.objects.update(revoked_at=NOW)
    assert post(client, report(), token).status_code == 401


def test_only_the_digest_of_a_token_is_stored(world):
    row, raw = IngestToken.issue("x", policy=world.daily)
    assert raw not in (row.digest, row.prefix)
    assert len(row.digest) == 64


def test_an_account_token_only_reports_for_assets_of_its_account(client, world):
    from drportal.inventory.models import ProviderAccount

    account = ProviderAccount.objects.create(provider=world.rackspace, name="jivosoft", driver="rackspace")
    raw = IngestToken.issue("account agent", account=account)[1]
    refused = post(client, report(policy=world.daily.name), raw)
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["field"] == "asset"
    world.db1.account = account
    world.db1.save()
    assert post(client, report(policy=world.daily.name), raw).status_code == 201


def test_an_oversized_body_is_refused(client, world, token):
    huge = json.dumps([report(id=str(i), error="x" * 1000) for i in range(2500)])
    response = post(client, huge, token)
    assert response.status_code == 413
    assert BackupRecord.objects.count() == 0


def test_a_batch_is_written_with_one_multi_row_insert(client, world, token):
    batch = [report(id=f"{db}-{day}", asset=db, started_at=f"2026-11-{day:02d}T10:00:00Z",
                    completed_at=f"2026-11-{day:02d}T10:20:00Z")
             for db in ("acme-db", "zeta-db") for day in (19, 20, 21)]
    with CaptureQueriesContext(connection) as queries:
        response = post(client, batch, token)
    assert response.status_code == 201, response.content
    assert response.json() == {"created": 6, "duplicates": 0, "finished": 0}
    inserts = [q for q in queries.captured_queries if "INSERT INTO backups_backuprecord" in q["sql"]
               or 'INSERT INTO "backups_backuprecord"' in q["sql"]]
    assert len(inserts) == 1
    assert post(client, batch, token).json() == {"created": 0, "duplicates": 6, "finished": 0}
    assert BackupRecord.objects.count() == 6


def test_one_bad_item_refuses_the_whole_batch_naming_its_index(client, world, token):
    batch = [report(id="a"), report(id="b", size_bytes=-5)]
    response = post(client, batch, token)
    assert response.status_code == 400
    assert response.json()["errors"] == [{"field": "size_bytes", "message": "must be a whole number of bytes, "
                                          "zero or more", "index": 1}]
    assert BackupRecord.objects.count() == 0


def test_duplicate_ids_inside_one_batch_are_refused(client, world, token):
    response = post(client, [report(), report()], token)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "id"
    assert BackupRecord.objects.count() == 0


def test_one_report_costs_one_query(client, world, token, django_assert_num_queries):
    # STORE_ONE_SQL: the token (valid and unrevoked), the asset's pair under its scope, the zone, the
    # INSERT ... ON CONFLICT DO NOTHING RETURNING and the pair marked dirty, in one statement. No session,
    # user, axes or status work: the sweep recomputes the pair.
    PolicyAssetStatus.objects.update(dirty=False)
    with django_assert_num_queries(1):
        assert post(client, report(), token).status_code == 201
    rec = BackupRecord.objects.get()
    assert (rec.token_id, rec.zone, rec.region, rec.provider, rec.viable, rec.source) == (
        IngestToken.objects.get().pk, world.dfw1, world.dfw, "rackspace", True, "agent")
    assert rec.expires_at == at("2026-11-21 10:00") + timedelta(days=14)
    assert PolicyAssetStatus.objects.get(policy=world.daily, asset=world.acme_db).dirty


def test_a_batch_costs_six_queries_whatever_its_size(client, world, token, django_assert_num_queries):
    batch = [report(id=f"{db}-{day}", asset=db, started_at=f"2026-11-{day:02d}T10:00:00Z",
                    completed_at=f"2026-11-{day:02d}T10:20:00Z") for db in ("acme-db", "zeta-db") for day in (19, 20)]
    # The token; the pairs of the named assets; their policies; the zones named; the one INSERT (+ dirty);
    # the audit event. The INSERT and the event share a transaction: a savepoint and its release here, where
    # the test runs inside a transaction (BEGIN and COMMIT in production, which Django does not count).
    with django_assert_num_queries(8):
        assert post(client, batch, token).status_code == 201


def test_a_revocation_takes_effect_on_the_next_report(client, world, token):
    assert post(client, report(id="one"), token).status_code == 201
    IngestToken.objects.update(revoked_at=NOW)
    assert post(client, report(id="two"), token).status_code == 401
    assert BackupRecord.objects.count() == 1


def test_a_bad_token_is_a_401_whatever_the_body(client, world):
    assert post(client, "{not json", "drb_nope").status_code == 401
    assert post(client, report(size_bytes=-1), "drb_nope").status_code == 401
    assert post(client, [report()], "drb_nope").status_code == 401


def test_a_region_location_and_a_named_policy_are_resolved(client, world, token):
    response = post(client, report(policy=world.daily.name, location={"region": "rackspace/dfw", "key": "k"}), token)
    assert response.status_code == 201, response.content
    rec = BackupRecord.objects.get()
    assert (rec.region, rec.zone, rec.provider, rec.key) == (world.dfw, None, "rackspace", "k")


def test_the_token_api_skips_sessions_and_users_but_keeps_the_security_headers(client, world, token):
    response = post(client, report(), token)
    assert response.status_code == 201
    # TokenApiMiddleware answered: no session or user was attached, no cookie set.
    assert not hasattr(response.wsgi_request, "user")
    assert not hasattr(response.wsgi_request, "session")
    assert not response.cookies
    assert response["Content-Security-Policy"].startswith("default-src 'self'")
    assert response["X-Frame-Options"] == "DENY"
    assert int(response["Content-Length"]) == len(response.content)


def test_a_point_in_time_report_needs_its_restorable_time_and_expires_with_the_window(client, world):
    raw = IngestToken.issue("rds poller", policy=world.pitr)[1]
    pit = report(id="rds-1", asset="cybernance-rds", location={"region": "aws/us-east-1"})
    refused = post(client, pit, raw)
    assert (refused.status_code, refused.json()["errors"][0]["field"]) == (400, "recovery_point")
    response = post(client, pit | {"recovery_point": "2026-11-21T14:58:00Z"}, raw)
    assert response.status_code == 201, response.content
    rec = BackupRecord.objects.get()
    assert (rec.viable, rec.recovery_point, rec.expires_at) == (True, at("2026-11-21 14:58"),
                                                               at("2026-11-21 14:58") + timedelta(days=7))


def test_an_image_is_viable_only_when_the_provider_says_available(client, world):
    raw = IngestToken.issue("images", policy=world.images)[1]
    body = report(id="img-1", asset="db1", sha256=None, location=None)
    assert post(client, body, raw).json()["viable"] is False
    assert post(client, body | {"id": "img-2", "provider_state": "available"}, raw).json()["viable"] is True


def test_each_report_that_changes_something_is_in_the_audit_log_under_its_token(client, world, token):
    first = post(client, report(), token).json()
    post(client, report(), token)  # a retry changes nothing and is not an event
    event = AuditEvent.objects.get(action="backups.record_ingested")
    assert (event.actor_label, event.object_type, event.object_id) == (
        "token:jivosoft agent", "backups.backuprecord", str(first["id"]))
    assert event.after == {"asset": "acme-db", "id": "acme-db-2026-11-21", "outcome": "succeeded"}


def test_a_batch_is_one_audit_event_naming_the_records_it_created_or_finished(client, world, token):
    post(client, report(id="running-1", outcome="running", completed_at=None, size_bytes=None, sha256=None), token)
    running = BackupRecord.objects.get().pk
    response = post(client, [report(id="new-1"), report(id="running-1"), report(id="new-2", asset="zeta-db")], token)
    assert response.json() == {"created": 2, "duplicates": 0, "finished": 1}
    event = AuditEvent.objects.get(action="backups.records_ingested")
    created = sorted(BackupRecord.objects.filter(client_id__startswith="new-").values_list("pk", flat=True))
    assert event.after == {"created": created, "finished": [running], "duplicates": 0}
    assert event.actor_label == "token:jivosoft agent"
    post(client, [report(id="new-1"), report(id="new-2", asset="zeta-db")], token)
    assert AuditEvent.objects.filter(action="backups.records_ingested").count() == 1


def test_a_refused_report_leaves_no_audit_event(client, world, token):
    post(client, [report(id="a"), report(id="b", size_bytes=-5)], token)
    post(client, report(asset="nope-db"), token)
    assert not AuditEvent.objects.filter(action__startswith="backups.record").exists()
