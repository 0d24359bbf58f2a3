"""A problem as the dashboard states it, in one sentence: what is wrong, since when, what to do.

Each feature app writes its own (backups.problems, the readiness checks of scenarios) from the rows its status
functions derived; the dashboard writes `since` in the reader's zone between `what` and `todo`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Problem:
    what: str
    since: datetime | None  # None when no row says when it began
    todo: str
    url: str = ""
