"""BENCH_SCALE: how large the benchmark data set is (issue 17).

1 is the data set of issue 3 (5,000 servers, 50,000 customer databases, 2,000,000 backup records); 3 and 10
multiply every count (10: 50,000 servers, 500,000 databases, 20,000,000 records). Each scale has a database
of its own (`drportal_bench`, `drportal_bench_3`, `drportal_bench_10`), seeded once and kept, so a run at one
scale never reseeds another's.
"""

from __future__ import annotations

import os

SCALES = (1, 3, 10)


def scale() -> int:
    raw = os.environ.get("BENCH_SCALE", "1").strip() or "1"
    if not raw.isdigit() or int(raw) not in SCALES:
        raise SystemExit(f"BENCH_SCALE must be one of {', '.join(map(str, SCALES))}, not {raw!r}")
    return int(raw)


def database_name() -> str:
    return "drportal_bench" if scale() == 1 else f"drportal_bench_{scale()}"


def servers() -> int:
    return 5_000 * scale()


def customers() -> int:
    return 5_000 * scale()


def databases() -> int:
    """Customer databases: ten per customer."""
    return customers() * 10
