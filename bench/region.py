"""A whole region at once (issue 17): the exposure page, and the audience of a customer notice for an incident
that takes a region down.

    BENCH_SCALE=10 BENCH_ONLY=region python -m bench

- exposure_page_p95_ms: GET /backups/exposure/ (?scope=region and ?scope=zone, first and last page), 10 renders
  each, the slowest p95, with its query count; target 1 s (1,000 ms), the same query count at every scale;
- region_audience_s: for an incident declared on the first bench region (a quarter of the data set: 12,500
  customers at 10x), creating its outage notice, which computes and stores the audience
  (notices.create_notice -> recompute_audience); median of 3; target 1 s. The declaration's own scope
  resolution is timed in the note. Each trial runs in a transaction rolled back at its end, so no incident is
  left open: an open incident would take the region's zones down for every other benchmark and the sweep.
"""

from __future__ import annotations

import statistics
import time

from bench import _scale
from bench.backups_bench import seed
from bench.rpo_api import setup_django

RUNS = 10
TARGET_MS, TARGET_S = 1000.0, 1.0


class Rollback(Exception):
    """Raised to leave a trial's transaction without keeping anything."""


def _client():
    from django.contrib.auth.models import User
    from django.test import Client

    from drportal.accounts.roles import grant

    user, created = User.objects.get_or_create(username="bench-region-admin")
    if created:
        grant(user, "admin")
    client = Client()
    client.force_login(user)
    return user, client


def _counter(into: list[str]):
    def count(execute, sql, params, many, context):
        into.append(sql)
        return execute(sql, params, many, context)

    return count


def exposure_pages(client) -> dict[str, tuple[float, int]]:
    from django.db import connection

    from backups.models import CustomerExposure
    from backups.views import PAGE

    urls = []
    for scope in ("region", "zone"):
        last = max(1, -(-CustomerExposure.objects.filter(scope=scope).count() // PAGE))
        urls += [f"/backups/exposure/?scope={scope}", f"/backups/exposure/?scope={scope}&page={last}"]
    found = {}
    for url in urls:
        queries: list[str] = []
        with connection.execute_wrapper(_counter(queries)):
            assert client.get(url).status_code == 200
        times = []
        for _ in range(RUNS):
            started = time.perf_counter()
            client.get(url)
            times.append((time.perf_counter() - started) * 1000)
        found[url] = (statistics.quantiles(times, n=20)[18], len(queries))
        print(f"  {found[url][0]:8.1f} ms  {found[url][1]:3d} queries  {url}", flush=True)
    return found


def audience_trial(user, region) -> tuple[float, float, int]:
    from django.db import transaction

    from drportal.incidents import services
    from notifications import notices
    from notifications.choices import NoticeKind

    result: tuple[float, float, int] = (0.0, 0.0, 0)
    try:
        with transaction.atomic():
            started = time.perf_counter()
            incident = services.declare(user, title="bench: region offline", severity="sev1",
                                        disaster_class="datacenter_offline", public_summary="Service interruption",
                                        impacted={"regions": [region]})
            declared = time.perf_counter() - started
            started = time.perf_counter()
            notice = notices.create_notice(user, incident, NoticeKind.OUTAGE_DECLARED)
            took = time.perf_counter() - started
            result = (declared, took, notice.recipients.count())
            raise Rollback
    except Rollback:
        pass
    return result


def run() -> list[dict]:
    setup_django()
    seed()
    from drportal.inventory.models import Region

    user, client = _client()
    pages = exposure_pages(client)
    slowest = max(pages, key=lambda u: pages[u][0])
    p95, queries = pages[slowest]
    region = Region.objects.filter(provider__slug="bench").order_by("id").first()
    trials = [audience_trial(user, region) for _ in range(3)]
    audience_s = statistics.median(t[1] for t in trials)
    recipients = trials[0][2]
    # A region is a quarter of the bench customers; every one of them has a database there.
    whole = recipients >= _scale.customers() // 4
    return [
        {"name": "exposure_page_p95_ms", "value": round(p95, 1), "unit": "ms", "target": f"<= {TARGET_MS:.0f}",
         "met": p95 <= TARGET_MS, "queries": queries,
         "note": "; ".join(f"{u} {t:.1f} ms, {q} queries" for u, (t, q) in pages.items())},
        {"name": "region_audience_s", "value": round(audience_s, 3), "unit": "s", "target": f"<= {TARGET_S:.0f}",
         "met": audience_s <= TARGET_S and whole,
         "note": f"{recipients} recipients for {region}; declaring (scope resolution) took "
                 f"{statistics.median(t[0] for t in trials):.2f} s (median of 3)"},
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
