"""GET /api/v1/rpo/ for every customer database, as a monitor reads it (issue 17):

    BENCH_SCALE=10 BENCH_ONLY=rpo_api python -m bench

- rpo_api_all_s: the whole answer (50,000 databases at 1x, 500,000 at 10x) read over HTTP from one web server
  worker, from the request to the last byte, median of 3; target 2 s at 1x, 10 s at 10x;
- rpo_api_worker_peak_mb: the worker's peak resident memory (VmHWM) after those requests, and in the note how
  much it grew during them: the answer is streamed from a cursor PostgreSQL holds, so a worker's memory must
  not grow with the number of databases (target: the web worker's 300 MB, and growth under 32 MB).
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from bench import _scale
from bench.backups_bench import seed
from bench.memory import rss_mb
from drportal.cloud.devpeers import free_port

ROOT = Path(__file__).resolve().parent.parent
TARGET_S = {1: 2.0, 3: 6.0, 10: 10.0}
TARGET_PEAK_MB, TARGET_GROWTH_MB = 300.0, 32.0
BENCH_USER = "bench-rpo-reader"


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "drportal.settings")
    import django

    django.setup()


def session_cookie() -> str:
    from django.contrib.auth.models import User
    from django.test import Client

    from drportal.accounts.access import Role
    from drportal.accounts.roles import grant

    user, created = User.objects.get_or_create(username=BENCH_USER)
    if created:
        user.set_unusable_password()
        user.save()
        grant(user, Role.MANAGER)
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def peak_mb(pid: int) -> float:
    """VmHWM: the most resident memory the process ever had."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for pid {pid}")


def start_worker(port: int) -> subprocess.Popen:
    """The web server as production runs it (drportal/serve.py, no access log), with one worker process."""
    from drportal import serve

    env = os.environ | {"PYTHONPATH": str(ROOT), "DEBUG": "false", "LOG_LEVEL": "WARNING"}
    server = subprocess.Popen(  # noqa: S603 - our interpreter, fixed arguments
        serve.command("127.0.0.1", port, workers=1),
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
            return server
        except urllib.error.HTTPError:
            return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError("the web server did not start")


def worker_pid(master: int) -> int:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return int(children[0])


def read_all(url: str, cookie: str) -> tuple[float, bytes]:
    request = urllib.request.Request(url, headers={"Cookie": f"sessionid={cookie}"})  # noqa: S310
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=300) as answer:  # noqa: S310 - our own server
        chunks = []
        while chunk := answer.read(1 << 20):
            chunks.append(chunk)
    return time.perf_counter() - started, b"".join(chunks)


def run() -> list[dict]:
    setup_django()
    seed()
    scale = _scale.scale()
    cookie = session_cookie()
    port = free_port()
    server = start_worker(port)
    try:
        pid = worker_pid(server.pid)
        url = f"http://127.0.0.1:{port}/api/v1/rpo/"
        # A first page view: the worker's ordinary footprint, before the big answer.
        read_all(f"http://127.0.0.1:{port}/", cookie)
        before_peak, before_rss = peak_mb(pid), rss_mb(pid)
        times, body = [], b""
        for _ in range(3):
            took, body = read_all(url, cookie)
            times.append(took)
        after_peak = peak_mb(pid)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    answer = json.loads(body)
    count, listed = answer["count"], len(answer["databases"])
    seconds, growth = statistics.median(times), after_peak - before_peak
    target = TARGET_S[scale]
    whole = count == listed >= _scale.databases()
    return [
        {"name": "rpo_api_all_s", "value": round(seconds, 2), "unit": "s", "target": f"<= {target}",
         "met": seconds <= target and whole,
         "note": f"{count} databases listed ({listed} in the body, {len(answer['customers'])} customers), "
                 f"{len(body) / 2**20:.1f} MB streamed; runs {', '.join(f'{t:.2f}' for t in times)} s"},
        {"name": "rpo_api_worker_peak_mb", "value": round(after_peak, 1), "unit": "MB",
         "target": f"<= {TARGET_PEAK_MB:.0f}, growth <= {TARGET_GROWTH_MB:.0f}",
         "met": after_peak <= TARGET_PEAK_MB and growth <= TARGET_GROWTH_MB,
         "note": f"worker RSS {before_rss:.1f} MB (peak {before_peak:.1f}) before, peak {after_peak:.1f} MB after: "
                 f"grew {growth:.1f} MB for a {len(body) / 2**20:.1f} MB answer"},
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
