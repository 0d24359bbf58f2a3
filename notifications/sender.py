"""The sending run. Exactly-once as far as a protocol allows:

- Deliveries are claimed with a conditional update (queued -> sending), a few at a time, before any of their
  messages leaves, so two runs (a retried or duplicated job) never send the same row. The claim is committed
  durably (synchronous commit).
- Claimed rows are sent one at a time in primary-key order, and each outcome (sent, failed, in doubt) is
  recorded before the next message's content leaves (only its envelope may already be on the wire: see
  channels/email.py). Those records are committed asynchronously: they are visible to
  every other session at once, only a crash of PostgreSQL itself can lose the last few, and the sweep below
  treats that case conservatively. This is what makes 10,000 notices a minute possible on a busy machine
  (a synchronous commit per message costs a WAL flush).
- A run holds a PostgreSQL session advisory lock on a random key and stamps it on the rows it claims. If the
  worker dies, PostgreSQL drops its session and the lock; the next run takes the lock and knows the rows
  still "sending" under that key were orphaned. The lowest of them is the one that was in flight: the
  receiver may have accepted it, so it becomes "in doubt" for a person to decide and is never resent on its
  own. The others of its chunk were never attempted and go back to the queue. If PostgreSQL restarted since
  the claim, asynchronously recorded outcomes may be missing, so every orphan is in doubt.
- The unique constraint (notice|page, channel, address) means nothing is queued twice.

Behind a connection pooler in transaction mode session locks do not work: run workers against PostgreSQL
directly.
"""

from __future__ import annotations

import logging
import secrets
from collections import Counter
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import Q

from drportal.audit import log as audit
from drportal.cloud.adapters.errors import AdapterError
from drportal.lib import clock, messages
from notifications.channels import adapter_for, shown_address
from notifications.channels.base import IN_DOUBT, UNAVAILABLE, UNCONFIGURED, Message
from notifications.choices import Channel, DeliveryState
from notifications.models import Delivery

logger = logging.getLogger(__name__)

BATCH = 500  # messages per SMTP connection
# Seconds before the next try of a channel that could not be reached, by attempt; then "failed" at MAX_ATTEMPTS.
BACKOFF_S = (10, 30, 60, 120)


def max_attempts() -> int:
    from django.conf import settings

    return int(getattr(settings, "NOTIFY_MAX_ATTEMPTS", 5))
CLAIM_CHUNK = 100  # rows claimed per durable commit (and tokens taken from the rate limiter at once)

IN_DOUBT_ERROR = ("the worker stopped after handing this message to the receiver and before recording its "
                  "answer; it may have been delivered")
NEVER_TRIED = "requeued: claimed by a worker that stopped before trying it"

_CLAIM = ("UPDATE notifications_delivery SET state = 'sending', claim_key = %s, claimed_at = %s, "
          "attempts = attempts + 1 WHERE id = ANY(%s) AND state = 'queued' RETURNING id")
_OUTCOME = ("UPDATE notifications_delivery SET state = %s, error = %s, sent_at = %s "
            "WHERE id = %s AND claim_key = %s AND state IN ('sending', 'in_doubt')")
# Claimed but never tried: the claim's attempt is given back.
_RELEASE = ("UPDATE notifications_delivery SET state = 'queued', error = %s, attempts = attempts - 1 "
            "WHERE id = ANY(%s) AND claim_key = %s AND state = 'sending'")
_UNAVAILABLE = ("UPDATE notifications_delivery SET state = 'queued', error = %s, attempts = attempts - 1 "
                "WHERE id = %s AND claim_key = %s AND state = 'sending'")
# One round in which the channel could not be reached counts as one attempt for every row that waited on it;
# at the limit the row fails (a person may retry it), before it the row waits for its back-off.
_DEFER = """
UPDATE notifications_delivery SET
    attempts = attempts + 1,
    state = CASE WHEN attempts + 1 >= %(max)s THEN 'failed' ELSE 'queued' END,
    error = CASE WHEN attempts + 1 >= %(max)s THEN %(gave_up)s ELSE %(waiting)s END,
    retry_at = CASE WHEN attempts + 1 >= %(max)s THEN NULL
                    ELSE %(now)s + make_interval(secs => (%(backoff)s::int[])[LEAST(attempts + 1, %(steps)s)]) END
WHERE id = ANY(%(ids)s) AND state = 'queued'
RETURNING id, state, retry_at, address
"""
_UNCONFIGURED = ("UPDATE notifications_delivery SET state = 'failed', error = %s, retry_at = NULL "
                 "WHERE id = ANY(%s) AND state = 'queued' RETURNING id, address")


@dataclass
class Report:
    counts: Counter = field(default_factory=Counter)
    orphaned: int = 0
    stopped: str = ""
    retry_at: object = None  # the earliest back-off of the rows this run deferred (a datetime), if any


