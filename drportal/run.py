"""`make run`: the whole product on one machine with nothing installed but Python wheels.

Starts (or reuses) the embedded PostgreSQL and Redis unless DATABASE_URL / REDIS_URL are set, migrates,
loads the demo data of both seed companies, then supervises the web server (granian, drportal/serve.py), an RQ
worker, the scheduler, the simulated cloud's DNS, the mail/SMS/webhook sinks and the simulated backup agents:

- a process that exits is started again after a back-off (0.5 s doubling to 15 s, reset once it has run for
  a minute) with one log line, while the others, the web server among them, keep running;
- the embedded PostgreSQL and Redis are watched the same way and started again when they die;
- Ctrl-C or SIGTERM stops every process it started, the embedded servers included, within 10 s.

Why our own loop and not supervisord or circus: both supervise a fixed list of commands from a config file,
while here the embedded servers are started through pgserver (pg_ctl daemonizes the postmaster), the sinks'
ports and the children's environment are decided at start-up, and the whole tree must go when `make run`
goes; the loop that does this is shorter than the configuration and glue either would need.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from drportal import serve
from drportal.lib import embedded

BASE = Path(__file__).resolve().parent.parent
BACKOFF = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0)
STABLE_S = 60.0  # a process that ran this long before it exited starts again at once
STOP_S = 10.0
PR_SET_PDEATHSIG, PR_SET_CHILD_SUBREAPER = 1, 36


def say(text: str) -> None:
    print(f"[make run] {text}", flush=True)


def manage(*args: str) -> list[str]:
    return [sys.executable, str(BASE / "manage.py"), *args]


def _prctl(option: int, value: int) -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)
    except (OSError, AttributeError):
        pass  # not Linux: orphans are then found by their process group only


def _child_setup() -> None:
    # Each child leads a process group of its own (granian's workers, rq's work horses join it), so one
    # killpg stops it whole; and it is told to stop if `make run` itself is killed outright.
    os.setsid()
    _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Supervised:
    """Something kept running: started again after a back-off when it is found dead."""

    name: str
    launched: bool = False
    failures: int = 0
    started: float = 0.0
    due: float = 0.0

    def alive(self) -> bool:
        raise NotImplementedError

    def launch(self) -> None:
        raise NotImplementedError

    def stop(self, deadline: float) -> None:
        raise NotImplementedError

    def pid(self) -> int | None:
        return None

    def describe_exit(self) -> str:
        return "stopped"

    def left_behind(self) -> None:
        """Called once when it is found dead, before it is started again."""

    def tend(self, now: float) -> bool:
        """Start it if it is down and its back-off has passed; True when it was (re)started."""
        if self.alive():
            if self.failures and now - self.started > STABLE_S:
                self.failures = 0
            return False
        if self.launched:
            if self.due == 0.0:
                self.left_behind()
                wait = 0.0 if now - self.started > STABLE_S else BACKOFF[min(self.failures, len(BACKOFF) - 1)]
                self.failures += 1
                self.due = now + wait
                say(f"{self.name} {self.describe_exit()}; starting it again in {wait:g} s (restart {self.failures})")
            if now < self.due:
                return False
            self.due = 0.0
        self.launched, self.started = True, now
        try:
            self.launch()
        except Exception as exc:  # noqa: BLE001 - whatever it was, the next round tries again
            say(f"{self.name} could not be started: {exc}")
            return False
        return True


@dataclass
class Child(Supervised):
    argv: list[str] = field(default_factory=list)
    process: subprocess.Popen | None = None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def launch(self) -> None:
        self.process = subprocess.Popen(self.argv, preexec_fn=_child_setup)  # noqa: S603

    def pid(self) -> int | None:
        return self.process.pid if self.alive() else None

    def describe_exit(self) -> str:
        code = self.process.returncode if self.process else None
        if code is not None and code < 0:
            return f"was killed by {signal.Signals(-code).name}"
        return f"exited with code {code}"

    def left_behind(self) -> None:
        # What its process group still holds (the web server's workers keep the port until they notice their
        # master is gone) would stand in the way of the new one.
        self.signal(signal.SIGKILL)

    def signal(self, sig: int) -> None:
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def stop(self, deadline: float) -> None:
        if self.process is None:
            return
        try:
            self.process.wait(timeout=max(0.05, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            say(f"{self.name} did not stop in time; killing it")
        self.signal(signal.SIGKILL)  # anything left in its group (a work horse, a web server's worker)
        self.process.wait()


@dataclass
class Redis(Supervised):
    process: subprocess.Popen | None = None

    def alive(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            return False
        return embedded.redis_answers()

    def launch(self) -> None:
        embedded.redis_socket().parent.mkdir(parents=True, exist_ok=True)
        # In the foreground (no --daemonize) so it is our child: its death is seen at once.
        self.process = subprocess.Popen(embedded.redis_command(daemonize=False),  # noqa: S603
                                        preexec_fn=_child_setup, stdout=subprocess.DEVNULL)
        embedded.wait_for_redis()

    def pid(self) -> int | None:
        return self.process.pid if self.process and self.process.poll() is None else None

    def stop(self, deadline: float) -> None:
        if self.process is None:
            embedded.stop_redis()  # one found running (left by an older make run): stop it all the same
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=max(0.05, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@dataclass
class Postgres(Supervised):
    def alive(self) -> bool:
        return embedded.postgres_pid() is not None

    def launch(self) -> None:
        embedded.postgres_url()

    def pid(self) -> int | None:
        return embedded.postgres_pid()

    def stop(self, deadline: float) -> None:
        embedded.stop_postgres(timeout=max(0.5, deadline - time.monotonic()))


def descendants(root: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        parents.setdefault(ppid, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        for pid in parents.get(todo.pop(), []):
            found.append(pid)
            todo.append(pid)
    return found


class Supervisor:
    def __init__(self, servers: list[Supervised], children: list[Child], status_file: Path) -> None:
        self.servers, self.children, self.status_file = servers, children, status_file
        self.stopping = False
        self.pids: dict[str, int | None] = {}

    def request_stop(self, signum, frame) -> None:
        self.stopping = True

    def tend(self) -> None:
        now = time.monotonic()
        for server in self.servers:
            server.tend(now)
        # Children wait for their servers: a worker started before Redis answers would only exit again.
        if all(s.alive() for s in self.servers):
            for child in self.children:
                child.tend(now)
        self.write_status()

    def write_status(self) -> None:
        pids = {s.name: s.pid() for s in [*self.servers, *self.children]}
        if pids != self.pids:
            self.pids = pids
            tmp = self.status_file.with_suffix(".tmp")
            tmp.write_text(json.dumps({"supervisor": os.getpid(), "processes": pids}))
            tmp.replace(self.status_file)

    def run(self) -> None:
        while not self.stopping:
            self.tend()
            self._reap_adopted()
            time.sleep(0.25)

    def _reap_adopted(self) -> None:
        """`make run` is a child subreaper: orphans of its tree (the postmaster pg_ctl leaves behind, a work
        horse whose worker was killed) become its children, and their exit must be collected here; its own
        children are collected by Popen.poll."""
        mine = {c.process.pid for c in [*self.children, *self.servers]
                if isinstance(getattr(c, "process", None), subprocess.Popen)}
        for pid in descendants(os.getpid()):
            if pid in mine:
                continue
            try:
                with open(f"/proc/{pid}/stat") as f:
                    if f.read().rsplit(")", 1)[1].split()[0] != "Z":
                        continue
                os.waitpid(pid, os.WNOHANG)
            except (OSError, IndexError, ChildProcessError):
                continue

    def stop(self) -> None:
        """Children first (they use the servers), each its whole process group; then the servers."""
        started = time.monotonic()
        deadline = started + STOP_S - 4.0  # the rest is the servers': PostgreSQL writes a checkpoint
        for child in self.children:
            child.signal(signal.SIGTERM)
        # rq finishes the job at hand on the first SIGTERM and abandons it on the second (its run is resumed
        # from its lease by the next worker): after half the time, ask again.
        half = started + (deadline - started) / 2
        while time.monotonic() < half and any(c.alive() for c in self.children):
            time.sleep(0.05)
        for child in self.children:
            if child.alive():
                child.signal(signal.SIGTERM)
        for child in self.children:
            child.stop(deadline)
        for pid in descendants(os.getpid()):
            if not any(getattr(s, "process", None) and s.process.pid == pid for s in self.servers):
                try:
                    os.kill(pid, signal.SIGKILL)  # an orphan adopted from a killed child's tree
                except ProcessLookupError:
                    pass
        for server in reversed(self.servers):
            server.stop(max(time.monotonic() + 1.0, started + STOP_S - 0.5))
        self._reap_adopted()
        self.status_file.unlink(missing_ok=True)


def sink_environment(port: str) -> dict[str, str]:
    """Where the demo's messages go: local sinks, unless a real relay or gateway is configured."""
    from drportal.cloud.devpeers import free_port

    env: dict[str, str] = {}
    if not os.environ.get("EMAIL_HOST"):
        env.update(EMAIL_HOST="127.0.0.1", EMAIL_PORT=str(os.environ.get("SINK_SMTP_PORT") or free_port()),
                   EMAIL_USE_TLS="false", EMAIL_HOST_USER="", EMAIL_HOST_PASSWORD="")
    http = os.environ.get("SINK_HTTP_PORT") or str(free_port())
    env["SINK_HTTP_PORT"] = http
    if not os.environ.get("SMS_GATEWAY_URL"):
        env["SMS_GATEWAY_URL"] = f"http://127.0.0.1:{http}/sms"
    env.setdefault("SINK_WEBHOOK_URL", f"http://127.0.0.1:{http}/webhook")
    return env


