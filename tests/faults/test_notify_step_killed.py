"""Issue 8: a worker SIGKILLed during a runbook notify step to customers. The worst moment is after the notice
and its deliveries were committed (the step has acted) and before the step's result is written. After the
reconciler and a second worker the run completes, and counted at the SMTP server no customer got two
messages: the retried step finds its notice by the step's key instead of queuing another."""

from __future__ import annotations

from collections import Counter

import pytest

from notifications.choices import DeliveryState, NoticeKind
from notifications.models import Notice
from scenarios import engine
from scenarios.choices import RunState, StepState
from tests.faults.engine_support import finish, run_row_locked, sigkill, start_worker, wait_for
from tests.notifications.test_runbook_notices import CUSTOMER_ADDRESSES, dallas_offline, runbook

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("clean_redis")]


def test_a_worker_killed_after_queuing_a_notice_never_causes_a_second_message(world, smtp, smtp_server,
                                                                               monkeypatch):
    from drportal.inventory.choices import ContactPurpose
    from drportal.inventory.models import CustomerContact

    CustomerContact.objects.create(customer=world.customers["acme"], purpose=ContactPurpose.OUTAGE,
                                   email="dba@acme.example")
    monkeypatch.setenv("EMAIL_HOST", "127.0.0.1")
    monkeypatch.setenv("EMAIL_PORT", str(smtp_server.port))
    run, _ = engine.start_run(dallas_offline(world), runbook(), world.users["alice"])
    step = run.steps.get()
    worker = start_worker()
    try:
        with run_row_locked(run.pk) as blocked:
            wait_for(blocked, 60, "the worker to queue the notice and then wait to write the step's result")
            notice = Notice.objects.get(dedupe_key=step.idempotency_key)
            assert notice.deliveries.count() == len(CUSTOMER_ADDRESSES)  # the step has acted
            sigkill(worker)
    finally:
        if worker.poll() is None:
            sigkill(worker)
    step.refresh_from_db()
    assert (step.state, step.attempts, step.outputs) == (StepState.RUNNING, 1, {})  # nothing was recorded

    run = finish(run)  # the reconciler gives the step to a second worker; the send job runs too

    step.refresh_from_db()
    assert run.state == RunState.SUCCEEDED, step.error
    assert (step.state, step.attempts, step.outputs["already_queued"]) == (StepState.SUCCEEDED, 2, True)
    assert Notice.objects.filter(kind=NoticeKind.RUNBOOK).count() == 1
    received = Counter(r for r in smtp.recipients() if r.endswith(("acme.example", "globex.example",
                                                                     "hooli.example", "initech.example")))
    assert received == Counter(CUSTOMER_ADDRESSES)  # one each, counted at the SMTP server
    assert set(notice.deliveries.values_list("state", flat=True)) == {DeliveryState.SENT}
