"""`manage.py demo_agents`: the demo's backup agents. `make run` keeps it running so a demo left on for a week
still shows today's truth: every interval it reports each policy's scheduled runs that have come due since the
last report (the demo history of backups/demo.py, whose record ids make a second report of a run a no-op), so
after a pause (a laptop asleep, make run stopped) it catches up at once. A reported dump is also written to the
demo's Cloud Files stand-in, so a restore finds the dump the dashboard counts."""

from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand
from django.db import close_old_connections, connection

from drportal.lib import clock


class Command(BaseCommand):
    help = "Simulated backup agents for the demo: report each policy's due runs every interval (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=60.0, help="seconds between reports")
        parser.add_argument("--once", action="store_true")

    def handle(self, *args, interval: float, once: bool, **options):
        from backups import demo

        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        while not stop.is_set():
            try:
                created = demo.load(clock.now())  # each reported dump lands in the Cloud Files stand-in too
            except Exception as exc:  # the database may be restarting: report again next round
                reason = (str(exc).strip().splitlines() or [repr(exc)])[0]
                self.stderr.write(f"demo agents: could not report ({reason}); trying again in {interval:g} s")
                if once:
                    raise
                connection.close()
            else:
                if created:
                    self.stdout.write(f"demo agents: reported {created} backup run(s)")
            if once:
                return
            stop.wait(interval)
            close_old_connections()
