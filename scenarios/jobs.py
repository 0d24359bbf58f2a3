"""RQ jobs of the engine. Every job carries ids only and is safe to run twice.

- run_steps(ids): claim ready steps (select_for_update skip locked, then a lease), perform them, write
  the results while still holding the claim, advance the run.
- poll_due(): the poller. Long actions return Outcome(done=False, poll_after=s) and release their worker;
  the step waits with a `due_at`. One poller at a time (a Redis lock) sleeps exactly until the earliest
  due step, or until woken by a new, earlier deadline (BLPOP on a wake key), so a 2-second poll is
  served at 2 s, not at the next tick of a 1-second scheduler. When nothing is due within HOLD seconds
  it frees its worker; far deadlines (an 8-hour wait) are picked up by a poller scheduled for then, and
  by the reconciler in any case.
- reconcile(): requeue steps whose worker died (lapsed lease), re-enqueue ready steps whose job was
  lost (Redis restarted), serve due steps if the poller is gone.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import django_rq
import redis
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.urls import reverse
from rq import Worker, get_current_job

from drportal.audit import log as audit
from drportal.cloud.actions.base import REGISTRY, Outcome, StepContext
from drportal.cloud.adapters.errors import AdapterError
from drportal.lib import clock, timefmt
from scenarios import engine, hooks
from scenarios.choices import JOB_KINDS, StepKind, StepState
from scenarios.models import Run, StepRun
from scenarios.queueing import (
    POLLER_LOCK,
    QUEUE,
    WAKE_KEY,
    enqueue_steps,
    hold_seconds,
    lease_seconds,
    max_batch,
    setting,
    wake_poller,
)

logger = logging.getLogger(__name__)


def coalesce_seconds() -> float:
    return setting("SCENARIOS_POLL_COALESCE_SECONDS", 0.1)


def stale_ready_seconds() -> float:
    return setting("SCENARIOS_STALE_READY_SECONDS", 60)


def backoff(attempt: int) -> float:
    base = setting("SCENARIOS_BACKOFF_BASE", 2)
    return min(base ** attempt, 600)


def _redis():
    return django_rq.get_connection(QUEUE)


def _queue():
    return django_rq.get_queue(QUEUE)


def _label(what: str) -> str:
    job = get_current_job()
    return f"job:{what}#{job.id[:8]}" if job else f"job:{what}"


# ------------------------------------------------------------------------------------------ run_steps


@dataclass
class Result:
    row: StepRun
    attempt: int
    state: str
    log: list[str] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    action_state: dict[str, Any] = field(default_factory=dict)
    due_in: float | None = None
    # When the action answered: the poll is due `due_in` after that, not after the batch is written.
    at: datetime = field(default_factory=clock.now)
    error: str = ""


def run_steps(step_ids: list[int], *, due_by: datetime | None = None) -> int:
    """Claim and perform the given steps; returns how many this job performed. With due_by (the poller's own
    share of a due round), the steps are claimed straight from waiting, if due by then."""
    label = _label("run_steps")
    rows = claim(step_ids, label, due_by=due_by)
    if not rows:
        return 0
    beat = Heartbeat([(r.pk, r.attempts) for r in rows])
    beat.start()
    try:
        results = perform_batch(rows)
    finally:
        beat.stop()
    apply_results(results, label)
    return len(results)


# One statement claims the batch: lock the ready rows nobody holds (skip locked), mark them running with a lease and
# return them, so a claim is one round trip, not a transaction of four. It returns what performing and writing a
# result read, not the log, the people's fields or the other times (Django defers them: read, they are loaded, so
# nothing reads a stale value): a model of 28 fields with four JSON documents per row was most of a claim's CPU.
# The locked ids are materialised first and the update finds them by primary key: written as `id IN (subquery)`,
# the planner (on statistics taken while the table was small) rescanned the subquery for every row of the table,
# 0.8 s per claim at 1,000 rows.
CLAIM_SQL = """
WITH claimable AS MATERIALIZED (
    SELECT t.id FROM scenarios_steprun t JOIN scenarios_run r ON r.id = t.run_id
     WHERE t.id = ANY(%(ids)s) AND t.kind = ANY(%(kinds)s) AND r.state = ANY(%(runs)s)
       AND ((t.state = %(ready)s AND %(due_by)s::timestamptz IS NULL)
            OR (t.state = %(waiting)s AND t.due_at <= %(due_by)s))
       FOR UPDATE OF t SKIP LOCKED)
