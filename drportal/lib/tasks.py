"""Other apps' recurring work, registered in their AppConfig.ready() and run by backups' scheduler.

Its own module so that backups.jobs (which runs a claimed task) and backups.scheduler (which claims and enqueues
it) both read it without importing each other; in drportal.lib (it knows no app) so that an app below backups
(the cloud's connection check) registers its task without importing backups.
"""

from __future__ import annotations

# Task name -> (cron in UTC, dotted path of a function taking `now`).
EXTRA: dict[str, tuple[str, str]] = {}


def register_task(name: str, schedule: str, func: str) -> None:
    """Let another app run `func(now)` on a cron schedule through this scheduler (call it in AppConfig.ready)."""
    EXTRA[name] = (schedule, func)