def sweep_orphans(actor: str = "job:notify.sweep") -> int:
    """Rows left "sending" by a run whose database session is gone: the one in flight becomes "in doubt", the
    ones never tried go back to the queue. Returns how many became in doubt."""
    keys = set(Delivery.objects.filter(state=DeliveryState.SENDING).values_list("claim_key", flat=True).distinct())
    moved = 0
    for key in keys:
        if key is None or not _try_lock(key):
            continue  # still held: that run is alive and will finish its rows
        try:
            moved += _resolve_orphans(key, actor)
        finally:
            _unlock(key)
    return moved


def _resolve_orphans(key: int, actor: str) -> int:
    with transaction.atomic():
        rows = list(Delivery.objects.select_for_update().filter(state=DeliveryState.SENDING, claim_key=key)
                    .order_by("pk").values_list("pk", "channel", "address", "claimed_at"))
        if not rows:
            return 0
        with connection.cursor() as cur:
            cur.execute("SELECT pg_postmaster_start_time() > %s", [min(r[3] for r in rows)])
            restarted = cur.fetchone()[0]
        doubtful, untried = (rows, []) if restarted else (rows[:1], rows[1:])
        Delivery.objects.filter(pk__in=[r[0] for r in doubtful]).update(state=DeliveryState.IN_DOUBT,
                                                                         error=IN_DOUBT_ERROR)
        Delivery.objects.filter(pk__in=[r[0] for r in untried]).update(state=DeliveryState.QUEUED, error=NEVER_TRIED)
        for pk, channel, address, _ in doubtful:
            shown = shown_address(channel, address)
            ref = Delivery(pk=pk, channel=channel, address=shown, state=DeliveryState.IN_DOUBT)
            audit.record(actor, "delivery.in_doubt", ref, before={"state": "sending"},
                         after={"state": "in_doubt", "address": shown, "postgres_restarted": restarted})
        if untried:
            audit.record(actor, "delivery.requeued", None, after={"deliveries": [r[0] for r in untried]},
                         note=NEVER_TRIED)
    return len(doubtful)


def send_pending(*, notice_id: int | None = None, page_id: int | None = None, actor: str = "job:notify.send",
                 limit: int | None = None) -> Report:
    report = Report(orphaned=sweep_orphans(actor))
    key = secrets.randbits(62)
    if not _try_lock(key):
        raise RuntimeError("could not take a fresh advisory lock")
    try:
        with connection.cursor() as cur:
            cur.execute("SET synchronous_commit = off")
        filters = {"notice_id": notice_id} if notice_id else {"page_id": page_id} if page_id else {}
        for channel in Channel.values:
            pending = (Delivery.objects.filter(channel=channel, state=DeliveryState.QUEUED, **filters)
                       .filter(Q(retry_at__isnull=True) | Q(retry_at__lte=clock.now())).order_by("pk"))
            ids = list(pending.values_list("pk", flat=True)[:limit] if limit else pending.values_list("pk", flat=True))
            if ids:
                # A channel that is down leaves its rows queued; the other channels still go out.
                _send_channel(channel, ids, key, report, actor)
    finally:
        with connection.cursor() as cur:
            cur.execute("RESET synchronous_commit")
        _unlock(key)
    if report.counts:
        audit.record(actor, "notice.send_run", None, after={"notice": notice_id, "page": page_id,
                     **dict(report.counts), "orphaned_in_doubt": report.orphaned})
    return report


def _send_channel(channel: str, ids: list[int], key: int, report: Report, actor: str) -> bool:
    """Send the channel's rows; False when the channel became unavailable (the rest stay queued)."""
    from django_rq import get_connection

    from drportal.lib.ratelimit import TokenBucket

    bucket = TokenBucket(get_connection("default"), channel)
    for start in range(0, len(ids), BATCH):
        batch = list(
            Delivery.objects.filter(pk__in=ids[start:start + BATCH], state=DeliveryState.QUEUED)
            .order_by("pk").values("pk", "address", "subject", "body_text", "body_html", "action_url",
                    "unsubscribe_url")
        )
        adapter = adapter_for(channel)
        try:
            adapter.open()
        except AdapterError as exc:
            if exc.code == UNCONFIGURED:
                fail_unconfigured(channel, ids[start:], str(exc), actor, report)
                return True
            report.stopped = str(exc)
            defer(channel, ids[start:], str(exc), actor, report)
            return False
        try:
            for i in range(0, len(batch), CLAIM_CHUNK):
                if not _send_chunk(adapter, batch[i:i + CLAIM_CHUNK], key, report, actor, bucket):
                    reason = getattr(adapter, "unavailable_reason", "") or f"{channel} became unavailable"
                    report.stopped = reason
                    defer(channel, ids[start:], reason, actor, report)
                    return False
        finally:
            adapter.close()
    return True


def fail_unconfigured(channel: str, ids: list[int], reason: str, actor: str, report: Report) -> None:
    """A channel that is not set up fails its deliveries at once, with the reason; nothing is retried."""
    error = messages.with_details(messages.sentence(reason), reason)
    with connection.cursor() as cur:
        cur.execute(_UNCONFIGURED, [error, ids])
        failed = cur.fetchall()
    report.counts[DeliveryState.FAILED] += len(failed)
    if failed:
        logger.warning("%s: %d message(s) failed at once: %s", channel, len(failed), reason)
        audit.record(actor, "delivery.failed", None, after={"channel": channel, "deliveries": [r[0] for r in failed],
                                                           "error": reason})


