"""RQ jobs of the backups app. Each carries only ids, claims its row with a conditional update, and does
nothing if the row is already taken: a retried or duplicated job never acts twice."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction
from django.db.models import F, Q

from backups.choices import RestoreTestState
from backups.models import BackupRecord, BackupSource, PolicyAssetStatus, RestoreTest, ScheduledRun
from drportal.audit import log as audit
from drportal.lib import clock

logger = logging.getLogger(__name__)
QUEUE = "default"
# A restore test still "running" after this long lost its worker; the verify task requeues it.
STALE_AFTER = timedelta(hours=2)
VERIFY_BATCH = 20


def enqueue(func: str, *args, job_id: str) -> None:
    """Enqueue after the surrounding transaction commits, so the worker finds the row it is given."""
    import django_rq

    def send() -> None:
        django_rq.get_queue(QUEUE).enqueue(func, *args, job_id=job_id)

    transaction.on_commit(send)


def run_scheduled(run_id: int) -> None:
    now = clock.now()
    if not ScheduledRun.objects.filter(pk=run_id, started_at__isnull=True).update(started_at=now):
        return  # another worker has (or had) it
    run = ScheduledRun.objects.get(pk=run_id)
    try:
        _dispatch(run.task, now)
    except Exception as exc:
        # Noted on the run for the status pages, then re-raised so RQ keeps it in its failed registry.
        ScheduledRun.objects.filter(pk=run_id).update(finished_at=clock.now(),
                                                      error=f"{type(exc).__name__}: {exc}"[:4000])
        raise
    ScheduledRun.objects.filter(pk=run_id).update(finished_at=clock.now())


def _dispatch(task: str, now) -> None:
    from backups import pollers, sweep

    if task == "backups.sweep":
        sweep.sweep(now)
    elif task == "backups.verify":
        schedule_verifications(now)
    elif task.startswith("backups.poll:"):
        source = BackupSource.objects.select_related("policy", "account", "zone__region__provider",
                                                     "region__provider").get(pk=int(task.split(":", 1)[1]))
        pollers.poll(source, now)
        # New records should show on the dashboard without waiting for the next minute's sweep.
        sweep.sweep(now)
    else:
        from django.utils.module_loading import import_string

        from drportal.lib.tasks import EXTRA

        if task not in EXTRA:
            raise ValueError(f"unknown task {task!r}")
        import_string(EXTRA[task][1])(now)


def request_restore_test(record: BackupRecord, *, requested_by) -> RestoreTest:
    """The durable row first; the job after commit. One open test per record."""
    with transaction.atomic():
        open_test = RestoreTest.objects.filter(record=record, state__in=[RestoreTestState.QUEUED,
                                                                         RestoreTestState.RUNNING]).first()
        if open_test:
            return open_test
        test = RestoreTest.objects.create(record=record, requested_at=clock.now(),
                                          requested_by=getattr(requested_by, "username", str(requested_by)))
        audit.record(requested_by, "backups.restore_test_requested", test, after={"record": record.pk})
        enqueue("backups.jobs.run_restore_test", test.pk, job_id=f"backups-restore-test-{test.pk}")
    return test


def run_restore_test(test_id: int) -> None:
    from backups import verify
    from drportal.cloud.adapters.errors import AdapterError

    now = clock.now()
    if not RestoreTest.objects.filter(pk=test_id, state=RestoreTestState.QUEUED).update(
        state=RestoreTestState.RUNNING, started_at=now
    ):
        return
    test = RestoreTest.objects.select_related("record__policy").get(pk=test_id)
    record = test.record
    try:
        verdict = verify.run(record, f"drportal_restore_test_{test.pk}")
    except (AdapterError, OSError) as exc:
        verdict = verify.Verdict(False, "fetch", str(exc))
    finished = clock.now()
    state = RestoreTestState.PASSED if verdict.passed else RestoreTestState.FAILED
    with transaction.atomic():
        RestoreTest.objects.filter(pk=test_id, state=RestoreTestState.RUNNING).update(
            state=state, finished_at=finished, method=verdict.method, detail=verdict.detail[:4000],
            row_count=verdict.row_count)
        learnt = {"verified_at": finished, "verified_ok": verdict.passed, "verified_how": verdict.method}
        if verdict.observed_sha256:
            learnt["observed_sha256"] = verdict.observed_sha256
        if verdict.checksum_ok is not None:
            learnt["checksum_ok"] = verdict.checksum_ok
        BackupRecord.objects.filter(pk=record.pk).update(**learnt)
        PolicyAssetStatus.objects.filter(policy_id=record.policy_id, asset_id=record.asset_id).update(dirty=True)
        audit.record(f"job:restore_test#{test_id}", "backups.restore_tested", test,
                     before={"state": RestoreTestState.RUNNING}, after={"state": state, "detail": verdict.detail})


def schedule_verifications(now) -> int:
    """Request restore tests for pairs whose verification is missing or runs out within a day, on their newest
    viable backup; and requeue tests whose worker vanished."""
    stale = list(RestoreTest.objects.filter(state=RestoreTestState.RUNNING, started_at__lt=now - STALE_AFTER)
                 .values_list("pk", flat=True))
    for pk in stale:
        if RestoreTest.objects.filter(pk=pk, state=RestoreTestState.RUNNING).update(state=RestoreTestState.QUEUED):
            retry_id = f"backups-restore-test-{pk}-retry-{int(now.timestamp())}"
            enqueue("backups.jobs.run_restore_test", pk, job_id=retry_id)
    soon = now + timedelta(days=1)
    pairs = (
        PolicyAssetStatus.objects.filter(policy__verify_within__isnull=False, recovery_record__isnull=False)
        .filter(Q(last_verified_at__isnull=True) | Q(last_verified_at__lt=soon - F("policy__verify_within")))
        .exclude(recovery_record__restore_tests__state__in=[RestoreTestState.QUEUED, RestoreTestState.RUNNING])
        .select_related("recovery_record").order_by("last_verified_at")[:VERIFY_BATCH]
    )
    count = 0
    for pair in pairs:
        request_restore_test(pair.recovery_record, requested_by="job:backups.verify")
        count += 1
    return count
