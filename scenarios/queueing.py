"""Handing work to RQ: ready steps to the workers (enqueue_steps) and a nudge to the poller (wake_poller).

Its own module, below the engine and its jobs (issue 15: they imported each other). The engine hands ids here
once its rows are written; the jobs are named by their dotted path, so this module needs neither of them.
"""

from __future__ import annotations

import math
import os

import django_rq
from django.conf import settings
from rq import Worker

QUEUE = "high"
POLLER_LOCK = "drportal:scenarios:poller"
WAKE_KEY = "drportal:scenarios:wake"
# The jobs (scenarios/jobs.py) by the name RQ stores anyway: a worker imports them, this module does not.
RUN_STEPS = "scenarios.jobs.run_steps"
POLL_DUE = "scenarios.jobs.poll_due"


def setting(name: str, default: float) -> float:
    """A number from the settings, else the environment, else `default` (the engine's knobs, SCENARIOS_*)."""
    value = getattr(settings, name, None)
    if value is None:
        value = os.environ.get(name, default)
    return float(value)


def lease_seconds() -> float:
    return setting("SCENARIOS_LEASE_SECONDS", 60)


def hold_seconds() -> float:
    return setting("SCENARIOS_POLL_HOLD_SECONDS", 5)


def max_batch() -> int:
    return int(setting("SCENARIOS_MAX_BATCH", 50))


def enqueue_steps(step_ids: list[int]) -> None:
    """One job per batch: a job per server would cost a worker fork each. Batches are split evenly over
    the workers listening now, so a fan-out of 100 keeps every worker busy once, not one worker 10 times."""
    ids = sorted(step_ids)
    queue = django_rq.get_queue(QUEUE)
    workers = max(1, Worker.count(connection=queue.connection, queue=queue))
    size = max(1, min(max_batch(), math.ceil(len(ids) / workers)))
    for i in range(0, len(ids), size):
        queue.enqueue(RUN_STEPS, ids[i:i + size], job_timeout=int(lease_seconds() * 10), result_ttl=300)


def wake_poller() -> None:
    conn = django_rq.get_connection(QUEUE)
    conn.lpush(WAKE_KEY, "1")
    conn.ltrim(WAKE_KEY, 0, 0)
    if conn.set(POLLER_LOCK, "queued", nx=True, ex=int(hold_seconds() + 60)):
        django_rq.get_queue(QUEUE).enqueue(POLL_DUE, job_timeout=int(hold_seconds() * 20 + 600), result_ttl=60)