def defer(channel: str, ids: list[int], reason: str, actor: str, report: Report) -> None:
    """The channel could not be reached: each waiting row counts one attempt and waits for its back-off, or
    fails at MAX_ATTEMPTS. One log line per round, not a traceback."""
    limit, now = max_attempts(), clock.now()
    main = messages.sentence(reason)
    with connection.cursor() as cur:
        cur.execute(_DEFER, {
            "max": limit, "now": now, "backoff": list(BACKOFF_S), "steps": len(BACKOFF_S), "ids": ids,
            "waiting": messages.with_details(f"{main} Waiting to try again.", reason),
            "gave_up": messages.with_details(f"{main} Gave up after {limit} attempts: retry it once the cause is "
                                             f"fixed.", reason)})
        rows = cur.fetchall()
    failed = [r for r in rows if r[1] == DeliveryState.FAILED]
    waiting = [r[2] for r in rows if r[1] == DeliveryState.QUEUED]
    report.counts[DeliveryState.FAILED] += len(failed)
    if waiting:
        report.retry_at = min(waiting)
    logger.warning("%s unavailable (%s): %d message(s) wait %s, %d failed after %d attempts", channel, reason,
                   len(waiting), f"until {min(waiting):%H:%M:%S}" if waiting else "for nothing", len(failed), limit)
    for pk, _, _, address in failed:
        shown = shown_address(channel, address)
        ref = Delivery(pk=pk, channel=channel, address=shown, state=DeliveryState.FAILED)
        audit.record(actor, "delivery.failed", ref, before={"state": "queued"},
                     after={"state": "failed", "address": shown, "error": reason, "attempts": limit})


def _send_chunk(adapter, rows: list[dict], key: int, report: Report, actor: str, bucket) -> bool:
    with transaction.atomic(), connection.cursor() as cur:
        # The claim must survive a crash of PostgreSQL too: commit it synchronously.
        cur.execute("SET LOCAL synchronous_commit = on")
        cur.execute(_CLAIM, [key, clock.now(), [r["pk"] for r in rows]])
        claimed = {r[0] for r in cur.fetchall()}
    report.counts["skipped"] += len(rows) - len(claimed)  # another run has them
    mine = [r for r in rows if r["pk"] in claimed]
    done = 0
    try:
        bucket.take(len(mine))
        for i, row in enumerate(mine):
            outcome = _send_one(adapter, row, key, actor, mine[i + 1] if i + 1 < len(mine) else None)
            done += 1
            report.counts[outcome] += 1
            if outcome == UNAVAILABLE:
                return False
    finally:
        untried = [r["pk"] for r in mine[done:]]
        if untried:
            with connection.cursor() as cur:
                cur.execute(_RELEASE, ["", untried, key])
    return True


def _message(row: dict) -> Message:
    return Message(row["pk"], row["address"], row["subject"], row["body_text"], row["body_html"],
                   row["action_url"], row["unsubscribe_url"])


def _send_one(adapter, row: dict, key: int, actor: str, next_row: dict | None = None) -> str:
    try:
        adapter.send(_message(row))
    except AdapterError as exc:
        if exc.code == UNAVAILABLE:
            # It never left: the attempt is counted with the rest of the round (defer), then it is sent again.
            adapter.unavailable_reason = str(exc)
            with connection.cursor() as cur:
                cur.execute(_UNAVAILABLE, [str(exc), row["pk"], key])
            return UNAVAILABLE
        state = DeliveryState.IN_DOUBT if exc.code == IN_DOUBT else DeliveryState.FAILED
        _record(row["pk"], key, state, str(exc))
        shown = shown_address(adapter.channel, row["address"])
        ref = Delivery(pk=row["pk"], channel=adapter.channel, address=shown, state=state)
        audit.record(actor, f"delivery.{state}", ref, before={"state": "sending"},
                     after={"state": state, "address": shown, "error": str(exc)})
        return state
    except Exception as exc:
        # Not an answer from the receiver: we cannot tell whether it left.
        _record(row["pk"], key, DeliveryState.IN_DOUBT, f"unexpected error while sending: {exc!r}")
        raise
    if next_row is not None:
        # The next message's envelope travels while this outcome is written; its content leaves only after
        # (adapter.send), so the one-message-in-flight rule of the sweep above still holds.
        adapter.prepare(_message(next_row))
    _record(row["pk"], key, DeliveryState.SENT, "", clock.now())
    return DeliveryState.SENT


def _record(pk: int, key: int, state: str, error: str, sent_at=None) -> None:
    with connection.cursor() as cur:
        cur.execute(_OUTCOME, [state, error, sent_at, pk, key])


def _try_lock(key: int) -> bool:
    with connection.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_lock(%s)", [key])
        return bool(cur.fetchone()[0])


def _unlock(key: int) -> None:
    with connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_unlock(%s)", [key])
