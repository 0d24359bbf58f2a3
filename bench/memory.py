"""Benchmark web_rss_mb: the resident memory of one web server worker after it served every staff page a few
times on the benchmark database (target ≤ 300 MB, issue 8).

    DATABASE_URL=... REDIS_URL=... BENCH_ONLY=memory python -m bench

Runs last in `make bench`, so the pages render over the data the other benchmarks seeded (2,000,000 backup
records, their runs and drills). Pages are found in the URL table: every GET page of a staff namespace without
parameters, and the detail pages with the first object of their kind. The worker's RSS is read from /proc.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from drportal.cloud.devpeers import free_port

ROOT = Path(__file__).resolve().parent.parent
TARGET_MB = 300.0
ROUNDS = 3
BENCH_USER = "bench-memory-admin"
# Not pages a person browses: APIs, downloads, the admin and the queue dashboard (other apps' memory).
SKIP_NAMESPACES = ("admin", "django_rq", "api")
SKIP_NAMES = {"login", "logout", "healthz"}


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "drportal.settings")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()



def _first(model_path: str, field: str = "pk"):
    from django.apps import apps

    app_label, name = model_path.split(".")
    try:
        model = apps.get_model(app_label, name)
    except LookupError:
        return None
    return model.objects.order_by("pk").values_list(field, flat=True).first()


# Detail pages: URL name -> how to find a real argument in the benchmark database.
DETAIL = {
    "inventory:server": lambda: _first("inventory.Server"),
    "inventory:customer": lambda: _first("inventory.Customer"),
    "incidents:detail": lambda: _first("incidents.Incident"),
    "backups:asset": lambda: _first("inventory.Asset"),
    "backups:policy": lambda: _first("backups.BackupPolicy"),
    "scenarios:run": lambda: _first("scenarios.Run"),
}


def staff_pages() -> list[str]:
    """GET pages of the staff interface, as paths."""
    from django.urls import URLPattern, URLResolver, get_resolver, reverse
    from django.urls.exceptions import NoReverseMatch

    def walk(patterns, namespace: str = ""):
        for entry in patterns:
            if isinstance(entry, URLResolver):
                inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
                yield from walk(entry.url_patterns, inner)
            elif isinstance(entry, URLPattern) and entry.name:
                yield f"{namespace}{entry.name}", entry

    paths: list[str] = []
    for name, pattern in walk(get_resolver().url_patterns):
        if name in SKIP_NAMES or name.split(":", 1)[0] in SKIP_NAMESPACES:
            continue
        converters = getattr(pattern.pattern, "converters", {})
        try:
            if not converters and not pattern.pattern.regex.groupindex:
                paths.append(reverse(name))
            elif name in DETAIL and len(converters) == 1:
                value = DETAIL[name]()
                if value is not None:
                    paths.append(reverse(name, args=[value]))
        except NoReverseMatch:
            continue
    from scenarios import loader

    shipped = sorted(loader.library().scenarios)
    if shipped:
        paths.append(reverse("scenarios:detail", args=[shipped[0]]))
    return sorted(set(paths))


def _session_cookie() -> str:
    from django.contrib.auth.models import User
    from django.test import Client

    from drportal.accounts.access import Role
    from drportal.accounts.roles import grant

    user, created = User.objects.get_or_create(username=BENCH_USER, defaults={"email": "bench@example.invalid"})
    if created:
        user.set_unusable_password()
        user.save()
        grant(user, Role.ADMIN)
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def _server(port: int) -> subprocess.Popen:
    """The web server as production runs it (drportal/serve.py), with one worker process."""
    from drportal import serve

    env = os.environ | {"PYTHONPATH": str(ROOT), "DEBUG": "false", "LOG_LEVEL": "WARNING"}
    return subprocess.Popen(  # noqa: S603 - our interpreter, fixed arguments
        serve.command("127.0.0.1", port, workers=1),
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def _get(url: str, cookie: str) -> int:
    request = urllib.request.Request(url, headers={"Cookie": f"sessionid={cookie}"})  # noqa: S310 - our own server
    try:
        with urllib.request.urlopen(request, timeout=120) as answer:  # noqa: S310
            answer.read()
            return answer.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _worker_pid(master: int) -> int | None:
    for task in Path(f"/proc/{master}/task").iterdir():
        children = (task / "children").read_text().split()
        if children:
            return int(children[0])
    return None


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def run() -> list[dict]:
    _setup_django()
    pages = staff_pages()
    cookie = _session_cookie()
    port = free_port()
    server = _server(port)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=2)  # noqa: S310
                break
            except urllib.error.HTTPError:
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("the web server did not start") from None
                time.sleep(0.2)
        worker = _worker_pid(server.pid)
        start = rss_mb(worker)
        statuses: dict[str, int] = {}
        for _ in range(ROUNDS):
            for path in pages:
                statuses[path] = _get(base + path, cookie)
        after = rss_mb(worker)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
    ok = sum(1 for s in statuses.values() if s == 200)
    odd = {p: s for p, s in statuses.items() if s != 200}
    note = (f"1 sync worker, {len(pages)} staff pages × {ROUNDS} ({ok} answered 200); RSS {start:.0f} MB after "
            f"start-up" + (f"; not 200: {odd}" if odd else ""))
    value = round(after, 1)
    return [{"name": "web_rss_mb", "value": value, "unit": "MB", "target": f"≤ {TARGET_MB:g}",
             "met": value <= TARGET_MB and ok > 0, "note": note}]


if __name__ == "__main__":
    for row in run():
        print(row)
