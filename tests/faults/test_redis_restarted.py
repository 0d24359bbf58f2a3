"""Redis restarted mid-run (a private redis-server, killed with everything in it and started again empty on the
same port): nothing is lost, because the run's state lives in PostgreSQL and the reconciler re-enqueues what
the queue forgot. A real `rq worker` subprocess does the work; a dead one is restarted as a supervisor would."""

from __future__ import annotations

import signal
import subprocess
import textwrap
import time

import pytest
import redis
import requests

from drportal.cloud import devpeers
from drportal.cloud.models import SimImage, SimNode
from drportal.lib import clock
from scenarios import engine, jobs, loader
from scenarios.choices import RunState, StepState
from tests.cloud.conftest import make_server
from tests.conftest import peer_missing
from tests.faults.engine_support import QUOTE, sigkill, start_worker, wait_for
from tests.faults.test_worker_killed import pdns_rrsets

pytestmark = pytest.mark.django_db(transaction=True)


class RestartableRedis:
    """devpeers' redis-server, with a restart on the same port (clients reconnect to the same URL)."""

    def __init__(self) -> None:
        self.server = devpeers.start_redis()
        self.port = self.server.port
        self.url = self.server.url
        self.args = [devpeers.redis_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                     "--appendonly", "no", "--dir", str(self.server.directory)]

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=2)

    def crash_and_restart(self, down_for: float) -> None:
        self.server.process.send_signal(signal.SIGKILL)
        self.server.process.wait(timeout=5)
        time.sleep(down_for)
        self.server.process = subprocess.Popen(self.args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: self._pings(), 10, "redis-server to come back")

    def _pings(self) -> bool:
        try:
            return bool(self.client().ping())
        except redis.ConnectionError:
            return False

    def stop(self) -> None:
        self.server.stop()


@pytest.fixture
def private_redis(settings):
    if not devpeers.redis_binary():
        peer_missing("redis-server")
    peer = RestartableRedis()
    settings.REDIS_URL = peer.url
    settings.RQ_QUEUES = {name: {"URL": peer.url, "DEFAULT_TIMEOUT": 600} for name in ("high", "default", "low")}
    yield peer
    peer.stop()


def two_step_scenario(zone: str) -> loader.Scenario:
    text = textwrap.dedent(f"""\
        id: fault-redis
        title: Redis restarted mid-run
        disaster_class: server_crash
        trigger: "A test"
        objectives: {{rto_minutes: 30, rpo_minutes: 60}}
        owner: ops
        last_reviewed: 2026-01-01
        steps:
        - id: provision
          kind: automated
          title: "Provision {{server}}"
          quote: "{QUOTE}"
          action: provision_from_image
          for_each: server
          params: {{server: "{{server}}", poll_s: 0.5}}
        - id: cutover
          kind: automated
          title: Cut over
          quote: "{QUOTE}"
          action: dns_cutover
          after: [provision]
          params: {{account: pdns, zone: "{zone}", records: [{{name: app, values: [198.51.100.5]}}], ttl: 60}}
        """)
    scenario, errors = loader.parse(text, "fault.yaml", loader.installed_actions())
    assert errors == [], errors
    return scenario


def test_redis_restarted_mid_run_loses_nothing(private_redis, sim_account, sim_location, powerdns, pdns_zone,
                                               pdns_account, declare, alice):
    sim_account.options = {**sim_account.options, "latency_s": 3}
    sim_account.save()
    servers = []
    for i in range(3):
        SimImage.objects.create(account=sim_account, image_id=f"img-{i}", name=f"web{i}-weekly",
                                server_name=f"web{i}", created_at=clock.now())
        servers.append(make_server(sim_location, sim_account, name=f"web{i}", size="4GB"))
    run, _ = engine.start_run(declare(servers=servers), two_step_scenario(pdns_zone), alice)
    provision = run.steps.filter(step_id="provision")
    worker = start_worker(private_redis.url)
    workers = [worker]
    try:
        # Mid-run: every server's node is being built at the provider, the engine waits on them (due polls
        # kept in PostgreSQL, their jobs and the poller's lock in Redis).
        wait_for(lambda: set(provision.values_list("state", flat=True)) == {StepState.WAITING}, 60,
                 "the provision steps to wait on their nodes")
        assert SimNode.objects.count() == 3
        assert private_redis.client().dbsize() > 0
        private_redis.crash_and_restart(down_for=1.0)
        assert private_redis.client().dbsize() == 0  # everything the queue knew is gone

        # The reconciler runs every few seconds in production (scenarios_reconcile --loop); here, every 0.5 s.
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if workers[-1].poll() is not None:
                workers.append(start_worker(private_redis.url))
            try:
                jobs.reconcile()
            except redis.ConnectionError:
                pass  # the test's own client reconnects on the next call
            run.refresh_from_db()
            if run.state != RunState.RUNNING:
                break
            time.sleep(0.5)
    finally:
        for w in workers:
            if w.poll() is None:
                sigkill(w)

    steps = list(run.steps.order_by("position", "item"))
    assert run.state == RunState.SUCCEEDED, [(s.step_id, s.item, s.state, s.error) for s in steps]
    assert [s.state for s in steps] == [StepState.SUCCEEDED] * 4
    # The provider: one node per server, the record cut over once.
    assert sorted(SimNode.objects.values_list("idempotency_key", flat=True)) == sorted(
        s.idempotency_key for s in steps if s.step_id == "provision")
    assert (f"app.{pdns_zone}", "A", ("198.51.100.5",)) in pdns_rrsets(powerdns, pdns_zone)
    assert requests.get(f"{powerdns.api}/zones/{pdns_zone}", headers=powerdns.headers(), timeout=5).ok
