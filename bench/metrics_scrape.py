"""Time to scrape /metrics at the benchmark data set (issue 14): 50,000 customer databases, 105,000
policy-asset pairs, 2,000,000 backup records at 1x, ten times that at BENCH_SCALE=10 (seeded by
bench/backups_bench.py, reused when present). The answer is bounded (METRICS_PAIR_LIMIT pairs named one by
one, every pair counted by the sweep's stored counts), so its samples do not grow with the scale.

    BENCH_ONLY=metrics_scrape make bench

metrics_scrape_s: GET /metrics in-process (Django test client, the same view the web server serves), median of 3.
"""

from __future__ import annotations

import statistics
import time


def run() -> list[dict]:
    from bench.backups_bench import _setup_django, seed

    _setup_django()
    from django.db import connection
    from django.test import Client, override_settings
    from django.test.utils import CaptureQueriesContext
    from prometheus_client.parser import text_string_to_metric_families

    seed()
    from backups.sweep import store_counts

    store_counts()  # a data set swept before the sweep stored the breakdowns /metrics reads (untimed)
    token = "bench-metrics-token"  # noqa: S105 - a token for this in-process client only
    client = Client()
    times, size, series = [], 0, 0
    with override_settings(METRICS_TOKEN=token):
        client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}")
        for _ in range(3):
            started = time.perf_counter()
            response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}")
            times.append(time.perf_counter() - started)
            assert response.status_code == 200, response.status_code
        size = len(response.content)
        series = sum(len(f.samples) for f in text_string_to_metric_families(response.content.decode()))
        with CaptureQueriesContext(connection) as queries:
            client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}")
    value = statistics.median(times)
    return [{"name": "metrics_scrape_s", "value": round(value, 3), "unit": "s", "target": 1, "met": value <= 1,
             "note": f"{series} samples, {size / 1e6:.1f} MB, {len(queries)} queries"}]