def _one_shot(argv: list[str], supervisor: Supervisor) -> bool:
    """Run a set-up step to its end; False when a stop was asked for meanwhile (the step is stopped too, so a
    SIGTERM to `make run` alone is obeyed within STOP_S even while a fresh demo loads)."""
    step = subprocess.Popen(argv, preexec_fn=_child_setup)  # noqa: S603
    while step.poll() is None:
        if supervisor.stopping:
            os.killpg(step.pid, signal.SIGTERM)
            try:
                step.wait(timeout=3)
            except subprocess.TimeoutExpired:
                os.killpg(step.pid, signal.SIGKILL)
                step.wait()
            return False
        time.sleep(0.1)
    if step.returncode:
        raise subprocess.CalledProcessError(step.returncode, argv)
    return True


def main() -> int:
    port = os.environ.get("PORT", "8000")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "drportal.settings")
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
    supervisor = Supervisor([], [], embedded.VAR_DIR / "make-run.json")
    signal.signal(signal.SIGTERM, supervisor.request_stop)
    signal.signal(signal.SIGINT, supervisor.request_stop)
    embedded.VAR_DIR.mkdir(parents=True, exist_ok=True)
    try:
        return _start_and_supervise(supervisor, port)
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        say("stopping")
        supervisor.stop()
        say("stopped")


