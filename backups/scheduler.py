"""The scheduler without Celery beat: for each task, the most recent cron tick that is due gets one
ScheduledRun row. The row's unique (task, scheduled_for) is what makes two schedulers safe: the second
INSERT ... ON CONFLICT DO NOTHING returns nothing, so only the first enqueues."""

from __future__ import annotations

from datetime import datetime

from django.db import connection, transaction

from backups import jobs, status
from backups.models import BackupSource
from drportal.lib.tasks import EXTRA
from drportal.lib.tasks import register_task as register_task  # other apps register here (AppConfig.ready)

BUILTIN = {
    "backups.sweep": "* * * * *",
    "backups.verify": "17 * * * *",
}

CLAIM_SQL = """
INSERT INTO backups_scheduledrun (task, scheduled_for, enqueued_at, error)
VALUES (%s, %s, %s, '') ON CONFLICT (task, scheduled_for) DO NOTHING RETURNING id
"""


def due(now: datetime) -> list[tuple[str, datetime]]:
    tasks = dict(BUILTIN) | {name: cron for name, (cron, _) in EXTRA.items()}
    for pk, schedule in BackupSource.objects.filter(enabled=True, policy__active=True).values_list("pk", "schedule"):
        tasks[f"backups.poll:{pk}"] = schedule
    return [(task, status.previous_runs(cron, "UTC", now, 1)[0]) for task, cron in sorted(tasks.items())]


def tick(now: datetime) -> list[int]:
    """Claim and enqueue every due run not yet claimed by anyone. Returns the ids this call enqueued."""
    enqueued = []
    with transaction.atomic(), connection.cursor() as cur:
        for task, moment in due(now):
            cur.execute(CLAIM_SQL, [task, moment, now])
            row = cur.fetchone()
            if row:
                enqueued.append(row[0])
                jobs.enqueue("backups.jobs.run_scheduled", row[0], job_id=f"backups-run-{row[0]}")
    return enqueued


def healthy(now: datetime, within_seconds: int = 180) -> bool:
    """A scheduler has claimed the every-minute sweep recently (for the container health check)."""
    from datetime import timedelta

    from backups.models import ScheduledRun

    return ScheduledRun.objects.filter(task="backups.sweep",
                                       enqueued_at__gte=now - timedelta(seconds=within_seconds)).exists()