UPDATE scenarios_steprun s
   SET state = %(running)s, attempts = s.attempts + 1, started_at = COALESCE(s.started_at, %(now)s),
       lease_until = %(lease)s, actor_label = %(label)s, due_at = NULL
  FROM claimable c
 WHERE s.id = c.id AND s.id = ANY(%(ids)s)
RETURNING s.id, s.run_id, s.step_id, s.item, s.position, s.kind, s.title, s.state, s.attempts, s.max_attempts,
          s.idempotency_key, s.params, s.action_state, s.outputs, s.started_at, s.lease_until, s.actor_label
"""


def claim(step_ids: list[int], label: str, *, due_by: datetime | None = None) -> list[StepRun]:
    """Claim the given steps that are ready (or, with due_by, waiting and due by then) and nobody holds."""
    now = clock.now()
    rows = sorted(StepRun.objects.raw(CLAIM_SQL, {
        "running": StepState.RUNNING, "ready": StepState.READY, "waiting": StepState.WAITING, "due_by": due_by,
        "now": now, "label": label,
        "lease": now + timedelta(seconds=lease_seconds()), "ids": list(step_ids), "kinds": [str(k) for k in JOB_KINDS],
        "runs": [str(s) for s in engine.ACTIVE_RUN_STATES]}), key=lambda r: (r.run_id, r.position, r.item))
    if not rows:
        return []
    # One Run object per run, shared by its rows: select_related decoded the run's spec and bindings (which list
    # every server of the incident) once per row, a quarter of a fan-out's claim.
    runs = {run.pk: run for run in Run.objects.filter(pk__in={r.run_id for r in rows})}
    for row in rows:
        row.run = runs[row.run_id]
    return rows


class Heartbeat:
    """Renews the leases of the claimed steps while the job works, so only a dead worker's lapse."""

    def __init__(self, claims: list[tuple[int, int]]):
        self.claims = claims
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._beat, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=5)

    def _beat(self) -> None:
        lease = lease_seconds()
        try:
            while not self.stopped.wait(lease / 3):
                until = clock.now() + timedelta(seconds=lease)
                for pk, attempt in self.claims:
                    StepRun.objects.filter(pk=pk, state=StepState.RUNNING, attempts=attempt).update(lease_until=until)
        finally:
            connection.close()


def perform(row: StepRun) -> Result:
    return perform_batch([row])[0]


@dataclass
class Prepared:
    """A row about to be handed to its action: what execute gets, and what its answer is read with."""
    row: StepRun
    name: str
    ctx: StepContext
    stamp: str
    checked: list[str]


def perform_batch(rows: list[StepRun]) -> list[Result]:
    """Perform claimed rows, in order. Rows of one action go to it together: an action with `execute_many` (the
    contract in drportal/cloud/actions/base.py) answers them in one call, e.g. one round trip to its provider for
    a fan-out's batch instead of one per server; the others are executed one by one."""
    results: dict[int, Result] = {}
    by_action: dict[str, list[tuple[int, Prepared]]] = {}
    for i, row in enumerate(rows):
        prepared = _prepare(row)
        if isinstance(prepared, Result):
            results[i] = prepared
        else:
            by_action.setdefault(prepared.name, []).append((i, prepared))
    for name, group in by_action.items():
        answers = _execute(name, [p.ctx for _, p in group])
        for (i, prepared), answer in zip(group, answers, strict=True):
            results[i] = _finish(prepared, answer)
    return [results[i] for i in range(len(rows))]


