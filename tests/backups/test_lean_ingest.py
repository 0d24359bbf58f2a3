"""POST /api/v1/backups/ through drportal.wsgi.application: the lean path (backups/lean.py) answers a good
single report exactly as the full Django path does, hands everything else to it, and commits concurrent
reports together, each answered only once its row is durable."""

from __future__ import annotations

import json
import threading

import psycopg
import pytest
import time_machine
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connection, connections
from django.test import RequestFactory

from backups import lean
from backups.models import BackupRecord, IngestToken
from drportal import wsgi
from drportal.audit.models import AuditEvent
from tests.backups.conftest import at

URL = "/api/v1/backups/"
NOW = at("2026-11-21 15:00")


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture(autouse=True)
def keep_the_tests_connection():
    # As Django's test Client does: the request cycle would close the connection holding the test's
    # transaction (its autocommit is off, which close_old_connections takes for a leftover).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def token(world) -> str:
    return IngestToken.issue("jivosoft agent", policy=world.daily)[1]


def report(**over) -> dict:
    base = {"id": "acme-db-2026-11-21", "asset": "acme-db", "outcome": "succeeded",
            "started_at": "2026-11-21T10:00:00Z", "completed_at": "2026-11-21T10:20:00Z", "size_bytes": 123456,
            "sha256": "ab" * 32, "location": {"zone": "rackspace/dfw/dfw1", "container": "dumps",
                                               "key": "acme-db/2026-11-21.dump"}}
    return base | over


class Answer:
    def __init__(self, status: str, headers: list[tuple[str, str]], body: bytes):
        self.code = int(status.split()[0])
        self.headers = dict(headers)
        self.body = body

    def json(self) -> dict:
        return json.loads(self.body)


def call(app, body, token: str | None = None, on_answer=None, **environ) -> Answer:
    """One request through a WSGI application, as gunicorn makes it."""
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    if token:
        environ["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    env = RequestFactory().post(URL, data=data, content_type="application/json", **environ).environ
    seen: list = []

    def start_response(status, headers, exc_info=None):
        seen[:] = [status, headers]
        if on_answer is not None:
            on_answer(status)

    chunks = app(env, start_response)
    body_out = b"".join(chunks)
    if hasattr(chunks, "close"):
        chunks.close()
    return Answer(seen[0], seen[1], body_out)


def lean_call(body, token=None, **environ) -> Answer:
    return call(wsgi.application, body, token, **environ)


def full_call(body, token=None, **environ) -> Answer:
    return call(wsgi.django_application, body, token, **environ)


def same_answer(a: Answer, b: Answer) -> None:
    assert (a.code, a.body) == (b.code, b.body)
    assert {k: v for k, v in a.headers.items() if k != "Date"} == {k: v for k, v in b.headers.items() if k != "Date"}


def test_it_stores_a_good_report_without_the_django_request_cycle(world, token):
    before = lean.GROUPS.reports
    answer = lean_call(report(), token)
    assert answer.code == 201, answer.body
    rec = BackupRecord.objects.get(pk=answer.json()["id"])
    assert (rec.asset, rec.policy, rec.zone, rec.client_id, rec.viable) == (
        world.acme_db, world.daily, world.dfw1, "acme-db-2026-11-21", True)
    assert lean.GROUPS.reports == before + 1


def test_its_answer_row_and_audit_event_are_the_full_paths(world, token):
    lean_answer = lean_call(report(id="by-lean", location={"zone": "rackspace/dfw/dfw1", "key": "k"}), token)
    full_answer = full_call(report(id="by-full", location={"zone": "rackspace/dfw/dfw1", "key": "k"}), token)
    assert lean_answer.code == full_answer.code == 201
    assert set(lean_answer.headers) == set(full_answer.headers)
    assert {k: v for k, v in lean_answer.headers.items() if k not in ("Date", "Content-Length")} == {
        k: v for k, v in full_answer.headers.items() if k not in ("Date", "Content-Length")}
    lean_body, full_body = lean_answer.json(), full_answer.json()
    assert lean_answer.body == json.dumps(lean_body).encode()
    assert {**lean_body, "id": 0} == {**full_body, "id": 0}
    skip = {"id", "client_id", "created_at"}
    fields = [f.attname for f in BackupRecord._meta.concrete_fields if f.attname not in skip]
    lean_row = BackupRecord.objects.filter(client_id="by-lean").values(*fields).get()
    full_row = BackupRecord.objects.filter(client_id="by-full").values(*fields).get()
    assert lean_row == full_row
    events = {e.object_id: e for e in AuditEvent.objects.filter(action="backups.record_ingested")}
    lean_event, full_event = events[str(lean_body["id"])], events[str(full_body["id"])]
    assert (lean_event.actor_label, lean_event.object_type) == (full_event.actor_label, full_event.object_type)
    assert lean_event.after == {**full_event.after, "id": "by-lean"}


@pytest.mark.parametrize(("body", "auth"), [
    (b'{"id": "x", "asset": ', "good"),                      # not JSON
    (b"[1, 2]", "good"),                                       # a batch of non-objects
    ("[]", "good"),                                            # an empty batch
    (report(size_bytes=-1), "good"),                           # a bad field
    (report(asset="nope-db"), "good"),                         # an unknown asset
    (report(), "drb_not-a-real-token"),                        # a wrong token
    (report(), None),                                          # no token
    (report(sha256="\u0000" * 64), "good"),                  # text PostgreSQL cannot store
    (report(id="x" * 201), "good"),                            # an id too long
    ('{"id": 1e999999}', "good"),                              # a number beyond any column
])
def test_it_answers_every_refusal_as_the_full_path_and_writes_nothing(world, token, body, auth):
    bearer = token if auth == "good" else auth
    lean_answer = lean_call(body, bearer)
    assert lean_answer.code in (400, 401)
    same_answer(lean_answer, full_call(body, bearer))
    assert not BackupRecord.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="backups.record").exists()


