"""POST /api/v1/backups/ with a list, as an adversary sends it: duplicates, a bad item among good ones, the same
batch twice at the same moment. Exact rows, exact audit events."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
import time_machine
from django.db import connection, connections
from django.test import Client

from backups.models import BackupRecord, IngestToken
from drportal.audit.models import AuditEvent
from tests.backups.conftest import at
from tests.backups.test_api_ingest import post, report

NOW = at("2026-11-21 15:00")


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def token(world) -> str:
    return IngestToken.issue("jivosoft agent", policy=world.daily)[1]


def batch(*ids: str, asset: str = "acme-db") -> list[dict]:
    return [report(id=i, asset=asset) for i in ids]


def events() -> list[dict]:
    return list(AuditEvent.objects.filter(action__startswith="backups.record").order_by("pk")
                .values_list("action", "after"))


def test_a_batch_of_good_reports_is_stored_with_one_event(client, world, token):
    response = post(client, batch("d1", "d2") + batch("d1", asset="zeta-db"), token)
    assert response.status_code == 201, response.content
    assert response.json() == {"created": 3, "duplicates": 0, "finished": 0}
    ids = sorted(BackupRecord.objects.values_list("pk", flat=True))
    assert events() == [("backups.records_ingested", {"created": ids, "finished": [], "duplicates": 0})]


def test_the_same_id_twice_for_one_asset_refuses_the_batch_and_writes_nothing(client, world, token):
    response = post(client, batch("d1", "d2", "d1"), token)
    assert response.status_code == 400
    assert response.json()["errors"] == [{"field": "id", "message": "the same id appears twice for one asset "
                                                                    "in this batch"}]
    assert BackupRecord.objects.count() == 0
    assert events() == []


def test_a_bad_item_among_good_ones_is_named_by_index_and_nothing_is_written(client, world, token):
    items = batch("d1", "d2", "d3")
    items[1] |= {"completed_at": "2026-11-21T09:00:00Z"}
    items[2] |= {"location": {"zone": "rackspace/dfw/nowhere"}}
    response = post(client, items, token)
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"field": "completed_at", "message": "is before started_at", "index": 1},
        {"field": "location.zone", "message": "unknown zone: use provider/region/zone", "index": 2},
    ]
    assert BackupRecord.objects.count() == 0
    assert events() == []


def test_a_resent_batch_with_one_new_report_creates_only_that_one(client, world, token):
    post(client, batch("d1", "d2"), token)
    response = post(client, batch("d1", "d2", "d3"), token)
    assert response.status_code == 201
    assert response.json() == {"created": 1, "duplicates": 2, "finished": 0}
    third = BackupRecord.objects.get(client_id="d3").pk
    assert events()[-1] == ("backups.records_ingested", {"created": [third], "finished": [], "duplicates": 2})
    assert len(events()) == 2


def _waiting_on_locks() -> int:
    params = connection.get_connection_params()
    with psycopg.connect(**{k: v for k, v in params.items() if k != "cursor_factory"}) as other:
        return other.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                             "AND datname = current_database()").fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_the_same_batch_sent_twice_at_once_is_stored_once_with_one_event(world, token):
    items = batch(*(f"d{n}" for n in range(50))) + batch("d0", asset="zeta-db")
    # Another connection holds the status rows (clean, so the INSERT's statement must mark them dirty), so both
    # requests are inside their INSERT at the same time: one waits on those rows, the other on its records.
    params = connection.get_connection_params()
    blocker = psycopg.connect(**{k: v for k, v in params.items() if k != "cursor_factory"})
    blocker.execute("UPDATE backups_policyassetstatus SET dirty = false")
    blocker.commit()
    blocker.execute("SELECT 1 FROM backups_policyassetstatus FOR UPDATE")
    answers: list = [None, None]

    def send(n: int) -> None:
        try:
            answers[n] = post(Client(), items, token)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send, args=(n,)) for n in range(2)]
    try:
        for t in threads:
            t.start()
        deadline = time.monotonic() + 20
        while _waiting_on_locks() < 2 and time.monotonic() < deadline and all(a is None for a in answers):
            time.sleep(0.02)
        assert _waiting_on_locks() == 2, answers
    finally:
        blocker.rollback()
        blocker.close()
        for t in threads:
            t.join(30)
    bodies = sorted((a.status_code, a.json()) for a in answers)
    assert bodies == [(200, {"created": 0, "duplicates": 51, "finished": 0}),
                      (201, {"created": 51, "duplicates": 0, "finished": 0})]
    ids = sorted(BackupRecord.objects.values_list("pk", flat=True))
    assert len(ids) == 51
    assert events() == [("backups.records_ingested", {"created": ids, "finished": [], "duplicates": 0})]


def test_an_account_token_s_batch_names_the_asset_of_another_account(client, world):
    from drportal.inventory.models import ProviderAccount

    ours = ProviderAccount.objects.create(provider=world.rackspace, name="jivosoft", driver="rackspace")
    theirs = ProviderAccount.objects.create(provider=world.rackspace, name="other", driver="rackspace")
    world.db1.account = ours  # acme-db is ours through its server
    world.db1.save()
    world.zeta_db.account = theirs  # zeta-db's own account wins over its server's
    world.zeta_db.save()
    raw = IngestToken.issue("account agent", account=ours)[1]
    items = [report(id="d1", policy=world.daily.name), report(id="d1", asset="zeta-db", policy=world.daily.name)]
    response = post(client, items, raw)
    assert response.status_code == 400
    assert response.json()["errors"] == [{"field": "asset", "message": "asset 'zeta-db' is not in this token's "
                                                                       "account", "index": 1}]
    assert BackupRecord.objects.count() == 0
    assert post(client, items[:1], raw).json() == {"created": 1, "duplicates": 0, "finished": 0}


def test_a_policy_token_s_batch_needs_no_policy_name_for_an_asset_of_two_policies(client, world):
    raw = IngestToken.issue("weekly agent", policy=world.weekly)[1]
    response = post(client, batch("w1") + batch("w1", asset="zeta-db"), raw)
    assert response.status_code == 201, response.content
    assert set(BackupRecord.objects.values_list("policy_id", flat=True)) == {world.weekly.pk}
