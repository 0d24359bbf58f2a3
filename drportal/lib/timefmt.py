"""The one way drportal writes a duration or a moment for a person to read.

`duration()` is used by every page, notice, log line and PDF, so the same objective never reads "1 d" in one
place and "1 d 2 h" in another. `moment()` writes a stored UTC time in the zone active for the reader (the
user's zone on pages, the company's in customer notices) with the zone named.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from django.utils import timezone


def duration(value: float | timedelta | None, *, none: str = "—") -> str:
    """"6 d 12 h 55 min", "3 min 12 s", "0 s": every non-zero unit down to minutes; seconds only under an hour
    (there they still tell a step's progress, above it they are noise). Negative values get a minus sign."""
    if value is None:
        return none
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if 0 < abs(seconds) < 1:
        return "< 1 s"  # a real, short elapsed time: not the "0 s" of one that was never measured
    sign = "-" if seconds < 0 else ""
    seconds = int(abs(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "", f"{minutes} min" if minutes else "",
             f"{secs} s" if secs and seconds < 3600 else ""]
    text = " ".join(p for p in parts if p)
    return sign + (text or "0 s")


def minutes(value: int) -> str:
    """An objective in minutes, written as every other duration."""
    return duration(int(value) * 60)


def moment(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M %Z", *, none: str = "—") -> str:
    """A stored time in the zone active now (the reader's), the zone named by its abbreviation."""
    if value is None:
        return none
    if timezone.is_naive(value):
        value = value.replace(tzinfo=UTC)
    return timezone.localtime(value).strftime(fmt)


def stamp(now: datetime) -> str:
    """The prefix of a log line as stored: a UTC instant, so each reader can be shown it in their own zone."""
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_STAMP = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z) ")


def log_line(line: str) -> str:
    """A stored log line with its leading UTC stamp written in the reader's zone ("09:50:00 CST …")."""
    found = _STAMP.match(line)
    if not found:
        return line
    at = datetime.strptime(found.group(1), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return moment(at, "%H:%M:%S %Z") + " " + line[found.end():]