def _prepare(row: StepRun) -> Prepared | Result:
    """The action and context of a claimed row, or its Result already (a notice, a missing action, a drill whose
    plan check failed)."""
    stamp = timefmt.stamp(clock.now())
    if row.kind == StepKind.NOTIFY:
        return _perform_notify(row, stamp)
    spec = row.spec
    drill = row.run.drill
    # A drill in a bubble (scenarios/drills.py) runs the real action against the sandbox accounts.
    bubble = drill and bool(row.run.bindings.get("bubble"))
    name = "simulated" if drill and not bubble else spec["action"]
    params = dict(row.params)
    if bubble:
        from scenarios.drills import bubble_params

        params = bubble_params(row, params)
    elif drill:
        # Drills never touch production: every automated step runs on the simulated cloud.
        params.setdefault("as_action", spec["action"])
        params.setdefault("duration", params.get("drill_duration", 0))
    if REGISTRY.get(name) is None:
        return Result(row, row.attempts, StepState.FAILED, [f"{stamp} action {name!r} is not installed"],
                      error=f"action {name!r} is not installed; install it, or do the step by hand and skip it")
    ctx = StepContext(idempotency_key=row.idempotency_key, params=params, state=dict(row.action_state),
                      incident_id=row.run.incident_id, drill=drill)
    checked: list[str] = []
    if drill and spec["action"] != name and "plan_checked" not in ctx.state:
        failed, checked, handover = drill_check(row, spec["action"], stamp)
        if failed is not None:
            return failed
        ctx.state["plan_checked"] = True
        if handover:
            ctx.state["handover"] = handover
    return Prepared(row, name, ctx, stamp, checked)


def _execute(name: str, ctxs: list[StepContext]) -> list[Outcome | Exception]:
    """Each context's answer: the Outcome, or the exception execute raised. A batch the action's execute_many
    could not answer as a whole (it raised) is executed again one by one: actions are idempotent, so a context it
    had already acted on finds its work done."""
    action = REGISTRY[name]
    if len(ctxs) > 1 and hasattr(action, "execute_many"):
        try:
            return list(action.execute_many(ctxs))
        except Exception:
            logger.exception("action %s failed on a batch of %s; executing them one by one", name, len(ctxs))
            for ctx in ctxs:
                ctx.log.clear()
    answers: list[Outcome | Exception] = []
    for ctx in ctxs:
        try:
            answers.append(action.execute(ctx))
        except Exception as exc:  # noqa: BLE001 - any failure is that step's answer (_finish logs it), not the batch's
            answers.append(exc)
    return answers


def _finish(prepared: Prepared, answer: Outcome | Exception) -> Result:
    """A row's Result from its action's answer."""
    row, name, ctx, stamp, checked = prepared.row, prepared.name, prepared.ctx, prepared.stamp, prepared.checked
    if isinstance(answer, AdapterError):
        lines = checked + [f"{stamp} {line}" for line in ctx.log] + [f"{stamp} attempt {row.attempts}: {answer}"]
        if answer.permanent or row.attempts >= row.max_attempts:
            return Result(row, row.attempts, StepState.FAILED, lines, action_state=ctx.state, error=str(answer))
        delay = backoff(row.attempts)
        lines.append(f"{stamp} retrying in {delay:g} s")
        return Result(row, row.attempts, StepState.WAITING, lines, action_state=ctx.state, due_in=delay,
                      error=str(answer))
    if isinstance(answer, Exception):
        logger.error("action %s failed on step run %s", name, row.pk, exc_info=answer)
        return Result(row, row.attempts, StepState.FAILED, [f"{stamp} internal error: {answer!r}"],
                      action_state=ctx.state, error=f"internal error in {name}: {answer!r}")
    lines = checked + [f"{stamp} {line}" for line in ctx.log]
    spec = row.spec
    if answer.done:
        outputs = dict(answer.output)
        if row.run.drill and name != spec["action"]:
            # The real action only planned; the simulated cloud stood in: the drill did not exercise it.
            outputs["exercised"] = False
            outputs["not_exercised"] = f"only planned ({spec['action']} checked its plan; the simulated cloud stood in)"
        handover = answer.handover or (ctx.state.get("handover", "") if row.run.drill else "")
        if handover:
            outputs["handover"] = handover
            lines.append(f"{stamp} handed over to {handover}")
        return Result(row, row.attempts, StepState.SUCCEEDED, lines, outputs, ctx.state)
    return Result(row, row.attempts, StepState.WAITING, lines, dict(answer.output), ctx.state,
                  due_in=max(answer.poll_after, 0.0))