def test_a_revoked_token_is_refused_as_the_full_path_refuses_it(world, token):
    IngestToken.objects.update(revoked_at=NOW)
    lean_answer = lean_call(report(), token)
    assert lean_answer.code == 401
    same_answer(lean_answer, full_call(report(), token))
    assert not BackupRecord.objects.exists()


def test_a_token_scoped_to_another_policy_cannot_report_for_this_one(world):
    other = IngestToken.issue("image agent", policy=world.images)[1]
    lean_answer = lean_call(report(), other)
    assert lean_answer.code == 400
    assert lean_answer.json()["errors"][0]["field"] in ("asset", "policy")
    same_answer(lean_answer, full_call(report(), other))
    assert not BackupRecord.objects.exists()


def test_an_oversized_body_is_refused_unread(world, token):
    lean_answer = lean_call(report(), token, CONTENT_LENGTH=str(3 * 1024 * 1024))
    assert lean_answer.code == 413
    same_answer(lean_answer, full_call(report(), token, CONTENT_LENGTH=str(3 * 1024 * 1024)))


def test_a_retry_is_answered_as_a_duplicate_with_the_first_records_id(world, token):
    first = lean_call(report(), token).json()
    again = lean_call(report(), token)
    assert (again.code, again.json()) == (200, {"id": first["id"], "status": "duplicate", "viable": True})
    same_answer(again, full_call(report(), token))
    assert BackupRecord.objects.count() == 1


def fresh_apps() -> tuple:
    """The lean and the full application built now: Django's SecurityMiddleware reads its settings once."""
    from django.core.wsgi import get_wsgi_application

    full = get_wsgi_application()
    return wsgi.IngestRoute(full), full


def test_plain_http_is_left_to_django_when_https_is_required(world, token, settings):
    settings.SECURE_SSL_REDIRECT = True
    lean_app, full_app = fresh_apps()
    answer = call(lean_app, report(), token)
    assert answer.code == 301
    same_answer(answer, call(full_app, report(), token))
    assert not BackupRecord.objects.exists()


def test_behind_an_https_proxy_it_sends_the_full_paths_hsts_header(world, token, settings):
    settings.SECURE_SSL_REDIRECT, settings.SECURE_HSTS_SECONDS = True, 3600
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    lean_app, full_app = fresh_apps()
    before = lean.GROUPS.reports
    lean_answer = call(lean_app, report(id="one"), token, HTTP_X_FORWARDED_PROTO="https")
    full_answer = call(full_app, report(id="two"), token, HTTP_X_FORWARDED_PROTO="https")
    assert lean_answer.code == full_answer.code == 201
    assert lean.GROUPS.reports == before + 1
    assert lean_answer.headers["Strict-Transport-Security"] == full_answer.headers["Strict-Transport-Security"]
    assert lean_answer.headers.keys() == full_answer.headers.keys()


@pytest.mark.parametrize(("forwarded", "scheme", "secure"), [
    ("https", "http", True), ("http", "https", False), ("https, http", "http", True), (None, "https", True),
    (" https ", "http", True), ("HTTPS", "http", False),
])
def test_it_reads_https_as_django_does(settings, forwarded, scheme, secure):
    from django.core.handlers.wsgi import WSGIRequest

    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    extra = {"HTTP_X_FORWARDED_PROTO": forwarded} if forwarded is not None else {}
    env = RequestFactory().post(URL, data="{}", content_type="application/json", **extra).environ
    env["wsgi.url_scheme"] = scheme
    assert wsgi.is_secure(env) is WSGIRequest(env).is_secure() is secure


def test_switched_off_every_report_takes_the_full_path(world, token, settings):
    settings.INGEST_LEAN_PATH = False
    before = lean.GROUPS.reports
    assert lean_call(report(), token).code == 201
    assert lean.GROUPS.reports == before


def _count_from_another_connection(client_id: str) -> int:
    with _connect() as other:
        return other.execute("SELECT count(*) FROM backups_backuprecord WHERE client_id = %s",
                             [client_id]).fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_the_row_is_committed_before_the_201_is_sent(world, token):
    seen: list[int] = []
    answer = call(wsgi.application, report(id="durable"), token,
                  on_answer=lambda status: seen.append(_count_from_another_connection("durable")))
    assert answer.code == 201
    assert seen == [1]


