"""Every staff page's server time, and the weight of what each page loads (issue 7):

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/dr_ui_bench BENCH_ONLY=pages python -m bench

prints every page's p95, median and query count, slowest first. While working on some pages:
BENCH_PAGES_ONLY=/incidents/,/scenarios/ (parts of URLs), BENCH_PAGES_SKIP=..., BENCH_PAGES_RUNS=5.

- pages_p95_ms: each GET page an admin can open (every URL without parameters, plus one detail page of each
  kind with a real id), rendered 20 times in-process with Django's test client; the value is the slowest
  page's p95. Downloads (CSV, PDF, exports) are left out, as the issue says.
- page_assets_kb: the most any page loads in scripts and stylesheets (the files its <script src> and
  <link rel=stylesheet> name, read from the static directories), target ≤ 200 KB.

Data: the backups benchmark's data set (5,000 servers, 50,000 customer databases, 2,000,000 backup records;
`bench.backups_bench.seed`, reused when already seeded), plus one open incident on the first zone with its
servers and a scenario run, so the incident, run and notice pages have something real to show.
"""

from __future__ import annotations

import os
import re
import statistics
import time
from pathlib import Path

from bench.backups_bench import _setup_django, seed

RUNS = int(os.environ.get("BENCH_PAGES_RUNS", "20"))
# Comma-separated parts of URLs: measure only the pages whose URL contains one (while working on a page).
ONLY = [p for p in os.environ.get("BENCH_PAGES_ONLY", "").split(",") if p]
SKIP_ALSO = [p for p in os.environ.get("BENCH_PAGES_SKIP", "").split(",") if p]
TARGET_MS, TARGET_KB = 150, 200
SKIP = ("/admin/", "/api/", "/static/", "/logout/", "/healthz", "/status/feed")
DOWNLOADS = (".csv", ".pdf", ".zip", ".atom")


def _admin_client():
    from django.contrib.auth.models import User
    from django.test import Client

    from drportal.accounts.roles import grant

    user, created = User.objects.get_or_create(username="bench-admin")
    if created:
        grant(user, "admin")
    client = Client()
    client.force_login(user)
    return client


def _incident():
    """One open incident with a run, made once (found again by title on later runs)."""
    from drportal.incidents import services
    from drportal.incidents.models import Incident
    from drportal.inventory.models import Server, Zone

    found = Incident.objects.filter(title="bench: zone offline").first()
    if found:
        return found
    from django.contrib.auth.models import User

    actor = User.objects.get(username="bench-admin")
    zone = Zone.objects.order_by("id").first()
    # 20 crashed servers, not their zone: a zone-wide class now takes every server of the zone (about 400
    # here, with 4,000 databases), and the pages measured are those of a run of ordinary size.
    incident = services.declare(actor, title="bench: zone offline", severity="sev1",
                                disaster_class="server_crash", public_summary="Service interruption",
                                impacted={"servers": list(Server.objects.filter(zone=zone)[:20])})
    from scenarios import engine, loader

    scenario = loader.library().get("jivosoft-datacenter-offline")
    if scenario is not None:
        engine.start_run(incident, scenario, actor)
    return incident


def page_urls() -> list[str]:
    from django.urls import reverse
    from django.urls.exceptions import NoReverseMatch

    from drportal.inventory.models import Asset, Customer, Server
    from tests.accounts.test_role_matrix import ALL_URLS

    urls = []
    for name, pattern in ALL_URLS:
        if getattr(pattern.pattern, "converters", {}) or pattern.pattern.regex.groupindex:
            continue
        try:
            urls.append(reverse(name))
        except NoReverseMatch:
            continue
    incident = _incident()
    details = {
        "incidents:detail": incident.pk,
        "inventory:server": Server.objects.order_by("id").values_list("pk", flat=True).first(),
        "inventory:customer": Customer.objects.order_by("id").values_list("pk", flat=True).first(),
        "backups:asset": Asset.objects.filter(backup_pairs__isnull=False).order_by("id")
        .values_list("pk", flat=True).first(),
    }
    for name, pk in details.items():
        if pk is not None:
            try:
                urls.append(reverse(name, args=[pk]))
            except NoReverseMatch:
                pass
    run = getattr(incident, "scenario_run", None)
    if run is not None:
        urls.append(reverse("scenarios:run", args=[run.pk]))
        urls.append(reverse("scenarios:run-live", args=[run.pk]))
    urls.append(reverse("scenarios:detail", args=["jivosoft-datacenter-offline"]))
    return [u for u in dict.fromkeys(urls) if not u.startswith(SKIP) and not u.endswith(DOWNLOADS)]


def asset_kb(html: str) -> float:
    """Kilobytes of the scripts and stylesheets a page names, read from the static files on disk."""
    from django.conf import settings
    from django.contrib.staticfiles import finders

    names = re.findall(r'<script[^>]+src="([^"]+)"', html)
    names += re.findall(r'<link[^>]+rel="stylesheet"[^>]+href="([^"]+)"', html)
    names += re.findall(r'<link[^>]+href="([^"]+)"[^>]+rel="stylesheet"', html)
    total = 0
    for url in set(names):
        if not url.startswith(settings.STATIC_URL):
            continue
        found = finders.find(url.removeprefix(settings.STATIC_URL).split("?")[0])
        if found:
            total += Path(found).stat().st_size
    return total / 1024


