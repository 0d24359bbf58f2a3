"""`manage.py serve_standin_databases`: the demo's database servers on its simulated replacements. Every few
seconds, each live simulated node of a database server (one a customer database is restored onto) that has a
loopback address gets a PostgreSQL of its own listening there (drportal.lib.standin_pg); a terminated node's is
stopped. `make run` keeps it running; on SIGTERM it stops every one it keeps."""

from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from drportal.lib import standin_pg


def database_node_addresses() -> set[str]:
    """The loopback addresses of the live simulated nodes standing in for database servers."""
    from drportal.cloud.models import SimNode
    from drportal.inventory.models import Asset

    names = set(Asset.objects.exclude(restore={}).exclude(server=None).values_list("server__name", flat=True))
    rows = SimNode.objects.filter(terminated_at__isnull=True, name__in=names).values_list("private_ip", flat=True)
    return {ip for ip in rows if ip and ip.startswith("127.")}


def reconcile() -> list[str]:
    return standin_pg.reconcile_nodes(database_node_addresses())


class Command(BaseCommand):
    help = "Give each simulated database-server node on a loopback address a PostgreSQL of its own (the demo)."

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=2.0, help="seconds between looks")

    def handle(self, *args, interval: float, **options):
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        try:
            while not stop.is_set():
                try:
                    for change in reconcile():
                        self.stdout.write(f"stand-in database servers: {change}")
                except Exception as exc:  # noqa: BLE001 - the database may be restarting: look again next round
                    reason = (str(exc).strip().splitlines() or [repr(exc)])[0]
                    self.stderr.write(f"stand-in database servers: {reason}; looking again in {interval:g} s")
                stop.wait(interval)
                close_old_connections()
        finally:
            standin_pg.stop_all()
