"""Browser journeys: headless Debian Chromium driven by Playwright, against Django's live server on the
test database, with a real RQ worker process beside it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.conf import settings

from drportal.lib.dburl import current_database_url
from tests.browser.screens import CHROMIUM, CHROMIUM_ARGS
from tests.cloud.conftest import powerdns  # noqa: F401 - the Cybernance journey's public zone
from tests.conftest import PASSWORD, peer_missing

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "tests" / "screenshots"


@pytest.fixture(scope="session", autouse=True)
def allow_orm_beside_playwright():
    # Playwright's sync API runs an event loop in this thread; the ORM calls in the tests (and the
    # database flush after them) are still synchronous and safe here.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not shutil.which("chromium") and not Path(CHROMIUM).exists():
        peer_missing("Debian chromium")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1280, "height": 900}, "timezone_id": "America/Chicago"}


@pytest.fixture
def worker(live_server):
    """A real RQ worker (forking, as in production) on the live server's database and Redis."""
    env = {**os.environ, "DATABASE_URL": current_database_url(), "REDIS_URL": settings.REDIS_URL}
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "rqworker", "high", "default", "low", "--with-scheduler"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    yield proc
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture
def sign_in(page, live_server):
    def as_user(username: str):
        page.goto(f"{live_server.url}/login/")
        page.get_by_label("User name").fill(username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{live_server.url}/")
        return page

    return as_user


@pytest.fixture
def shot(page):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take



@pytest.fixture
def clean_redis():
    """Our own Redis db number only (REDIS_URL), never FLUSHALL: no job of an earlier test lingers."""
    import django_rq

    conn = django_rq.get_connection("high")
    conn.flushdb()
    yield conn
    conn.flushdb()


@pytest.fixture
def jivosoft(transactional_db):
    from io import StringIO

    from django.core.management import call_command

    call_command("import_inventory", "inventories/jivosoft.yaml", stdout=StringIO())


@pytest.fixture
def sim_cloud(jivosoft, monkeypatch, clean_redis):
    """Jivosoft's Rackspace servers on the simulated cloud (we have no Rackspace account here): the demo's
    twins and images, the servers moved onto the twin account so a real (non-drill) run acts on it, and the
    simulated DNS server on a free port, which the worker (started after this fixture) is told about."""
    from drportal.cloud import demo
    from drportal.cloud.adapters import dnsserver
    from drportal.inventory.models import ProviderAccount, Server
    from drportal.lib import clock

    dns = dnsserver.start("127.0.0.1", 0)
    monkeypatch.setenv("SIM_DNS_PORT", str(dns.port))
    monkeypatch.setenv("CLOUD_DNS_RESOLVERS", f"127.0.0.1:{dns.port}")
    demo.load(clock.now())
    twin = ProviderAccount.objects.get(name="jivosoft-rackspace-sim")
    # Servers boot at once: polling a pending node is the scenarios engine's business, tested there.
    twin.options = {**twin.options, "latency_s": 0}
    twin.save()
    Server.objects.filter(account__name="jivosoft-rackspace").update(account=twin)
    yield dns
    dns.stop()


@pytest.fixture
def second_page(browser, live_server):
    """Another person's browser (its own cookies), e.g. the manager approving what ops runs."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, timezone_id="America/Chicago")

    def as_user(username: str):
        page = context.new_page()
        page.goto(f"{live_server.url}/login/")
        page.get_by_label("User name").fill(username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{live_server.url}/")
        return page

    yield as_user
    context.close()


def save_shot(page, name: str, *, doc: str = "") -> Path:
    """A full-page PNG under tests/screenshots/; with `doc`, also a small JPEG (for docs/screenshots/, which
    keeps each image under ~200 KB) named after it."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if doc:
        # The first screenful only: what a reader of the README sees first, and small.
        page.screenshot(path=str(SCREENSHOTS / f"{doc}.jpg"), type="jpeg", quality=60)
    return path


def drain() -> None:
    """Run every queued job to the end in this process (non-forking worker, real Redis)."""
    import django_rq
    from rq import SimpleWorker

    conn = django_rq.get_connection("high")
    SimpleWorker([django_rq.get_queue(q) for q in ("high", "default", "low")], connection=conn).work(burst=True)


def finish_drill(drill, person, approver) -> None:
    """Play the people's part of a drill through the engine: complete, decide (first option), approve."""
    import time

    from scenarios import engine
    from scenarios.models import StepRun

    for _ in range(60):
        drain()
        drill.run.refresh_from_db()
        if drill.run.state != "running":
            return
        rows = StepRun.objects.filter(run=drill.run).order_by("position", "item")
        acted = False
        for row in rows:
            waiting_notice = row.kind == "notify" and row.state == "waiting" and row.outputs.get("handover")
            if (row.state == "ready" and row.kind == "manual") or waiting_notice:
                engine.complete_step(row.pk, person, notes="drill", evidence="drill")
            elif row.state == "ready" and row.kind == "decision":
                engine.decide(row.pk, person, _first_option(row))
            elif row.state == "ready" and row.kind == "approval":
                engine.approve(row.pk, approver, approved=True)
            elif row.state == "failed":
                engine.skip_step(row.pk, person, reason="drill: not available here")
            else:
                continue
            acted = True
        if not acted:
            time.sleep(0.5)
    raise AssertionError(f"drill run {drill.run.pk} did not finish")


def _first_option(row) -> str:
    spec = next(s for s in row.run.spec["steps"] if s["id"] == row.step_id)
    return spec["options"][0]["value"]


@pytest.fixture
def mailbox(monkeypatch, settings):
    """A real SMTP server (aiosmtpd) on a free port, recording what it accepts; the live server and the worker
    (started after this fixture, from the environment) both send to it."""
    from tests.notifications.conftest import RecordingHandler, free_port

    try:
        from aiosmtpd.controller import Controller
    except ImportError:
        peer_missing("aiosmtpd")
    handler = RecordingHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, ready_timeout=10)
    controller.start()
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_TLS = "127.0.0.1", port, False
    monkeypatch.setenv("EMAIL_HOST", "127.0.0.1")
    monkeypatch.setenv("EMAIL_PORT", str(port))
    monkeypatch.setenv("EMAIL_USE_TLS", "false")
    yield handler
    controller.stop()


