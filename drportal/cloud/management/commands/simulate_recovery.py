from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError

from drportal.cloud.actions.base import REGISTRY, StepContext
from drportal.cloud.adapters import dnsserver
from drportal.cloud.adapters.errors import AdapterError
from drportal.lib import clock


class Command(BaseCommand):
    help = ("Recover one server end to end on the simulated cloud, as a drill: provision from its newest image, "
            "move its IP or cut DNS over, verify propagation on a real (in-process) DNS server. "
            "Production inventory is never changed. Needs `manage.py load_demo` first.")

    def add_arguments(self, parser):
        parser.add_argument("server")
        parser.add_argument("--region", default="", help='inventory region to recover into, e.g. "rackspace/mci"')
        parser.add_argument("--dns-account", default="demo-dns")

    def handle(self, *args, server: str, region: str, dns_account: str, **options):
        dns = dnsserver.start("127.0.0.1", 0)
        key = f"sim-{server}-{int(clock.now().timestamp())}"
        started = time.monotonic()
        try:
            node = self.step("provision_from_image", f"{key}-provision", {"server": server, "region": region})
            moved = self.step("transfer_ip", f"{key}-ip", {"server": server, "node_id": node["node_id"]})
            addresses = node["public_ips"]
            if moved.get("handover") == "dns_cutover":
                self.step("dns_cutover", f"{key}-dns", {"server": server, "account": dns_account,
                                                        "addresses": addresses, "ttl": 60})
                self.step("verify_dns_propagation", f"{key}-verify", {
                    "server": server, "account": dns_account, "addresses": addresses,
                    "authoritative": [f"127.0.0.1:{dns.port}"]})
        except AdapterError as exc:
            raise CommandError(str(exc)) from None
        finally:
            dns.stop()
        self.stdout.write(f"recovered {server} in {time.monotonic() - started:.1f} s (simulated)")

    def step(self, name: str, key: str, params: dict) -> dict:
        ctx = StepContext(idempotency_key=key, params=params, state={}, drill=True)
        for line in REGISTRY[name].plan(ctx):
            self.stdout.write(f"[{name}] plan: {line}")
        while True:
            outcome = REGISTRY[name].execute(ctx)
            for line in ctx.log:
                self.stdout.write(f"[{name}] {line}")
            ctx.log.clear()
            if outcome.done:
                return {**outcome.output, "handover": outcome.handover}
            time.sleep(min(outcome.poll_after, 2.0))
