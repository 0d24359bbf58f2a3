"""`manage.py scenarios_reconcile [--loop SECONDS]`: requeue steps of dead workers, re-enqueue jobs a
restarted Redis lost, serve due waits and polls. Run it from the scheduler service (every 15 s, say)."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand

from scenarios import jobs


class Command(BaseCommand):
    help = "Repair runs after dead workers or a Redis restart; safe to run at any time."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--loop", type=float, default=0, help="repeat every SECONDS (default: once)")

    def handle(self, *args, loop: float, **options) -> None:
        while True:
            result = jobs.reconcile()
            if any(result.values()):
                self.stdout.write(", ".join(f"{k} {v}" for k, v in result.items()))
            if not loop:
                return
            time.sleep(loop)
