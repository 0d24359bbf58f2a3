"""The one place drportal asks what time it is.

Status functions take `now` as an argument; callers at the edge (views, jobs) get it from here.
Tests move it with time-machine, which patches the clock underneath this call. The demo's replayed history
moves it with `replaying(moment)`: what runs inside (drills through the engine and its jobs, in this thread)
lives at that moment, and the time that passes inside passes from it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta

from django.utils import timezone

_offset: ContextVar[timedelta] = ContextVar("drportal_clock_offset", default=timedelta(0))


def now() -> datetime:
    return timezone.now() + _offset.get()


@contextmanager
def replaying(moment: datetime) -> Iterator[None]:
    """now() starts at `moment` inside the block (this thread and what it calls only)."""
    token = _offset.set(moment - timezone.now())
    try:
        yield
    finally:
        _offset.reset(token)


def advance(by: timedelta) -> None:
    """Inside replaying(): move the clock forward, as if `by` had passed."""
    _offset.set(_offset.get() + by)
