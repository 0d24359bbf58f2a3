"""Driving the real `make run` (python -m drportal.run) from tests: its var/ in a temporary directory (so its own
embedded PostgreSQL and Redis), its own ports, and ways to read its state from outside."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
import requests

from drportal.cloud.devpeers import free_port

ROOT = Path(__file__).resolve().parents[2]


def wait_for(predicate, timeout: float, what: str, every: float = 0.2):
    """A bounded wait, not a speed assertion: fails only when `what` never happens within `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except (OSError, requests.RequestException, psycopg.Error, ValueError):
            value = None
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"{what} did not happen within {timeout:g} s")


@dataclass
class MakeRun:
    var: Path
    port: int
    process: subprocess.Popen | None = None
    log_path: Path | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "EMAIL_HOST",
                                                                 "EMAIL_PORT", "SMS_GATEWAY_URL",
                                                                 "DRPORTAL_DEMO_DIR")}
        env.update(DRPORTAL_VAR_DIR=str(self.var), PORT=str(self.port), SIM_DNS_PORT=str(free_port()),
                   PYTHONUNBUFFERED="1",
                   # A step whose worker was killed is taken up again after 5 s instead of a minute.
                   SCENARIOS_LEASE_SECONDS="5")
        return env

    def start(self) -> None:
        self.log_path = self.var / f"make-run-{int(time.time() * 1000)}.log"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "drportal.run"], cwd=ROOT, env=self.env(), stdout=self.log_path.open("wb"),
            stderr=subprocess.STDOUT, start_new_session=True)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def status(self) -> dict[str, int | None]:
        return json.loads((self.var / "make-run.json").read_text())["processes"]

    def healthy(self) -> bool:
        return requests.get(f"{self.base}/healthz", timeout=2).status_code == 200

    def wait_until_up(self, timeout: float = 300) -> None:
        def up() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"make run exited with {self.process.returncode}:\n{self.log()[-3000:]}")
            status = self.status()
            return all(status.values()) and self.healthy()

        wait_for(up, timeout, "make run serving with every process up", every=0.5)

    def stop(self, within: float = 60) -> int:
        """SIGTERM to the process group, as a terminal's Ctrl-C or a service manager does; `within` is the
        promise of drportal/run.py (STOP_S), not a measurement."""
        os.killpg(self.process.pid, signal.SIGTERM)
        return self.process.wait(timeout=within)

    def manage(self, *args: str, stdin: str = "") -> str:
        done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env(), input=stdin,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    def sql(self, query: str, params: tuple = ()) -> list[tuple]:
        lines = (self.var / "pgdata" / "postmaster.pid").read_text().splitlines()
        with psycopg.connect(host=lines[4], port=int(lines[3]), user="postgres", dbname="postgres",
                             connect_timeout=3) as conn:
            return conn.execute(query, params).fetchall()

    def password(self) -> str:
        return (self.var / "demo_password").read_text().strip()

    def session(self, username: str) -> requests.Session:
        session = requests.Session()
        page = session.get(f"{self.base}/login/", timeout=10)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        answer = session.post(f"{self.base}/login/", data={"username": username, "password": self.password(),
                                                           "csrfmiddlewaretoken": token},
                              headers={"Referer": f"{self.base}/login/"}, timeout=10)
        assert answer.url.rstrip("/") == self.base, f"{username} could not sign in"
        return session


def post_form(session: requests.Session, page_url: str, action: str, data: dict) -> requests.Response:
    """Submit a form the way the browser does: with the CSRF token of the page it is on."""
    page = session.get(page_url, timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    return session.post(action, data={**data, "csrfmiddlewaretoken": token}, headers={"Referer": page_url},
                        timeout=30)


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def processes_using(var: Path) -> list[str]:
    """Every process on the machine that belongs to this make run: started with its var/ in its environment or
    on its command line (the embedded servers name their data directory)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if not alive(int(entry.name)):
            continue
        if str(var) in cmdline or f"DRPORTAL_VAR_DIR={var}".encode() in environ:
            found.append(f"{entry.name}: {cmdline[:200]}")
    return found
