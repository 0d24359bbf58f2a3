"""Against a real Alertmanager (Debian's prometheus-alertmanager): an alert posted to its API reaches drportal
through its own webhook notifier, grouped and authenticated as configured, and its resolution follows."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest

from drportal.cloud.devpeers import free_port
from drportal.incidents.models import Incident
from drportal.inventory.models import Provider, Region, Zone
from drportal.opsapi import tokens
from drportal.opsapi.models import AlertRule, ReceivedAlert

pytestmark = pytest.mark.django_db(transaction=True)

CONFIG = """
route:
  receiver: drportal
  group_by: [alertname, region]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: drportal
    webhook_configs:
      - url: {url}
        send_resolved: true
        http_config:
          authorization:
            credentials: {token}
"""


@pytest.fixture
def alertmanager(live_server, tmp_path, users, ada):
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if binary is None:
        from tests.conftest import peer_missing

        peer_missing("prometheus-alertmanager")
    _, raw = tokens.issue("alertmanager", role="ops", created_by=ada)
    (tmp_path / "alertmanager.yml").write_text(CONFIG.format(url=f"{live_server.url}/api/v1/alerts/alertmanager",
                                                             token=raw))
    port = free_port()
    proc = subprocess.Popen([binary, f"--config.file={tmp_path / 'alertmanager.yml'}",
                             f"--storage.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
                             "--cluster.listen-address=", "--log.level=warn"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    until(lambda: _ready(base), "Alertmanager to start")
    yield base
    proc.terminate()
    proc.wait(10)


def _ready(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/-/ready", timeout=1) as response:  # noqa: S310 (our loopback peer)
            return response.status == 200
    except OSError:
        return False


def until(check, what: str, timeout: float = 60.0) -> None:
    """Wait for something another process does (not a speed assertion: the deadline only ends a hung test)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def push(base: str, ends_at: datetime | None = None) -> None:
    now = datetime.now(UTC)
    alert = {"labels": {"alertname": "RegionDown", "region": "rackspace/dfw", "severity": "critical"},
             "annotations": {"summary": "Dallas is unreachable"}, "startsAt": (now - timedelta(minutes=1)).isoformat()}
    if ends_at:
        alert["endsAt"] = ends_at.isoformat()
    request = urllib.request.Request(f"{base}/api/v2/alerts", data=json.dumps([alert]).encode(),  # noqa: S310
                                     method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 (our loopback peer)
        assert response.status == 200


def test_a_real_alertmanager_opens_the_incident_and_reports_its_resolution(alertmanager):
    rackspace = Provider.objects.create(slug="rackspace", name="Rackspace", kind="rackspace")
    dfw = Region.objects.create(provider=rackspace, slug="dfw", name="Dallas")
    Zone.objects.create(region=dfw, slug="dfw1", name="Dallas DC")
    AlertRule.objects.create(name="Region down", matchers={"alertname": "RegionDown", "severity": "critical"},
                             disaster_class="datacenter_offline", severity="sev1", scope_label="region",
                             auto_declare=True)
    push(alertmanager)
    until(lambda: Incident.objects.exists(), "the incident from Alertmanager's webhook")
    incident = Incident.objects.get()
    assert incident.title == "Dallas is unreachable (rackspace/dfw)"
    assert list(incident.impacted_regions.all()) == [dfw]
    push(alertmanager, ends_at=datetime.now(UTC) - timedelta(seconds=1))
    until(lambda: ReceivedAlert.objects.filter(status="resolved").exists(), "the resolved notification")
    assert Incident.objects.count() == 1
    assert Incident.objects.get().is_open
