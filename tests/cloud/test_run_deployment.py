from __future__ import annotations

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from drportal.cloud.actions.base import REGISTRY
from drportal.cloud.adapters.errors import AdapterError
from drportal.cloud.models import Deployment
from tests.cloud.helpers import ctx

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def deploy_dir(settings, tmp_path):
    settings.CLOUD_DEPLOY_DIR = tmp_path


def follow(context, seconds: float = 20):
    deadline = time.monotonic() + seconds
    while True:
        outcome = REGISTRY["run_deployment"].execute(context)
        if outcome.done or time.monotonic() > deadline:
            return outcome
        time.sleep(0.1)


def test_a_command_runs_once_and_its_output_is_kept(tmp_path):
    marker = tmp_path / "runs"
    script = f"import pathlib; p = pathlib.Path({str(marker)!r}); p.write_text(p.read_text() + 'x' "\
             "if p.exists() else 'x'); print('deployed app servers')"
    context = ctx("d1", command=[sys.executable, "-c", script])
    first = REGISTRY["run_deployment"].execute(context)
    assert not first.done
    outcome = follow(context)
    assert outcome.done
    assert "deployed app servers" in outcome.output["output"]
    assert marker.read_text() == "x"
    assert Deployment.objects.get(idempotency_key="d1").state == "succeeded"


def test_a_failing_command_fails_the_step_with_its_output():
    context = ctx("d2", command=[sys.executable, "-c", "import sys; print('terraform: no such module'); sys.exit(3)"])
    with pytest.raises(AdapterError) as caught:
        follow(context)
    assert caught.value.permanent
    assert "exit 3" in str(caught.value)
    assert "no such module" in str(caught.value)


def test_it_asks_for_a_command_or_a_webhook():
    with pytest.raises(AdapterError, match=r"params\.command"):
        REGISTRY["run_deployment"].execute(ctx("d3"))


class Pipeline:
    """A CI/CD pipeline's trigger URL: accepts a deployment, then reports running, then succeeded."""

    def __init__(self):
        self.triggers: list[dict] = []
        self.polls = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _send(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.triggers.append({"key": self.headers["Idempotency-Key"], **body})
                self._send(202, {"status_url": "/status/1"})

            def do_GET(self):
                outer.polls += 1
                self._send(200, {"status": "succeeded" if outer.polls >= 2 else "running", "output": "3 servers up"})

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/deploy"


@pytest.fixture
def pipeline():
    p = Pipeline()
    yield p
    p.server.shutdown()
    p.server.server_close()


def test_a_webhook_is_triggered_once_and_followed_to_success(pipeline):
    context = ctx("d4", webhook=pipeline.url)
    assert not REGISTRY["run_deployment"].execute(context).done
    outcome = REGISTRY["run_deployment"].execute(context)
    assert outcome.done
    assert outcome.output["output"] == "3 servers up"
    assert [t["key"] for t in pipeline.triggers] == ["d4"]
