"""RQ jobs: they carry ids only and are safe to run twice (every row is claimed before it is acted on)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from django.db import transaction


def enqueue_on_commit(func: Callable, *ids: int, queue: str = "high") -> None:
    def go() -> None:
        import django_rq
        from rq import Retry

        # A channel that was unreachable leaves its rows queued and fails the job; RQ tries again later.
        django_rq.get_queue(queue).enqueue(func, *ids, retry=Retry(max=3, interval=[10, 30, 60]))

    transaction.on_commit(go)


def send_notice(notice_id: int) -> dict:
    from notifications import sender

    report = sender.send_pending(notice_id=notice_id, actor=f"job:send_notice#{notice_id}")
    _raise_if_stopped(report)
    return {**report.counts, "orphaned": report.orphaned, "stopped": report.stopped}


def send_page(page_id: int) -> dict:
    from notifications import sender

    report = sender.send_pending(page_id=page_id, actor=f"job:send_page#{page_id}")
    _raise_if_stopped(report)
    return {**report.counts, "orphaned": report.orphaned, "stopped": report.stopped}


def build_export(export_id: int) -> None:
    from notifications import exports

    exports.build(export_id)


def _raise_if_stopped(report) -> None:
    if report.stopped:
        from drportal.cloud.adapters.errors import AdapterError

        raise AdapterError(report.stopped, permanent=False, provider="notifications", code="unavailable")


def resume_pending(now) -> int:
    """Scheduled every minute: a send job killed with its worker leaves rows queued (or orphaned in "sending")
    and nobody to send them. Enqueue a send job for each notice or page that has such rows; a job that finds
    nothing to do costs one query, and a duplicate never sends twice. Returns how many jobs were enqueued."""
    import django_rq

    from notifications.models import Delivery

    waiting = Delivery.objects.filter(state__in=["queued", "sending"], created_at__lt=now - timedelta(minutes=1))
    notices = set(waiting.exclude(notice=None).values_list("notice_id", flat=True).distinct())
    pages = set(waiting.exclude(page=None).values_list("page_id", flat=True).distinct())
    # Nothing of ours is written here, so there is no commit to wait for.
    queue = django_rq.get_queue("high", commit_mode="auto")
    for notice_id in notices:
        queue.enqueue(send_notice, notice_id)
    for page_id in pages:
        queue.enqueue(send_page, page_id)
    return len(notices) + len(pages)
