"""`manage.py scheduler`: enqueue due pollers, sweeps and verifications on RQ, every minute. Safe to run twice
(see backups/scheduler.py)."""

from __future__ import annotations

import signal
import time

from django.core.management.base import BaseCommand, CommandError

from backups import scheduler
from drportal.lib import clock


class Command(BaseCommand):
    help = "Compute due runs with croniter and enqueue them on RQ (one row per run: two schedulers never double up)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--once", action="store_true", help="tick once and exit")
        parser.add_argument("--interval", type=float, default=15.0, help="seconds between ticks")
        parser.add_argument("--check", action="store_true",
                            help="exit 0 if a scheduler ticked in the last 3 minutes, 1 otherwise (health check)")

    def handle(self, *args, once: bool = False, interval: float = 15.0, check: bool = False, **options) -> None:
        if check:
            if not scheduler.healthy(clock.now()):
                raise CommandError("no scheduler has ticked in the last 3 minutes")
            self.stdout.write("ok")
            return
        stopping = False

        def stop(signum, frame) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        while True:
            ids = scheduler.tick(clock.now())
            if ids or once:
                self.stdout.write(f"enqueued {len(ids)} run(s): {', '.join(map(str, ids)) or '-'}")
            if once or stopping:
                return
            # Sleep in short steps so SIGTERM stops the loop promptly.
            deadline = time.monotonic() + interval
            while time.monotonic() < deadline and not stopping:
                time.sleep(0.5)
            if stopping:
                return