def _start_and_supervise(supervisor: Supervisor, port: str) -> int:
    # Decided once here and handed to every child, so they never race to start the same server.
    if not os.environ.get("DATABASE_URL"):
        supervisor.servers.append(Postgres("embedded PostgreSQL"))
    if not os.environ.get("REDIS_URL"):
        supervisor.servers.append(Redis("embedded Redis"))
    for server in supervisor.servers:
        server.launched, server.started = True, time.monotonic()
        if not server.alive():
            server.launch()
    if not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = embedded.postgres_url()
    if not os.environ.get("REDIS_URL"):
        os.environ["REDIS_URL"] = embedded.redis_url_of(embedded.redis_socket())
    os.environ.setdefault("SITE_URL", f"http://127.0.0.1:{port}")
    os.environ.update(sink_environment(port))

    for step in (manage("migrate", "--noinput", "-v", "0"), manage("load_demo")):
        if not _one_shot(step, supervisor):
            return 0

    import django
    from django.core.management import get_commands

    django.setup()
    commands = get_commands()
    children = [
        Child("web server", argv=serve.command("127.0.0.1", port, workers=2, threads=4, access_log=True)),
        Child("worker", argv=manage("rqworker", "high", "default", "low", "--with-scheduler")),
    ]
    optional = {
        "scheduler": ("scheduler", manage("scheduler")),
        # The simulated cloud's authoritative DNS, so the demo's propagation checks ask a real server.
        "serve_sim_dns": ("simulated DNS", manage("serve_sim_dns")),
        # A PostgreSQL of its own for each simulated replacement of a database server, so restores are real.
        "serve_standin_databases": ("stand-in database servers", manage("serve_standin_databases")),
        "serve_sinks": ("mail and message sinks", manage("serve_sinks")),
        "demo_agents": ("simulated backup agents", manage("demo_agents")),
    }
    for command, (name, argv) in optional.items():
        if command in commands:
            children.append(Child(name, argv=argv))
    supervisor.children.extend(children)
    supervisor.tend()
    say(f"drportal is running at http://127.0.0.1:{port}/ ({', '.join(c.name for c in children)} started); "
        "Ctrl-C stops everything")
    if os.environ.get("EMAIL_HOST") == "127.0.0.1" and "serve_sinks" in commands:
        say(f"mail and SMS go to local sinks (SMTP 127.0.0.1:{os.environ['EMAIL_PORT']}): read them on the "
            f"Outbox page, http://127.0.0.1:{port}/outbox/")
    supervisor.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
