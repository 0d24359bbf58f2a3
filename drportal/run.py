"""`make run`: the whole product on one machine with nothing installed but Python wheels.

Starts (or reuses) the embedded PostgreSQL and Redis unless DATABASE_URL / REDIS_URL are set, migrates,
loads the demo data of both seed companies, then runs an RQ worker, the scheduler and gunicorn side by
side, and prints a login. Ctrl-C stops the three processes; the embedded servers keep their data in var/
(`make clean-var` removes it).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from drportal.lib import embedded

BASE = Path(__file__).resolve().parent.parent


def manage(*args: str) -> list[str]:
    return [sys.executable, str(BASE / "manage.py"), *args]


def main() -> int:
    port = os.environ.get("PORT", "8000")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "drportal.settings")
    # Computed once here and handed to every child, so they never race to start the same server.
    if not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = embedded.postgres_url()
    if not os.environ.get("REDIS_URL"):
        os.environ["REDIS_URL"] = embedded.redis_url()
    os.environ.setdefault("SITE_URL", f"http://127.0.0.1:{port}")

    subprocess.run(manage("migrate", "--noinput", "-v", "0"), check=True)  # noqa: S603
    subprocess.run(manage("load_demo"), check=True)  # noqa: S603

    import django
    from django.core.management import get_commands

    django.setup()
    children = [subprocess.Popen(manage("rqworker", "high", "default", "low", "--with-scheduler"))]  # noqa: S603
    commands = get_commands()
    if "scheduler" in commands:
        children.append(subprocess.Popen(manage("scheduler")))  # noqa: S603
    if "serve_sim_dns" in commands:
        # The simulated cloud's authoritative DNS, so the demo's propagation checks ask a real server.
        children.append(subprocess.Popen(manage("serve_sim_dns")))  # noqa: S603
    children.append(
        subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "gunicorn", "drportal.wsgi:application", "--bind", f"127.0.0.1:{port}",
             "--workers", "2", "--threads", "4", "--access-logfile", "-", "--graceful-timeout", "5"],
        )
    )

    def stop(*_):
        for child in children:
            if child.poll() is None:
                child.terminate()
        deadline = time.monotonic() + 10
        for child in children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"\ndrportal is running at http://127.0.0.1:{port}/ (worker, scheduler and web server started)")
    while True:
        for child in children:
            if child.poll() is not None:
                print(f"a drportal process exited ({child.args[2:4]}, code {child.returncode}); stopping")
                stop()
        time.sleep(1)


if __name__ == "__main__":
    sys.exit(main())
