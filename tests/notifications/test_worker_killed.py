"""The fault the issue names: a real RQ worker process is killed with SIGKILL while sending, then a worker is
started again. Counted at the SMTP server: nobody gets two messages, everybody got one or is listed in doubt."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings

from drportal.inventory.choices import AssetKind, ContactPurpose
from drportal.inventory.models import Asset, Customer, CustomerContact
from drportal.lib.dburl import current_database_url
from notifications import notices
from notifications.choices import NoticeKind
from tests.notifications.factories import crash

ROOT = Path(__file__).resolve().parents[2]
N = 60
SLOW = 25  # the customer whose message the worker is killed on


def worker(smtp_port: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": current_database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_port),
        "NOTIFY_RATE_EMAIL": "1000,1000",
    }
    return subprocess.Popen(
        [sys.executable, "manage.py", "rqworker", "high", "--burst", "--worker-class", "rq.worker.SimpleWorker"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_send_never_causes_a_second_message(world, smtp, smtp_server, redis_conn):
    import django_rq

    from notifications import jobs

    for i in range(N):
        c = Customer.objects.create(slug=f"c{i:03d}", name=f"Customer {i:03d}")
        Asset.objects.create(name=f"c{i:03d}-db", kind=AssetKind.DATABASE, server=world.db1, customer=c)
        CustomerContact.objects.create(customer=c, purpose=ContactPurpose.OUTAGE,
                                       email=f"{'slow' if i == SLOW else 'ops'}@c{i:03d}.example")
    incident = crash(world, world.db1)
    notice = notices.create_notice(world.users["sam"], incident, NoticeKind.OUTAGE_DECLARED)
    smtp.delay = 30.0
    notices.queue_notice(world.users["sam"], notice.pk)  # commits: the job goes to Redis
    expected = set(notice.deliveries.values_list("address", flat=True))
    assert len(expected) == N + 1  # acme too

    first = worker(smtp_server.port)
    try:
        wait_for(lambda: any(r.startswith("slow@") for r in smtp.recipients()), 60, "the slow message")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    smtp.delay = 0.0

    django_rq.get_queue("high", commit_mode="auto").enqueue(jobs.send_notice, notice.pk)
    second = worker(smtp_server.port)
    _, err = second.communicate(timeout=120)
    assert second.returncode == 0, err.decode()[-2000:]

    received = Counter(smtp.recipients())
    assert max(received.values()) == 1, [a for a, n in received.items() if n > 1]
    states = dict(notice.deliveries.values_list("address", "state"))
    in_doubt = {a for a, s in states.items() if s == "in_doubt"}
    assert in_doubt == {f"slow@c{SLOW:03d}.example"}
    assert {a for a, s in states.items() if s == "sent"} == expected - in_doubt
    # Declaring the incident also paged staff (other addresses, other rows); this test is about the notice.
    assert set(received) & expected == expected  # the one in doubt did arrive: exactly the case a person must judge
