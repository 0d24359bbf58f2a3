from __future__ import annotations

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import pytest

from drportal.audit.models import AuditEvent
from drportal.cloud.actions.base import REGISTRY
from drportal.cloud.adapters.errors import AdapterError
from drportal.cloud.models import Deployment
from drportal.inventory.models import Server
from tests.cloud.conftest import make_server
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


DEPLOY = Path(__file__).resolve().parents[1] / "recovery" / "ec2_deploy.py"


@pytest.fixture
def app1_in_the_west(moto, moto_account, aws_location):
    """app1, an AWS server whose deployment (tests/recovery/ec2_deploy.py) builds from its newest AMI in the region
    drportal passes it; the only AMI of app1 is in us-west-2."""
    west = boto3.client("ec2", endpoint_url=moto.endpoint, region_name="us-west-2", aws_access_key_id="AKIDTEST",
                        aws_secret_access_key="moto-secret")
    base = west.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    old = west.run_instances(ImageId=base, MinCount=1, MaxCount=1, InstanceType="m5.large")["Instances"][0]
    west.create_image(InstanceId=old["InstanceId"], Name="app1-2026-11-29")
    make_server(aws_location, moto_account, name="app1", metadata={
        "deploy_command": f"{sys.executable} {DEPLOY} {{server}} {moto.endpoint} {{region}}"})
    return moto


def tagged(moto, region: str, key: str) -> list[str]:
    ec2 = boto3.client("ec2", endpoint_url=moto.endpoint, region_name=region, aws_access_key_id="AKIDTEST",
                       aws_secret_access_key="moto-secret")
    found = ec2.describe_instances(Filters=[{"Name": "tag:drportal_key", "Values": [key]}])
    return [i["InstanceId"] for r in found["Reservations"] for i in r["Instances"]]


def test_a_deployment_told_a_scenarios_region_builds_in_that_region_and_records_the_node(app1_in_the_west):
    outcome = follow(ctx("d-west", server="app1", region="aws/us-west-2"))
    assert outcome.done, outcome.output
    [built] = tagged(app1_in_the_west, "us-west-2", "d-west")
    assert tagged(app1_in_the_west, "us-east-1", "d-west") == []
    assert (outcome.output["node_id"], outcome.output["region"]) == (built, "us-west-2")
    assert "asked_region" not in outcome.output
    assert Server.objects.get(name="app1").provider_node_id == built


@pytest.fixture
def app1_hard_wired_east(app1_in_the_west, moto):
    """app1 with an AMI in us-east-1 too, and a playbook hard-wired to us-east-1: it never reads {region} or
    DRPORTAL_REGION."""
    east = boto3.client("ec2", endpoint_url=moto.endpoint, region_name="us-east-1", aws_access_key_id="AKIDTEST",
                        aws_secret_access_key="moto-secret")
    base = east.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    old = east.run_instances(ImageId=base, MinCount=1, MaxCount=1, InstanceType="m5.large")["Instances"][0]
    east.create_image(InstanceId=old["InstanceId"], Name="app1-2026-11-30")
    server = Server.objects.get(name="app1")
    server.metadata = {"deploy_command": f"{sys.executable} {DEPLOY} {{server}} {moto.endpoint} us-east-1"}
    server.save(update_fields=["metadata"])
    return moto


def test_a_deployment_built_outside_the_asked_region_fails_and_claims_nothing(app1_hard_wired_east, moto):
    context = ctx("d-east", server="app1", region="aws/us-west-2")

    with pytest.raises(AdapterError) as caught:
        follow(context)

    [built] = tagged(moto, "us-east-1", "d-east")
    assert tagged(moto, "us-west-2", "d-east") == []
    assert (caught.value.permanent, caught.value.code) == (True, "BuiltElsewhere")
    assert f"the deployment built {built} in us-east-1, not in us-west-2 as the step asked: app1 is not " \
           "recovered in us-west-2" in str(caught.value)
    # Recorded as what it is, where it is; the inventory does not take it for app1's replacement.
    found = {"node_id": built, "region": "us-east-1", "asked_region": "us-west-2", "server": "app1"}
    assert context.state["built_elsewhere"] == found
    [event] = AuditEvent.objects.filter(action="deployment.built_elsewhere")
    assert event.after == found
    assert Server.objects.get(name="app1").provider_node_id != built


def test_a_retry_of_a_deployment_built_elsewhere_fails_again_audited_once(app1_hard_wired_east, moto):
    context = ctx("d-east-again", server="app1", region="aws/us-west-2")
    with pytest.raises(AdapterError):
        follow(context)

    with pytest.raises(AdapterError, match="not in us-west-2 as the step asked"):
        REGISTRY["run_deployment"].execute(context)

    assert len(tagged(moto, "us-east-1", "d-east-again")) == 1
    assert AuditEvent.objects.filter(action="deployment.built_elsewhere").count() == 1


def test_a_region_of_another_provider_is_refused_before_anything_runs(app1_in_the_west):
    with pytest.raises(AdapterError, match=r"params\.region: rackspace/us-west-2 is a region of rackspace; app1 "
                                           r"runs at aws"):
        REGISTRY["run_deployment"].execute(ctx("d-elsewhere", server="app1", region="rackspace/us-west-2"))
    assert not Deployment.objects.filter(idempotency_key="d-elsewhere").exists()


def test_an_exit_code_left_under_the_same_id_by_an_earlier_database_is_not_taken_for_this_run(tmp_path):
    # Found by the demo's browser journey: the worker's deployment directory held "0" under id 1 from an earlier
    # test database, so a restore that had not run yet was read as finished, and its check found no tables.
    from drportal.cloud.adapters import deploy

    log, rc = deploy.paths(1)
    rc.write_text("0")
    log.write_text("an earlier database's output\n")
    deploy.start(1, [sys.executable, "-c", "import time; time.sleep(0.5); raise SystemExit(3)"])
    deadline = time.monotonic() + 20
    while deploy.result(1)[0] is None and time.monotonic() < deadline:
        time.sleep(0.05)
    code, output = deploy.result(1)
    assert code == 3
    assert "an earlier database's output" not in output
