from __future__ import annotations

from django.core.management.base import BaseCommand

from drportal.cloud.adapters import dnsserver
from drportal.cloud.demo import sim_dns_port
from drportal.lib.stopping import wait_for_stop


class Command(BaseCommand):
    help = "Serve the simulated cloud's DNS zones (from PostgreSQL) over UDP for the demo and drills."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=None, help="default: SIM_DNS_PORT or 5354")

    def handle(self, *args, host: str, port: int | None, **options):
        server = dnsserver.start(host, port or sim_dns_port())
        self.stdout.write(f"simulated DNS answering on {server.host}:{server.port}")
        try:
            wait_for_stop()
        finally:
            server.stop()