# What a drill's plan check reports as a failure of the plan itself: the step could not run for real.
PLAN_FINDINGS = ("BadInput", "NoDrillAccount", "NoViableBackup", "NoSnapshot", "NoViableImage", "NoSuchSize",
                 "NoSuchZone", "BadConfiguration", "SuspectNeedsApproval")


def drill_check(row: StepRun, name: str, stamp: str) -> tuple[Result | None, list[str], str]:
    """A drill's automated step asks the real action what it would do, in drill mode (simulated twins of
    the accounts, the live inventory and backup records), before the simulated stand-in acts. Parameters
    the action rejects fail the step, as they would in a real recovery; a service the simulated cloud does
    not offer (e.g. load balancers) is noted in the log and does not fail the drill. An action that would
    hand over (transfer_ip on a provider that cannot move addresses) says so through an optional
    `handover(ctx)`, and the drill takes the same branch."""
    action = REGISTRY.get(name)
    if action is None:
        return Result(row, row.attempts, StepState.FAILED, [f"{stamp} action {name!r} is not installed"],
                      error=f"action {name!r} is not installed; install it, or do the step by hand and skip it"), [], ""
    # Inputs that come from a step the simulated cloud stood in for (no load balancer's DNS name, no real node's
    # address) are not bound: a plan that needs them cannot be checked, which is no finding about the plan.
    unbound = sorted(f"{p} from {source}" for p, source in (row.spec.get("inputs") or {}).items()
                     if p not in row.params)
    ctx = StepContext(idempotency_key=row.idempotency_key, params=dict(row.params), state={},
                      incident_id=row.run.incident_id, drill=True)
    handover = ""
    try:
        lines = [f"{stamp} {name} would: {line}" for line in action.plan(ctx)]
        if hasattr(action, "handover"):
            handover = action.handover(ctx)
    except AdapterError as exc:
        if exc.code in PLAN_FINDINGS and not unbound:
            return Result(row, row.attempts, StepState.FAILED, [f"{stamp} {name} rejects the step: {exc}"],
                          error=f"{name}: {exc}"), [], ""
        why = f" (its inputs {', '.join(unbound)} only planned)" if unbound else ""
        lines = [f"{stamp} {name} could not be checked on the simulated cloud{why}: {exc}"]
    except Exception as exc:
        logger.exception("plan of %s failed on step run %s", name, row.pk)
        return Result(row, row.attempts, StepState.FAILED, [f"{stamp} internal error in {name}: {exc!r}"],
                      error=f"internal error in {name}: {exc!r}"), [], ""
    return None, lines, handover