def _counter(into: list[str]):
    def count(execute, sql, params, many, context):
        into.append(sql)
        return execute(sql, params, many, context)

    return count


def measure(client, urls: list[str]) -> dict[str, dict]:
    from django.db import connection

    results: dict[str, dict] = {}
    for url in urls:
        # Counted by a wrapper: the request_started signal empties connection.queries_log, which makes
        # CaptureQueriesContext count nothing around a test-client request.
        queries: list[str] = []
        first = client.get(url)
        if first.status_code != 200:
            results[url] = {"status": first.status_code}
            continue
        # Counted on a second render: the first may compute what later views read (a run's loss window, the
        # compliance summary), and whether it does depends on what an earlier run left, not on the data's size.
        with connection.execute_wrapper(_counter(queries)):
            client.get(url)
        times = []
        for _ in range(RUNS):
            started = time.perf_counter()
            client.get(url)
            times.append((time.perf_counter() - started) * 1000)
        html = first.content.decode(errors="replace") if first["Content-Type"].startswith("text/html") else ""
        results[url] = {"status": 200, "p95_ms": statistics.quantiles(times, n=20)[18] if RUNS > 1 else times[0],
                        "median_ms": statistics.median(times), "queries": len(queries),
                        "assets_kb": asset_kb(html) if html else 0.0}
        print(f"  {results[url]['p95_ms']:8.1f} ms  {url}", flush=True)
    return results


QUERIES_FILE = Path(__file__).resolve().parent / "pages-queries.json"


def page_key(url: str) -> str:
    """A page's URL with its ids as <id>: the same page at every scale (the ids differ between databases)."""
    return re.sub(r"/\d+(?=/|$)", "/<id>", url)


def record_queries(counts: dict[str, int]) -> dict[str, tuple[int, int]]:
    """Store each page's query count at this scale in bench/pages-queries.json (other scales' kept), and
    return the pages whose count differs from 1x's: a count that grows with the data is an N+1."""
    import json

    from bench import _scale

    scale = str(_scale.scale())
    stored = json.loads(QUERIES_FILE.read_text()) if QUERIES_FILE.exists() else {}
    mine = stored.setdefault(scale, {})
    mine.update({page_key(u): n for u, n in counts.items()})
    QUERIES_FILE.write_text(json.dumps(stored, indent=2, sort_keys=True) + "\n")
    base = stored.get("1", {})
    return {page: (base[page], n) for page, n in sorted(mine.items()) if page in base and base[page] != n}


def run() -> list[dict]:
    _setup_django()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    info = seed()
    from backups.sweep import store_counts

    store_counts()  # a data set swept before the sweep stored every count the pages read
    # Start-up as a web server worker does it: drportal/wsgi.py moves what start-up built out of the garbage
    # collector's way (gc.freeze), so full collections do not walk it during a page view.
    import drportal.wsgi  # noqa: F401

    client = _admin_client()
    urls = [u for u in page_urls() if (not ONLY or any(part in u for part in ONLY))
            and not any(part in u for part in SKIP_ALSO)]
    results = measure(client, urls)
    timed = {u: r for u, r in results.items() if r.get("status") == 200}
    slowest = max(timed, key=lambda u: timed[u]["p95_ms"])
    heaviest = max(timed, key=lambda u: timed[u]["assets_kb"])
    print(f"every page, slowest first ({RUNS} timed renders each; queries of the second, untimed render):")
    print(f"  {'p95 ms':>8}  {'median':>8}  {'queries':>7}  {'assets':>9}  url")
    for url, r in sorted(timed.items(), key=lambda item: -item[1]["p95_ms"]):
        print(f"  {r['p95_ms']:8.1f}  {r['median_ms']:8.1f}  {r['queries']:7d}  {r['assets_kb']:6.1f} KB  {url}"
              f"{'  OVER' if r['p95_ms'] > TARGET_MS else ''}")
    for url, r in results.items():
        if r.get("status") != 200:
            print(f"  status {r['status']}: {url}")
    p95, kb = timed[slowest]["p95_ms"], timed[heaviest]["assets_kb"]
    over = sum(1 for r in timed.values() if r["p95_ms"] > TARGET_MS)
    grown = record_queries({u: r["queries"] for u, r in timed.items()})
    for page, (base, now_) in grown.items():
        print(f"  query count grew with the data set: {page} {base} at 1x, {now_} now (an N+1 to fix)")
    note = f"{len(timed)} pages, {over} over {TARGET_MS} ms; slowest {slowest}"
    note += f"; query count not the same as at 1x: {', '.join(grown)}" if grown else ""
    note += " (data set seeded now)" if info.get("seeded") else ""
    return [
        {"name": "pages_p95_ms", "value": round(p95, 1), "unit": "ms", "target": f"<= {TARGET_MS}, queries as at 1x",
         "met": p95 <= TARGET_MS and not grown, "queries": sum(r["queries"] for r in timed.values()),
         "note": note},
        {"name": "page_assets_kb", "value": round(kb, 1), "unit": "KB", "target": f"<= {TARGET_KB}",
         "met": kb <= TARGET_KB, "note": f"heaviest {heaviest}"},
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
