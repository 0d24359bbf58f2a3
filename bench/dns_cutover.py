"""Benchmark: cut over 200 DNS records on a real PowerDNS and verify them all visible (target ≤ 10 s).

    DATABASE_URL=... python -m bench.dns_cutover

Runs the dns_cutover and verify_dns_propagation actions exactly as the runbook engine calls them, against a
PowerDNS started on free ports; the database rows it needs are rolled back at the end.
"""

from __future__ import annotations

import os
import time

RECORDS = 200
TARGET_S = 10.0


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "drportal.settings")
    import django

    django.setup()


class _Rollback(Exception):
    pass


def run() -> list[dict]:
    _setup_django()
    from django.db import transaction

    from drportal.cloud import devpeers
    from drportal.cloud.actions.base import REGISTRY, StepContext
    from drportal.inventory.models import Provider, ProviderAccount

    if not devpeers.pdns_available():
        return [{"name": "dns_cutover_200_s", "value": None, "unit": "s", "target": TARGET_S, "met": False,
                 "note": "pdns_server is not installed"}]
    pdns = devpeers.start_powerdns()
    domain = "bench.test."
    try:
        pdns.create_zone(domain, [(f"h{i}.{domain}", "A", f"203.0.113.{i % 250 + 1}", 3600) for i in range(RECORDS)])
        records = [{"name": f"h{i}", "values": [f"198.51.{100 + i // 250}.{i % 250 + 1}"]} for i in range(RECORDS)]
        result: dict = {}
        try:
            with transaction.atomic():
                provider = Provider.objects.create(slug="bench-pdns", name="bench", kind="other")
                account = ProviderAccount.objects.create(
                    provider=provider, name="bench-pdns", driver="powerdns",
                    options={"host": "127.0.0.1", "port": pdns.api_port, "dns_port": pdns.dns_port})
                account.set_credentials({"key": pdns.api_key})
                account.save()
                params = {"account": account.name, "zone": domain, "records": records, "ttl": 60}
                started = time.perf_counter()
                cut = REGISTRY["dns_cutover"].execute(StepContext("bench-cut", dict(params), {}))
                verify_ctx = StepContext("bench-verify", dict(params), {})
                polls = 0
                while True:
                    polls += 1
                    outcome = REGISTRY["verify_dns_propagation"].execute(verify_ctx)
                    if outcome.done or time.perf_counter() - started > 60:
                        break
                elapsed = time.perf_counter() - started
                result = {"elapsed": elapsed, "changed": len(cut.output["changed"]), "done": outcome.done,
                          "agreeing": outcome.output["agreeing"], "polls": polls}
                raise _Rollback
        except _Rollback:
            pass
    finally:
        pdns.stop()
    met = result["done"] and result["changed"] == RECORDS and result["elapsed"] <= TARGET_S
    return [{"name": "dns_cutover_200_s", "value": round(result["elapsed"], 3), "unit": "s", "target": TARGET_S,
             "met": bool(met), "note": f"{result['changed']} record sets changed, {result['agreeing']} answers "
                                       f"verified in {result['polls']} poll(s)"}]


if __name__ == "__main__":
    for row in run():
        print(row)