def _perform_notify(row: StepRun, stamp: str) -> Result:
    spec = row.spec
    names = {**row.run.bindings, "server": row.item}
    subject = engine.bind(spec["subject"], names)
    body = engine.bind(spec["body"], names)
    link = reverse("scenarios:run", args=[row.run_id])
    if spec["audience"] == "staff":
        from notifications.api import notify_staff

        role = spec.get("role", "ops")
        notify_staff(role=role, subject=subject, body=body, link=link, dedupe_key=row.idempotency_key)
        return Result(row, row.attempts, StepState.SUCCEEDED, [f"{stamp} staff notice sent to {role}: {subject}"],
                      {"subject": subject, "role": role})
    if row.run.drill:
        # A drill never writes to customers: the notice is the one step a person acts out by hand.
        return Result(row, row.attempts, StepState.WAITING,
                      [f"{stamp} drill: customer notices are not sent; complete the step by hand"],
                      {"handover": "send by hand", "subject": subject, "body": body})
    sent = hooks.send_customer_notice(row, subject=subject, body=body)
    if sent is None:
        # No customer-notice channel installed: the step waits for a person to send it and complete it.
        return Result(row, row.attempts, StepState.WAITING,
                      [f"{stamp} no customer-notice channel installed: send it by hand, then complete the step"],
                      {"handover": "send by hand", "subject": subject, "body": body})
    line = f"{stamp} customer notice queued: {subject}"
    if "notice" in sent:
        line = (f"{stamp} customer notice #{sent['notice']} queued to {sent['customers']} customers "
                f"({sent['deliveries']} messages): {subject}")
    return Result(row, row.attempts, StepState.SUCCEEDED, [line], {"subject": subject, **sent})


def apply_results(results: list[Result], label: str) -> None:
    """Write results while still holding each claim (same state, same attempt): if the reconciler gave
    the step to another worker meanwhile, this one's late result is dropped. Per run of the batch: the run
    locked, then one conditional UPDATE writes every row still held and says which (the claim checked by the
    write itself, not by a SELECT ... FOR UPDATE before it), and one INSERT audits them: 3 statements a batch."""
    by_run: dict[int, list[Result]] = {}
    for result in results:
        by_run.setdefault(result.row.run_id, []).append(result)
    soon = False
    for run_id, run_results in by_run.items():
        with transaction.atomic():
            engine.hold_run(run_id)
            now = clock.now()
            mine = _write_results(run_results, now)
            soon = soon or any(res.due_in is not None and res.due_in <= hold_seconds() for res in mine)
            _audit_many(label, now, [
                (res.row, f"scenario_step.{res.state}", {"state": StepState.RUNNING},
                 {"state": res.state, "attempt": res.attempt, "error": res.error, "outputs": res.outputs})
                for res in mine if res.state in (StepState.SUCCEEDED, StepState.FAILED) or res.error])
            for res in mine:
                if res.state == StepState.FAILED:
                    engine.notify_staff_later("ops", f"Step failed: {res.row.title}", res.error, res.row.run, res.row)
            engine.advance(run_id, label)
    if soon:
        wake_poller()


# A batch's results in one statement, from one JSON document (json.dumps of the batch, in C, instead of psycopg
# adapting each value): a row is written only while this attempt still holds it (state running, same attempt
# number), and RETURNING names the rows written. The log and outputs are appended to and merged in place, as
# `row.log + res.log` and `{**row.outputs, **res.outputs}` were.
RESULTS_SQL = """
UPDATE scenarios_steprun s
   SET state = v.state, log = s.log || v.log, action_state = v.action_state, outputs = s.outputs || v.outputs,
       error = v.error, lease_until = NULL, finished_at = v.finished_at, due_at = v.due_at
  FROM json_to_recordset(%s::json) AS v(id bigint, attempt integer, state text, log jsonb, action_state jsonb,
                                        outputs jsonb, error text, finished_at timestamptz, due_at timestamptz)
 WHERE s.id = v.id AND s.state = %s AND s.attempts = v.attempt
RETURNING s.id
"""