def _connect():
    params = connection.get_connection_params()
    return psycopg.connect(**{k: v for k, v in params.items() if k != "cursor_factory"})


def _send_together(bodies: list[dict], token: str) -> list[Answer]:
    """The first report leads and waits on a status row another connection holds; the others queue behind
    it. Released, the queued ones are stored as one group."""
    answers: dict[int, Answer] = {}
    blocker = _connect()
    blocker.execute("UPDATE backups_policyassetstatus SET dirty = false")

    def send(n: int) -> None:
        try:
            answers[n] = lean_call(bodies[n], token)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send, args=(n,)) for n in range(len(bodies))]
    threads[0].start()
    while not lean.GROUPS.busy:
        threads[0].join(0.01)
    for t in threads[1:]:
        t.start()
    while len(lean.GROUPS.queue) < len(bodies) - 1:
        threads[1].join(0.01)
    blocker.rollback()
    blocker.close()
    for t in threads:
        t.join(30)
    return [answers[n] for n in range(len(bodies))]


@pytest.mark.django_db(transaction=True)
def test_reports_arriving_together_are_committed_in_one_group_and_each_gets_its_own_answer(world, token):
    groups, reports = lean.GROUPS.groups, lean.GROUPS.reports
    answers = _send_together([report(id=f"together-{n}") for n in range(6)], token)
    assert [a.code for a in answers] == [201] * 6
    assert len({a.json()["id"] for a in answers}) == 6
    assert (lean.GROUPS.groups - groups, lean.GROUPS.reports - reports) == (2, 6)
    assert BackupRecord.objects.filter(client_id__startswith="together-").count() == 6
    assert AuditEvent.objects.filter(action="backups.record_ingested").count() == 6
    assert not lean.GROUPS.busy


@pytest.mark.django_db(transaction=True)
def test_a_groups_rows_and_audit_events_are_the_full_paths(world, token):
    bodies = [report(id="lead"), report(id="grouped-a", asset="zeta-db"),
              report(id="grouped-b", location={"region": "rackspace/mci", "key": "k"}, outcome="failed",
                     error="disk full", size_bytes=None, sha256=None)]
    answers = _send_together(bodies, token)
    for body in bodies[1:]:
        full_call(body | {"id": f"full-{body['id']}"}, token)
    assert [a.code for a in answers] == [201] * 3
    assert [a.json()["viable"] for a in answers] == [True, True, False]
    skip = {"id", "client_id", "created_at"}
    fields = [f.attname for f in BackupRecord._meta.concrete_fields if f.attname not in skip]
    for name in ("grouped-a", "grouped-b"):
        grouped = BackupRecord.objects.filter(client_id=name).values(*fields).get()
        assert grouped == BackupRecord.objects.filter(client_id=f"full-{name}").values(*fields).get()
        event = AuditEvent.objects.get(action="backups.record_ingested", after__id=name)
        full = AuditEvent.objects.get(action="backups.record_ingested", after__id=f"full-{name}")
        assert (event.actor_label, event.object_type, event.after["outcome"]) == (
            full.actor_label, full.object_type, full.after["outcome"])
        assert event.object_id == str(BackupRecord.objects.get(client_id=name).pk)


@pytest.mark.django_db(transaction=True)
def test_the_same_report_twice_in_one_group_is_one_record_and_a_duplicate(world, token):
    # The second's ON CONFLICT finds the first's row and settles nothing: it is answered the full way.
    answers = _send_together([report(id="first"), report(), report()], token)
    assert [a.code for a in answers[1:]] in ([201, 200], [200, 201])
    assert {a.json()["status"] for a in answers[1:]} == {"created", "duplicate"}
    assert BackupRecord.objects.filter(client_id="acme-db-2026-11-21").count() == 1
    assert not lean.GROUPS.busy


@pytest.mark.django_db(transaction=True)
def test_a_group_with_reports_it_cannot_settle_answers_each_as_the_full_path_does(world, token):
    # The first report leads alone; the other four are stored as one group, where only "good" is settled.
    bodies = [report(id="lead"), report(id="unknown", asset="nope-db"), report(id="good", asset="zeta-db"),
              report(id="lead"), report(id="bad-zone", location={"zone": "rackspace/dfw/nope"})]
    answers = _send_together(bodies, token)
    assert [a.code for a in answers] == [201, 400, 201, 200, 400]
    assert answers[1].json()["errors"] == [{"field": "asset", "message": "unknown asset 'nope-db'"}]
    assert answers[3].json() == {"id": answers[0].json()["id"], "status": "duplicate", "viable": True}
    assert answers[4].json()["errors"][0]["field"] == "location.zone"
    assert sorted(BackupRecord.objects.values_list("client_id", flat=True)) == ["good", "lead"]
    assert AuditEvent.objects.filter(action="backups.record_ingested").count() == 2
