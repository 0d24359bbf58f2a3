"""schemathesis against a live gunicorn on the test database with the real Redis: every operation of
/api/v1/openapi.json, with examples, coverage, positive and negative fuzzing and the stateful links (report a
backup, then read the RPO report), authenticated and not. Zero server errors and zero answers that break the
document.

Bounded for the normal suite (CONTRACT_EXAMPLES examples per operation and phase); `make fuzz` runs the same
with FUZZ_EXAMPLES (README, "Fuzzing"). Checks left out, and why:
- positive_data_acceptance: data valid for the schema still names assets that do not exist, so a 400 is right;
- object_level_authorization: needs two users' resources to compare, the API has no per-object reads.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.db import connection

from backups.models import IngestToken
from drportal.cloud.devpeers import free_port

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = int(os.environ.get("CONTRACT_EXAMPLES", "100"))
EXCLUDED = "positive_data_acceptance,object_level_authorization"


@pytest.fixture
def live_api(transactional_db, world, tmp_path):
    port = free_port()
    db = settings.DATABASES["default"]
    host = db.get("HOST") or db["OPTIONS"].get("host", "") or "127.0.0.1"
    env = {
        **os.environ,
        "DATABASE_URL": f"postgresql://{db['USER']}@{host}:{db.get('PORT') or 5432}/{connection.settings_dict['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "drportal.wsgi:application", "--bind", f"127.0.0.1:{port}",
         "--workers", "2", "--timeout", "60", "--graceful-timeout", "5"],
        # A file, not a pipe: a pipe nobody reads fills up and blocks the server.
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=(tmp_path / "gunicorn.log").open("w"),
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(base + "/healthz", timeout=10)
                break
            except requests.RequestException:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("gunicorn did not start")
                time.sleep(0.2)
        yield base, tmp_path / "gunicorn.log"
    finally:
        server.terminate()
        server.wait(30)


def run_schemathesis(base: str, token: str, report: Path, *only: str, workers: int = 2) -> subprocess.CompletedProcess:
    """`only`: extra options choosing the operations (all of them when none)."""
    return subprocess.run(
        [str(Path(sys.executable).parent / "st"), "run", f"{base}/api/v1/openapi.json", *only,
         "--header", f"Authorization: Bearer {token}", "--checks", "all", "--exclude-checks", EXCLUDED,
         "--max-examples", str(EXAMPLES), "--seed", os.environ.get("CONTRACT_SEED", "13"), "--workers", str(workers),
         "--request-timeout", "30", "--suppress-health-check", "too_slow,filter_too_much",
         "--report", "ndjson", "--report-ndjson-path", str(report), "--no-color"],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )


def test_the_api_honours_its_contract_under_generated_input(live_api, world, tmp_path):
    base, log = live_api
    raw = IngestToken.issue("schemathesis", policy=world.daily)[1]
    report = tmp_path / "events.ndjson"
    started = time.monotonic()
    result = run_schemathesis(base, raw, report)
    took = time.monotonic() - started
    summary = result.stdout[-6000:]
    print(f"schemathesis: {EXAMPLES} examples per operation and phase, {took:.0f} s\n{summary}")
    assert result.returncode == 0, summary + result.stderr[-3000:]
    assert "No issues found" in result.stdout or "passed" in result.stdout, summary
    events = [json.loads(line) for line in report.read_text().splitlines() if line.strip()]
    assert events, "schemathesis reported nothing"
    # The server's own view: not one unexpected error was logged while it ran.
    assert "API error" not in log.read_text()
    assert "Traceback" not in log.read_text()


# The incident and run operations (issue 19) take an API token of their own, not a backup ingestion token: with
# the one above they would only ever answer 401. An admin-role token reaches every one of them. One worker:
# with two, Hypothesis describing these schemas' strategies parses lambda sources in two threads at once, and
# Python 3.11's parser is not thread-safe there ("SystemError: AST constructor recursion depth mismatch").
OPS_OPERATIONS = ("--include-path-regex", "(alerts|incidents|runs|steps)/")


def test_the_incident_and_run_api_honours_its_contract_under_generated_input(live_api, world, tmp_path):
    from drportal.opsapi import tokens

    base, log = live_api
    _, raw = tokens.issue("schemathesis-ops", role="admin", created_by="test")
    report = tmp_path / "ops-events.ndjson"
    result = run_schemathesis(base, raw, report, *OPS_OPERATIONS, workers=1)
    summary = result.stdout[-6000:]
    print(f"schemathesis (incident and run API): {EXAMPLES} examples per operation and phase\n{summary}")
    assert result.returncode == 0, summary + result.stderr[-3000:]
    events = [json.loads(line) for line in report.read_text().splitlines() if line.strip()]
    assert events, "schemathesis reported nothing"
    assert "API error" not in log.read_text()
    assert "Traceback" not in log.read_text()