def _write_results(results: list[Result], now: datetime) -> list[Result]:
    """Write the results whose claims still hold; return those (the others are logged and dropped)."""
    over = (StepState.SUCCEEDED, StepState.FAILED)
    document = [{"id": res.row.pk, "attempt": res.attempt, "state": res.state, "log": res.log,
                 "action_state": res.action_state, "outputs": res.outputs, "error": res.error,
                 "finished_at": now.isoformat() if res.state in over else None,
                 "due_at": (res.at + timedelta(seconds=res.due_in)).isoformat() if res.due_in is not None else None}
                for res in results]
    with connection.cursor() as cursor:
        cursor.execute(RESULTS_SQL, [json.dumps(document, cls=DjangoJSONEncoder), StepState.RUNNING])
        written = {pk for (pk,) in cursor.fetchall()}
    mine = []
    for res in results:
        if res.row.pk not in written:
            logger.warning("step run %s: result of attempt %s dropped (claim lost)", res.row.pk, res.attempt)
            continue
        row = res.row
        row.state, row.error, row.lease_until = res.state, res.error, None
        if "log" in row.__dict__:  # deferred in a claimed row: read, it is loaded as written
            row.log = row.log + res.log
        row.action_state = res.action_state
        row.outputs = {**row.outputs, **res.outputs}
        row.finished_at = now if res.state in over else None
        row.due_at = res.at + timedelta(seconds=res.due_in) if res.due_in is not None else None
        mine.append(res)
    return mine


# A batch's audit rows in one INSERT from one JSON document, one row per step: Django's bulk_create built a model
# and prepared ten fields per row, a third of what writing a batch's results cost. A JSON null is SQL NULL, as
# audit.record stores a missing before or after.
AUDIT_SQL = """
INSERT INTO audit_auditevent (at, actor_id, actor_label, action, object_type, object_id, object_repr, before, after,
                              note)
SELECT %s, NULL, %s, e.action, e.object_type, e.object_id, e.object_repr, e.before, e.after, ''
  FROM json_to_recordset(%s::json)
       AS e(action text, object_type text, object_id text, object_repr text, before jsonb, after jsonb)
"""


def _audit_many(label: str, now: datetime, entries: list[tuple]) -> None:
    """audit.record for a batch, in one INSERT (same fields as audit.record writes)."""
    if not entries:
        return
    document = [{"action": action, "object_type": obj._meta.label_lower, "object_id": str(obj.pk),
                 "object_repr": str(obj)[:300], "before": _jsonable_or_none(before), "after": _jsonable_or_none(after)}
                for obj, action, before, after in entries]
    with connection.cursor() as cursor:
        cursor.execute(AUDIT_SQL, [now, label[:200], json.dumps(document, cls=DjangoJSONEncoder)])


def _jsonable_or_none(value: Any) -> Any:
    return None if value is None else audit.jsonable(value)


# --------------------------------------------------------------------------------------------- poller


def next_due_at() -> datetime | None:
    row = (StepRun.objects.filter(state=StepState.WAITING, due_at__isnull=False,
                                  run__state__in=engine.ACTIVE_RUN_STATES)
           .order_by("due_at").values_list("due_at", flat=True).first())
    return row


def poll_due() -> int:
    """Serve due steps until nothing is due within HOLD seconds. Returns how many it served."""
    conn = _redis()
    label = _label("poll_due")
    try:
        return _poll_loop(conn, label)
    except BaseException:
        # A crashed poller must not block the next one until its lock expires.
        conn.delete(POLLER_LOCK)
        raise


def _poll_loop(conn, label: str) -> int:
    served = 0
    ttl = int(hold_seconds() + 60)
    while True:
        conn.set(POLLER_LOCK, "running", ex=ttl)
        served += process_due(clock.now(), label, keep=max_batch())
        wait = _seconds_until(next_due_at())
        if wait is None or wait > hold_seconds():
            conn.delete(POLLER_LOCK)
            # A deadline may have been added between the query and the delete: look once more.
            nxt = next_due_at()
            wait = _seconds_until(nxt)
            if wait is not None and wait <= hold_seconds() and conn.set(POLLER_LOCK, "running", nx=True, ex=ttl):
                continue
            if nxt is not None:
                _queue_at(nxt)
            return served
        if wait > 0:
            # Sleep a little past the earliest deadline so steps due a few milliseconds apart (a fan-out
            # submitted in one batch) are served in one round, not in dozens of tiny ones.
            block(conn, max(wait + coalesce_seconds(), 0.001))


