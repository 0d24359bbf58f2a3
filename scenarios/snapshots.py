"""Results the pages read instead of computing them on every view (one Snapshot row each).

`read(key, basis, compute, refresh_job, now)`: the stored data while it is younger than FRESH; past FRESH the
same data, and one refresh job enqueued (claimed by a conditional update, so a hundred page views enqueue one
job); computed in the request when missing, computed for another basis (the library or the lost zones
changed), or older than STALE (no worker took the jobs).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q

from scenarios.models import Snapshot

FRESH = timedelta(seconds=60)
STALE = timedelta(minutes=15)
CLAIM = timedelta(minutes=5)
QUEUE = "low"


@dataclass
class Read:
    data: Any
    computed_at: datetime
    refreshing: bool = False


def basis_of(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def store(key: str, basis: str, data: Any, now: datetime) -> None:
    # An upsert: two views computing at once both write, the later one wins, neither fails.
    Snapshot.objects.bulk_create(
        [Snapshot(key=key, computed_at=now, basis=basis, data=data, refresh_claimed_at=None)],
        update_conflicts=True, unique_fields=["key"], update_fields=["computed_at", "basis", "data",
                                                                     "refresh_claimed_at"])


def enqueue(job: str, *args: Any) -> None:
    """Run `job` (a dotted path) on the low queue once the current transaction commits. RQ carries ids only."""
    import django_rq

    transaction.on_commit(lambda: django_rq.get_queue(QUEUE).enqueue(job, *args))


def read(key: str, basis: str, compute: Callable[[], Any], refresh: tuple[str, ...], now: datetime) -> Read:
    stored = Snapshot.objects.filter(key=key).first()
    if stored is None or stored.basis != basis or now - stored.computed_at > STALE:
        data = compute()
        store(key, basis, data, now)
        return Read(data, now)
    refreshing = stored.refresh_claimed_at is not None and now - stored.refresh_claimed_at < CLAIM
    if now - stored.computed_at > FRESH and not refreshing:
        claimed = Snapshot.objects.filter(pk=stored.pk, computed_at=stored.computed_at).filter(
            Q(refresh_claimed_at__isnull=True) | Q(refresh_claimed_at__lt=now - CLAIM)).update(refresh_claimed_at=now)
        if claimed:
            enqueue(*refresh)
        refreshing = True
    return Read(stored.data, stored.computed_at, refreshing)
