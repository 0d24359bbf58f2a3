"""backups.ingest.store_group, the one statement that stores a group of single reports for the lean path's
group commit: each report is settled as it would be alone (STORE_ONE_SQL), whatever its neighbours are, and a
report it does not settle writes nothing."""

from __future__ import annotations

import pytest
import time_machine
from django.db import connection, transaction

from backups import ingest
from backups.models import BackupRecord, IngestToken, PolicyAssetStatus
from drportal.audit.models import AuditEvent
from tests.backups.conftest import at
from tests.backups.test_lean_ingest import report

NOW = at("2026-11-21 15:00")


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def params(item: dict, raw_token: str) -> dict:
    found = ingest.store_one_params(item, ingest.digest_of(f"Bearer {raw_token}"), NOW)
    assert found is not None, item  # each of these passes the checks that need no database
    return found


def alone(item: dict, raw_token: str) -> tuple:
    """What STORE_ONE_SQL answers for this report by itself, rolled back."""
    with transaction.atomic():
        with connection.cursor() as cur:
            cur.execute(ingest.STORE_ONE_SQL, params(item, raw_token))
            tokens, settled, pk, viable = cur.fetchone()
        transaction.set_rollback(True)
    return bool(tokens), bool(settled), pk is not None, viable


def shape(row: tuple) -> tuple:
    tokens, settled, pk, viable = row
    return bool(tokens), bool(settled), pk is not None, viable


@pytest.fixture
def hostile_group(world) -> list[tuple[dict, str]]:
    daily = IngestToken.issue("jivosoft agent", policy=world.daily)[1]
    images = IngestToken.issue("image agent", policy=world.images)[1]
    pitr = IngestToken.issue("rds agent", policy=world.pitr)[1]
    revoked_token, revoked = IngestToken.issue("old agent", policy=world.daily)
    revoked_token.revoked_at = NOW
    revoked_token.save()
    return [
        (report(id="good"), daily),
        (report(id="unknown-asset", asset="nope-db"), daily),
        (report(id="by-region", asset="zeta-db", location={"region": "rackspace/mci", "key": "k"}), daily),
        (report(id="revoked"), revoked),
        (report(id="other-policy"), images),
        (report(id="unknown-zone", location={"zone": "rackspace/dfw/nope"}), daily),
        (report(id="no-restorable-time", asset="cybernance-rds", location=None), pitr),
        (report(id="failed", asset="zeta-db", outcome="failed", size_bytes=None, sha256=None), daily),
        (report(id="nul-free-but-odd", asset="acme-db\u00e9"), daily),
    ]


def test_each_report_of_a_group_is_settled_as_it_would_be_alone(world, hostile_group):
    expected = [alone(item, raw) for item, raw in hostile_group]
    rows = ingest.store_group([params(item, raw) for item, raw in hostile_group])
    assert [shape(r) for r in rows] == expected
    assert [s[1] and s[2] for s in expected] == [True, False, True, False, False, False, False, True, False]


def test_only_the_settled_reports_write_a_record_an_event_and_a_dirty_pair(world, hostile_group):
    PolicyAssetStatus.objects.update(dirty=False)
    rows = ingest.store_group([params(item, raw) for item, raw in hostile_group])
    created = {r[2] for r in rows if r[2] is not None}
    assert set(BackupRecord.objects.values_list("client_id", flat=True)) == {"good", "by-region", "failed"}
    assert set(BackupRecord.objects.values_list("pk", flat=True)) == created
    events = AuditEvent.objects.filter(action="backups.record_ingested")
    assert {e.object_id for e in events} == {str(pk) for pk in created}
    assert {e.actor_label for e in events} == {"token:jivosoft agent"}
    assert set(PolicyAssetStatus.objects.filter(dirty=True).values_list("policy", "asset")) == {
        (world.daily.pk, world.acme_db.pk), (world.daily.pk, world.zeta_db.pk)}


def test_the_record_is_the_one_the_report_alone_writes(world):
    raw = IngestToken.issue("jivosoft agent", policy=world.daily)[1]
    items = [report(id="grouped", location={"region": "rackspace/mci", "provider": "rax", "container": "c"}),
             report(id="grouped", asset="zeta-db", outcome="running", completed_at=None)]
    ingest.store_group([params(item, raw) for item in items])
    skip = {"id", "client_id", "created_at"}
    fields = [f.attname for f in BackupRecord._meta.concrete_fields if f.attname not in skip]
    grouped = {r["asset_id"]: r for r in BackupRecord.objects.values(*fields)}
    BackupRecord.objects.all().delete()
    for item in items:
        ingest.store_group([params(item, raw)])
    assert {r["asset_id"]: r for r in BackupRecord.objects.values(*fields)} == grouped


def test_the_same_id_twice_in_a_group_is_stored_once_and_the_second_is_left_to_the_full_path(world):
    raw = IngestToken.issue("jivosoft agent", policy=world.daily)[1]
    rows = ingest.store_group([params(report(id="twice"), raw), params(report(id="twice"), raw)])
    assert [shape(r) for r in rows] == [(True, True, True, True), (True, True, False, None)]
    assert BackupRecord.objects.filter(client_id="twice").count() == 1
    assert AuditEvent.objects.filter(action="backups.record_ingested").count() == 1


def test_a_known_id_in_a_group_writes_nothing_new(world):
    raw = IngestToken.issue("jivosoft agent", policy=world.daily)[1]
    first = ingest.store_group([params(report(id="known"), raw)])[0]
    rows = ingest.store_group([params(report(id="known"), raw), params(report(id="new"), raw)])
    assert [shape(r) for r in rows] == [(True, True, False, None), (True, True, True, True)]
    assert BackupRecord.objects.get(client_id="known").pk == first[2]
    assert AuditEvent.objects.filter(action="backups.record_ingested").count() == 2