def block(conn, seconds: float) -> None:
    """Wait on the wake-up list for at most `seconds`, and never longer than the connection's own read timeout
    (redis-py sets 5 s): a BLPOP outlasting it raised TimeoutError, the poller died, and no poller was queued
    again, so waiting steps stayed waiting (found by the demo's browser journey). The loop looks again."""
    limit = read_timeout(conn)
    if limit:
        seconds = min(seconds, max(limit - 1.0, 0.001))
    try:
        conn.blpop([WAKE_KEY], timeout=seconds)
    except redis.exceptions.TimeoutError:
        pass  # a slower reply than the connection allows: as good as a wake-up, the loop looks again


def read_timeout(conn) -> float | None:
    """The connection's read timeout: redis-py 8 keeps it as orig_socket_timeout (5 s when none is set)."""
    kwargs = conn.connection_pool.connection_kwargs
    return kwargs.get("socket_timeout") or kwargs.get("orig_socket_timeout")


def _seconds_until(when: datetime | None) -> float | None:
    return None if when is None else (when - clock.now()).total_seconds()


def _queue_at(when: datetime) -> None:
    # Far deadlines: rq's scheduler (workers run --with-scheduler) starts a poller a little early; its
    # 1-second tick does not matter against a wait of more than HOLD seconds. The reconciler is the backstop.
    try:
        at = when - timedelta(seconds=hold_seconds() / 2)
        # One scheduled poller per second of deadline; never the id of a job that may be running now.
        _queue().enqueue_at(at, poll_due, job_id=f"drportal-scenarios-poller-{int(at.timestamp())}")
    except Exception:  # a scheduling failure must not fail the poll that already happened
        logger.exception("could not schedule the next poller")


def process_due(now: datetime, label: str, *, keep: int = 0) -> int:
    """Release due steps: job steps go back to the workers, waits end or remind. With keep=N the caller
    (the poller, already a running job) performs up to N of the due job steps itself, saving a worker
    hop at the moment latency matters."""
    kept: list[int] = []
    with transaction.atomic():
        # Ids and kinds only: the claim reads the job steps' rows anyway, and a wait is read again under its run's lock.
        rows = list(engine.due_waiting(now).select_for_update(skip_locked=True, of=("self",))
                    .order_by("due_at").values_list("pk", "kind")[:1000])
        job_ids = [pk for pk, kind in rows if kind in JOB_KINDS]
        if job_ids and keep:
            workers = max(1, Worker.count(queue=_queue()))
            kept = job_ids[:min(keep, math.ceil(len(job_ids) / (workers)))]
        # The rest go back to ready for the workers. The kept stay waiting and this job claims them straight
        # from there once this commits: one update of each row fewer (issue 17's fan-out). If another poller
        # releases them first, the claim finds them ready, not waiting, and leaves them to the workers.
        rest = job_ids[len(kept):]
        if rest:
            StepRun.objects.filter(pk__in=rest, state=StepState.WAITING).update(
                state=StepState.READY, due_at=None, enqueued_at=now)
            transaction.on_commit(lambda: enqueue_steps(rest))
    if kept:
        run_steps(kept, due_by=now)
    for pk, kind in rows:
        if kind == StepKind.WAIT:
            _serve_wait(pk, now, label)
    return len(rows)