@pytest.fixture
def demo_data(transactional_db, monkeypatch, clean_redis):
    """`manage.py load_demo` (both inventories, the backups history, the simulated twins), made two days
    ago and swept now, so daily backups are late; jv-db1 failed over to Kansas City, so its weekly copies there
    are co-located; and one finished drill of a Jivosoft server crash."""
    from datetime import timedelta
    from io import StringIO

    import time_machine
    from django.core.management import call_command

    from backups import sweep
    from backups.models import PolicyAssetStatus
    from drportal.cloud.adapters import dnsserver
    from drportal.inventory.models import ProviderAccount, Server, Zone
    from drportal.lib import clock

    dns = dnsserver.start("127.0.0.1", 0)
    monkeypatch.setenv("SIM_DNS_PORT", str(dns.port))
    monkeypatch.setenv("CLOUD_DNS_RESOLVERS", f"127.0.0.1:{dns.port}")
    now = clock.now()
    with time_machine.travel(now - timedelta(days=2), tick=True):
        call_command("load_demo", stdout=StringIO())
    sweep.sweep(now)
    # The seed's closing warning: after jv-db1 fails over to Kansas City, its "off-site" weekly copies there
    # are co-located with it.
    Server.objects.filter(name="jv-db1").update(zone=Zone.objects.get(slug="mci1"))
    PolicyAssetStatus.objects.update(dirty=True)
    sweep.sweep(now)
    sweep.integrate_rollups(now)
    ProviderAccount.objects.filter(driver="simulated").update(options={"latency_s": 0, "floating_ips": False,
                                                                       "locations": ["dfw1", "mci1"]})
    yield
    dns.stop()


@pytest.fixture
def demo(demo_data, alice, mona):
    """The demo data and one drill of a Jivosoft server crash, finished by the real engine."""
    from drportal.inventory.models import Server
    from scenarios import drills, loader

    drill = drills.start_drill(loader.library().get("jivosoft-server-crash"), alice,
                               servers=[Server.objects.get(name="jv-web1")])
    finish_drill(drill, alice, mona)
    return drill


class MotoProcess:
    """A moto server in a process of its own, stopped by its PID (what devpeers.Moto stops). The cloud tests
    run it in a thread of the test process; beside Playwright and the live server, that thread answered the
    worker with half-written bodies (libcloud: malformed response) once earlier journeys had run."""

    def __init__(self, port: int):
        self.proc = subprocess.Popen([str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p",
                                      str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture
def moto():
    from drportal.cloud import devpeers

    port = devpeers.free_port()
    peer = devpeers.Moto(MotoProcess(port), port)
    for _ in range(300):
        try:
            if requests.get(f"{peer.endpoint}/moto-api/", timeout=1).status_code < 500:
                break
        except requests.RequestException:
            time.sleep(0.05)
    else:
        peer.stop()
        raise RuntimeError("moto_server did not answer within 15 s")
    yield peer
    peer.stop()


@pytest.fixture
def cybernance_on_moto(transactional_db, moto, powerdns, monkeypatch, tmp_path, clean_redis):  # noqa: F811
    """Cybernance's AWS account on a moto server (EC2, ELBv2, RDS), as tests/recovery sets it up: the seed's
    instances in their target group, their AMIs, the RDS instance, and their copies in us-west-2 where the
    scenario rebuilds (AMIs, a database snapshot, a balancer and its target group); the deployment is a stand-in
    playbook that launches from the newest AMI in the region it is told. The worker (started after this fixture)
    keeps its deployment files in a directory of this test: Deployment ids restart with each test database, and a
    file left by an earlier one would read as this deployment's exit code. It is told this process's SECRET_KEY,
    which its credentials are encrypted with."""
    from tests.recovery.test_cybernance_real_recovery import ZONE, on_moto, public_zone

    monkeypatch.setenv("DRPORTAL_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("SECRET_KEY", settings.SECRET_KEY)
    monkeypatch.setenv("CLOUD_DNS_RESOLVERS", "")  # the worker asks the authoritative PowerDNS
    found = on_moto(moto)
    public_zone(powerdns)  # the platform's public name, which the run points at the new load balancer
    yield found
    powerdns.delete_zone(ZONE)
