"""Cloud APIs having a bad day, through the scenarios engine: a reverse proxy in front of moto answers 500,
throttles (503 RequestLimitExceeded, 429), hangs past the client's timeout or refuses the credentials. The
step retries (transient) or fails at once (credentials) with a message saying what happened, nothing is created
at the provider, and once the fault clears, retrying the step completes the run with exactly one node."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import django_rq
import pytest
import requests

from drportal.inventory.models import ProviderAccount
from drportal.lib import clock
from scenarios import engine, jobs
from scenarios.choices import RunState, StepState
from tests.cloud.conftest import ec2_error, make_server
from tests.cloud.helpers import ec2, instances_tagged, launch
from tests.faults.engine_support import drain, one_step

pytestmark = pytest.mark.django_db(transaction=True)


class FaultyProxy:
    """Forwards to the real provider (moto) unless told to fail: answer a status and body, or hang."""

    def __init__(self, upstream: str):
        self.upstream = upstream
        self.status: int | None = None
        self.body = b""
        self.hang = 0.0
        self.requests = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self):
                outer.requests += 1
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if outer.hang:
                    time.sleep(outer.hang)
                if outer.status:
                    self._send(outer.status, outer.body, "text/xml")
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                answer = requests.request(self.command, outer.upstream + self.path, data=body, headers=headers,
                                          timeout=30)
                self._send(answer.status_code, answer.content, answer.headers.get("Content-Type", "text/xml"))

            def _send(self, status: int, body: bytes, content_type: str):
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (the timeout case)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def fail(self, status: int, body: str) -> None:
        self.status, self.body, self.hang = status, body.encode(), 0.0

    def clear(self) -> None:
        self.status, self.body, self.hang = None, b"", 0.0

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxy(moto):
    peer = FaultyProxy(moto.endpoint)
    yield peer
    peer.stop()


@pytest.fixture(autouse=True)
def quick(settings):
    settings.CLOUD_RETRY_ATTEMPTS = 2        # the adapter's own retries inside one attempt
    settings.CLOUD_RETRY_BASE_DELAY = 0.01
    settings.SCENARIOS_BACKOFF_BASE = 0.2    # the engine's backoff between attempts: 0.2 s, 0.04 s, ...
    conn = django_rq.get_connection("high")
    conn.flushdb()
    yield
    conn.flushdb()


@pytest.fixture
def crashed_server(moto, proxy, aws_location):
    account = ProviderAccount.objects.create(
        provider=aws_location.region.provider, name="aws-proxied", driver="ec2",
        options={"region": "us-east-1", "endpoint_url": proxy.endpoint})
    account.set_credentials({"key": "AKIDTEST", "secret": "moto-secret"})
    account.save()
    old = launch(moto, "web1")
    ec2(moto).create_image(InstanceId=old, Name="web1-2026-11-08")
    ec2(moto).terminate_instances(InstanceIds=[old])
    return make_server(aws_location, account, provider_node_id=old, public_ips=["198.51.100.7"])


def run_until(run, states: set[str], timeout: float = 180.0):
    # A bound for a stuck run, not a speed target: on a loaded machine three attempts with backoff took over 60 s.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        drain()
        jobs.process_due(clock.now(), "test")
        run.refresh_from_db()
        step = run.steps.get()
        if step.state in states:
            return step
        time.sleep(0.05)
    raise AssertionError(f"step still {run.steps.get().state}")


FAULTS = {
    "500": (500, ec2_error("InternalError", "An internal error has occurred"), "An internal error has occurred"),
    "503 throttling": (503, ec2_error("RequestLimitExceeded", "Request limit exceeded."), "Request limit exceeded"),
    "429 throttling": (429, ec2_error("Throttling", "Slow down"), "Rate limit exceeded"),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_transient_fault_is_retried_then_fails_clearly_and_the_run_resumes(fault, proxy, moto, crashed_server,
                                                                            declare, alice):
    status, body, says = FAULTS[fault]
    proxy.fail(status, body)
    run, _ = engine.start_run(declare(), one_step("provision_from_image", {"server": "web1"}, max_attempts=3), alice)
    step = run_until(run, {StepState.FAILED})
    key = step.idempotency_key
    run.refresh_from_db()
    assert run.state == RunState.FAILED
    assert step.attempts == 3  # every attempt the scenario allows, each after a backoff
    assert sum("retrying in" in line for line in step.log) == 2
    assert says in step.error
    assert proxy.requests >= 3 * 2  # the adapter's retries within each attempt
    assert instances_tagged(moto, key) == []

    proxy.clear()
    engine.retry_step(step.pk, alice)
    step = run_until(run, {StepState.SUCCEEDED, StepState.FAILED})
    run.refresh_from_db()
    assert (run.state, step.state) == (RunState.SUCCEEDED, StepState.SUCCEEDED), step.error
    assert len(instances_tagged(moto, key)) == 1


def test_refused_credentials_fail_at_once_without_retrying_and_the_run_resumes(proxy, moto, crashed_server, declare,
                                                                               alice):
    proxy.fail(401, ec2_error("AuthFailure", "AWS was not able to validate the provided access credentials"))
    run, _ = engine.start_run(declare(), one_step("provision_from_image", {"server": "web1"}, max_attempts=3), alice)
    step = run_until(run, {StepState.FAILED})
    assert step.attempts == 1
    assert proxy.requests == 1
    assert "credentials" in step.error
    assert "moto-secret" not in step.error + " ".join(step.log)

    proxy.clear()  # the credentials were fixed at the provider
    engine.retry_step(step.pk, alice)
    step = run_until(run, {StepState.SUCCEEDED, StepState.FAILED})
    assert step.state == StepState.SUCCEEDED, step.error
    assert len(instances_tagged(moto, step.idempotency_key)) == 1


def test_a_provider_that_hangs_times_out_and_is_retried(proxy, moto, crashed_server, declare, alice, settings):
    # The adapters give libcloud settings.CLOUD_REQUEST_TIMEOUT (20 s by default, libcloud's own is 60 s);
    # the test shortens it rather than wait. The provider really hangs.
    settings.CLOUD_REQUEST_TIMEOUT = 0.5
    proxy.clear()
    proxy.hang = 2.0
    run, _ = engine.start_run(declare(), one_step("provision_from_image", {"server": "web1"}, max_attempts=2), alice)
    step = run_until(run, {StepState.FAILED})
    assert step.attempts == 2
    assert "timed out" in step.error.lower() or "timeout" in step.error.lower(), step.error
    assert instances_tagged(moto, step.idempotency_key) == []

    proxy.clear()
    engine.retry_step(step.pk, alice)
    step = run_until(run, {StepState.SUCCEEDED, StepState.FAILED})
    assert step.state == StepState.SUCCEEDED, step.error
    assert len(instances_tagged(moto, step.idempotency_key)) == 1
