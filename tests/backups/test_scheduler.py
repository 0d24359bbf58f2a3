"""manage.py scheduler: one row per run, so two schedulers never enqueue the same run twice."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.management import call_command

from backups import scheduler
from backups.choices import Freshness, SourceKind
from backups.models import BackupSource, PolicyAssetStatus, ScheduledRun
from tests.backups.conftest import at, work

NOW = at("2026-11-21 15:00:30")


def all_tasks() -> set[str]:
    """Ours (sweep, verify) and whatever other apps registered (notifications' resume, scenarios' reconciler)."""
    return set(scheduler.BUILTIN) | set(scheduler.EXTRA)


def test_a_tick_enqueues_each_due_task_once(world, queue, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = scheduler.tick(NOW)
    with django_capture_on_commit_callbacks(execute=True):
        second = scheduler.tick(NOW)
    assert len(first) == len(all_tasks())  # each task due once, whatever its cron
    assert second == []
    ours = ScheduledRun.objects.filter(task__startswith="backups.")
    # the sweep (every minute) and the verification pass (hourly, at :17)
    assert sorted(ours.values_list("task", "scheduled_for")) == [
        ("backups.sweep", at("2026-11-21 15:00")), ("backups.verify", at("2026-11-21 14:17"))]
    assert sorted(queue.job_ids) == sorted(f"backups-run-{pk}" for pk in first)


def test_a_worker_runs_the_sweep_once_even_if_the_job_is_duplicated(world, queue,
                                                                    django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ids = scheduler.tick(NOW)
    sweep_run = ScheduledRun.objects.get(task="backups.sweep")
    queue.enqueue("backups.jobs.run_scheduled", sweep_run.pk)  # a duplicate delivery
    work(queue)
    sweep_run.refresh_from_db()
    assert sweep_run.started_at is not None
    assert sweep_run.finished_at is not None
    assert sweep_run.error == ""
    assert len(ids) == len(all_tasks())
    assert PolicyAssetStatus.objects.filter(swept_at__isnull=False).count() == PolicyAssetStatus.objects.count()
    assert PolicyAssetStatus.objects.get(policy=world.daily, asset=world.acme_db).freshness == Freshness.NEVER


def test_pollers_are_scheduled_on_their_own_cron(world):
    BackupSource.objects.create(name="kc copies", kind=SourceKind.OBJECTSTORE, policy=world.weekly,
                                container="weekly", schedule="0 */6 * * *")
    tasks = dict(scheduler.due(NOW))
    assert tasks[f"backups.poll:{BackupSource.objects.get().pk}"] == at("2026-11-21 12:00")


@pytest.mark.django_db(transaction=True)
def test_two_schedulers_started_together_enqueue_each_run_once(queue):
    """Two real processes against the same database and Redis, at the same moment."""
    db = settings.DATABASES["default"]
    socket = db.get("OPTIONS", {}).get("host")
    where = f"/{db['NAME']}?host={socket}" if socket else f"{db['HOST']}:{db['PORT']}/{db['NAME']}"
    url = f"postgresql://{db['USER']}@{where}"
    env = os.environ | {"DATABASE_URL": url, "PYTHONPATH": str(settings.BASE_DIR)}
    procs = [subprocess.Popen([sys.executable, "manage.py", "scheduler", "--once"], cwd=settings.BASE_DIR, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    runs = list(ScheduledRun.objects.values_list("task", flat=True))
    assert sorted(runs) == sorted(all_tasks())
    assert len(queue.job_ids) == len(all_tasks())


def test_the_command_ticks_once(world, queue, capsys):
    call_command("scheduler", "--once")
    assert "enqueued" in capsys.readouterr().out


def test_the_health_check_needs_a_recent_tick(world, queue):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("scheduler", "--check")
    call_command("scheduler", "--once")
    call_command("scheduler", "--check")


def test_other_apps_can_register_recurring_work(world, queue, monkeypatch, django_capture_on_commit_callbacks):
    calls = []
    monkeypatch.setitem(scheduler.EXTRA, "tests.ping", ("*/5 * * * *", "tests.backups.test_scheduler.ping"))
    monkeypatch.setattr("tests.backups.test_scheduler.CALLS", calls, raising=False)
    with django_capture_on_commit_callbacks(execute=True):
        scheduler.tick(NOW)
    work(queue)
    run = ScheduledRun.objects.get(task="tests.ping")
    assert (run.scheduled_for, run.error) == (at("2026-11-21 15:00"), "")
    assert len(calls) == 1


CALLS: list = []


def ping(now) -> None:
    CALLS.append(now)
