"""The one place drportal asks what time it is.

Status functions take `now` as an argument; callers at the edge (views, jobs) get it from here.
Tests move it with time-machine, which patches the clock underneath this call.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone


def now() -> datetime:
    return timezone.now()