def _serve_wait(step_run_id: int, now: datetime, label: str) -> None:
    with transaction.atomic():
        row = StepRun.objects.select_related("run").get(pk=step_run_id)
        engine.lock_run(row.run_id)
        row.refresh_from_db()
        if row.state != StepState.WAITING or row.due_at is None or row.due_at > now:
            return
        spec = row.spec
        ends = row.ready_at + timedelta(minutes=spec["duration_minutes"]) if "duration_minutes" in spec else None
        if ends is not None and now >= ends:
            StepRun.objects.filter(pk=row.pk, state=StepState.WAITING).update(
                state=StepState.SUCCEEDED, finished_at=now, due_at=None, actor_label=label,
                outputs={**row.outputs, "ended": "time"},
                log=[*row.log, f"{timefmt.stamp(now)} waited {spec['duration_minutes']:g} min"])
            audit.record(label, "scenario_step.wait_over", row, before={"state": StepState.WAITING},
                         after={"state": StepState.SUCCEEDED})
            engine.advance(row.run_id, label)
            return
        number = row.reminders_sent + 1
        role = spec.get("remind_role", "ops")
        engine.notify_staff_later(role, f"Reminder {number}: {row.title}", spec.get("condition", ""), row.run, row)
        row.reminders_sent = number
        row.due_at = engine.next_wait_due(spec, row, now)
        StepRun.objects.filter(pk=row.pk).update(
            reminders_sent=number, due_at=row.due_at,
            log=[*row.log, f"{timefmt.stamp(now)} reminder {number} sent to {role}"])
        audit.record(label, "scenario_step.reminded", row, after={"reminder": number, "role": role})


# ------------------------------------------------------------------------------------------ reconcile


def reconcile(now: datetime | None = None) -> dict[str, int]:
    """Repair what dead workers and a restarted Redis left behind. Safe to run any time, any number of times."""
    now = now or clock.now()
    label = "job:reconcile"
    requeued: list[int] = []
    failed = 0
    with transaction.atomic():
        lapsed = list(StepRun.objects.select_for_update(skip_locked=True, of=("self",))
                      .filter(state=StepState.RUNNING, lease_until__lt=now).select_related("run"))
        for row in lapsed:
            line = f"{timefmt.stamp(now)} worker lost (lease lapsed at {row.lease_until:%H:%M:%S} UTC); "
            if row.attempts >= row.max_attempts:
                StepRun.objects.filter(pk=row.pk, state=StepState.RUNNING, attempts=row.attempts).update(
                    state=StepState.FAILED, finished_at=now, lease_until=None, actor_label=label,
                    error=f"worker lost on attempt {row.attempts} of {row.max_attempts}",
                    log=[*row.log, line + "no attempts left"])
                failed += 1
                audit.record(label, "scenario_step.failed", row, before={"state": StepState.RUNNING},
                             after={"state": StepState.FAILED, "reason": "worker lost"})
                continue
            StepRun.objects.filter(pk=row.pk, state=StepState.RUNNING, attempts=row.attempts).update(
                state=StepState.READY, lease_until=None, enqueued_at=now, actor_label=label,
                log=[*row.log, line + "requeued"])
            requeued.append(row.pk)
            audit.record(label, "scenario_step.requeued", row, before={"state": StepState.RUNNING},
                         after={"state": StepState.READY, "reason": "worker lost"})
        stale = list(StepRun.objects.select_for_update(skip_locked=True, of=("self",)).filter(
            state=StepState.READY, kind__in=JOB_KINDS, run__state__in=engine.ACTIVE_RUN_STATES,
            enqueued_at__lt=now - timedelta(seconds=stale_ready_seconds())).values_list("pk", flat=True))
        if stale:
            StepRun.objects.filter(pk__in=stale).update(enqueued_at=now)
        again = requeued + stale
        if again:
            transaction.on_commit(lambda: enqueue_steps(again))
    for run_id in {r.run_id for r in lapsed if r.pk not in requeued}:
        engine.advance(run_id, label)
    served = process_due(now, label)
    wait = _seconds_until(next_due_at())
    if wait is not None and wait <= hold_seconds():
        wake_poller()
    return {"requeued": len(requeued), "failed": failed, "reenqueued": len(stale), "served": served}
