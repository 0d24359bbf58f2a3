"""RQ jobs: they carry ids only and are safe to run twice (every row is claimed before it is acted on)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from django.db import transaction


def enqueue_on_commit(func: Callable, *ids: int, queue: str = "high") -> None:
    def go() -> None:
        import django_rq
        from rq import Retry

        # For a job that fails outright (the database away): a channel that cannot be reached does not fail the
        # job, its rows wait for their back-off (sender.defer) and the job is enqueued again for then.
        django_rq.get_queue(queue).enqueue(func, *ids, retry=Retry(max=3, interval=[10, 30, 60]))

    transaction.on_commit(go)


def send_notice(notice_id: int) -> dict:
    from notifications import sender

    report = sender.send_pending(notice_id=notice_id, actor=f"job:send_notice#{notice_id}")
    _again_later(send_notice, notice_id, report)
    return {**report.counts, "orphaned": report.orphaned, "stopped": report.stopped}


def send_page(page_id: int) -> dict:
    from notifications import sender

    report = sender.send_pending(page_id=page_id, actor=f"job:send_page#{page_id}")
    _again_later(send_page, page_id, report)
    return {**report.counts, "orphaned": report.orphaned, "stopped": report.stopped}


def _again_later(func: Callable, pk: int, report) -> None:
    """A channel that could not be reached left rows waiting for their back-off (sender.defer): run again then.
    The job itself succeeds, so the worker's log has the sender's one line, not a traceback; resume_pending
    picks the rows up anyway should this scheduled job be lost."""
    if report.retry_at is None:
        return
    import django_rq

    django_rq.get_queue("high", commit_mode="auto").enqueue_at(report.retry_at, func, pk)


def resume_pending(now) -> int:
    """Scheduled every minute: a send job killed with its worker leaves rows queued (or orphaned in "sending")
    and nobody to send them. Enqueue a send job for each notice or page that has such rows; a job that finds
    nothing to do costs one query, and a duplicate never sends twice. Returns how many jobs were enqueued."""
    import django_rq
    from django.db.models import Q

    from notifications.models import Delivery

    waiting = Delivery.objects.filter(state__in=["queued", "sending"], created_at__lt=now - timedelta(minutes=1))
    waiting = waiting.filter(Q(retry_at__isnull=True) | Q(retry_at__lte=now))  # not before its back-off
    notices = set(waiting.exclude(notice=None).values_list("notice_id", flat=True).distinct())
    pages = set(waiting.exclude(page=None).values_list("page_id", flat=True).distinct())
    # Nothing of ours is written here, so there is no commit to wait for.
    queue = django_rq.get_queue("high", commit_mode="auto")
    for notice_id in notices:
        queue.enqueue(send_notice, notice_id)
    for page_id in pages:
        queue.enqueue(send_page, page_id)
    return len(notices) + len(pages)
