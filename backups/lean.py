"""The lean path of POST /api/v1/backups/ (issue 17): one well-formed report, stored without Django's request
cycle, and the reports that arrive together in one worker process committed together.

Why (profiled in-process with cProfile on time.process_time, 3,000 reports, docs/backups.md): of the CPU a
single report cost, Django's handler, its signals, request and response objects and the middleware before
TokenApiMiddleware took about a sixth, resolving the URL and that middleware another sixth, the view's
plumbing (headers, body, JsonResponse) a fifth; validation 6 %; and in PostgreSQL the commit (the WAL flush)
cost more than the statement: 1.25 ms of backend CPU per report committed alone against 0.35 ms per report
committed by the thousand.

What it does: drportal.wsgi sends POST to this URL here first. `answer` authenticates, validates and stores
exactly as backups.api.ingest's single-report way does (ingest.store_one_params, the same STORE_ONE_SQL: same
token check, same rows, same audit event), and answers only a report that statement settled: a new record.
Anything else (no or a bad token, a body that is not one report, a bad field, an unknown asset, a retry of a
known id, a batch) returns None and the full Django path answers, as it always has; for a refusal nothing
was written here, since the statement writes only what it settles.

Group commit: while one request of this process is committing, the reports that arrive queue up, and the
next leader stores all of them in one statement (ingest.store_group). Each request answers only after the
commit that holds its row returned: durable before the 201, as before.
"""

from __future__ import annotations

import io
import logging
import threading
from datetime import datetime

from django.db import DatabaseError, connection

from backups import ingest as ingestion
from backups.api import MAX_BODY_BYTES, MAX_DEPTH
from drportal.lib import clock, inputs

logger = logging.getLogger(__name__)


class GroupCommit:
    """Leader and followers over one queue: a caller appends its report; when nobody is storing, it leads:
    takes the whole queue (its own report included) and stores it. Otherwise it sleeps until it is served, or
    until the leader before it hands it the lead (the oldest waiting report leads the next group). One writer
    per process at a time, on the leader's own connection. Each waiter has its own event: waking them all on
    every commit cost more than the commit saved."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.queue: list[Slot] = []
        self.busy = False
        # Groups and reports stored by this process, for tests and the benchmark's notes.
        self.groups = self.reports = 0

    def store(self, params: dict) -> tuple:
        slot = Slot(params)
        with self.lock:
            self.queue.append(slot)
            lead, self.busy = not self.busy, True
        if not lead:
            slot.wake.wait()
        if not slot.done:
            self._lead()
        if slot.error is not None:
            raise slot.error
        return slot.row

    def _lead(self) -> None:
        with self.lock:
            group, self.queue = self.queue, []
        try:
            _store_group(group)
        finally:
            for served in group:
                if not served.done:  # the leader was interrupted (a worker's timeout): nothing is known
                    served.error, served.done = RuntimeError("the group commit was interrupted"), True
            with self.lock:
                self.groups += 1
                self.reports += len(group)
                if self.queue:
                    self.queue[0].wake.set()
                else:
                    self.busy = False
            for served in group:
                served.wake.set()


class Slot:
    __slots__ = ("done", "error", "params", "row", "wake")

    def __init__(self, params: dict) -> None:
        self.params, self.row, self.error, self.done = params, (), None, False
        self.wake = threading.Event()


def _store_group(group: list[Slot]) -> None:
    try:
        rows = ingestion.store_group([slot.params for slot in group])
    except Exception as exc:  # noqa: BLE001 - each request of the group then answers the general way
        for slot in group:
            slot.error, slot.done = exc, True
        return
    for slot, row in zip(group, rows, strict=True):
        slot.row, slot.done = row, True


GROUPS = GroupCommit()


def answer(environ: dict, now: datetime | None = None) -> bytes | None:
    """The 201 body for a report stored here, or None: the full path must answer. Reads the body only when
    its Content-Length is acceptable; having read it, puts it back in environ["wsgi.input"] for the full path."""
    digest = ingestion.digest_of(environ.get("HTTP_AUTHORIZATION", ""))
    length = environ.get("CONTENT_LENGTH", "")
    if digest is None or not length.isdigit() or int(length) > MAX_BODY_BYTES:
        return None
    raw = environ["wsgi.input"].read(int(length))
    environ["wsgi.input"] = io.BytesIO(raw)
    try:
        item = inputs.load_json(raw, max_bytes=MAX_BODY_BYTES, max_depth=MAX_DEPTH)
    except inputs.InputError:
        return None
    if not isinstance(item, dict):
        return None
    params = ingestion.store_one_params(item, digest, now or clock.now())
    if params is None:
        return None
    if not connection.in_atomic_block:
        # The request cycle Django skips here would close a connection past CONN_MAX_AGE or broken by an error.
        connection.close_if_unusable_or_obsolete()
    try:
        tokens, settled, pk, viable = GROUPS.store(params)
    except Exception as exc:
        # Nothing of the group was committed: the full path answers (a 503 when the database is down, a 500
        # with its error id for anything else).
        logger.warning("lean ingestion path: %s; the full path answers", type(exc).__name__,
                       exc_info=not isinstance(exc, DatabaseError))
        return None
    if not (tokens and settled and pk is not None):
        return None
    # As JsonResponse writes {"id": ..., "status": "created", "viable": ...}.
    return b'{"id": %d, "status": "created", "viable": %s}' % (pk, b"true" if viable else b"false")
