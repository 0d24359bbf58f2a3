"""schemathesis against the live web server (drportal/serve.py) on the test database with the real Redis: every
operation of /api/v1/openapi.json, with examples, coverage, positive and negative fuzzing and the stateful links
(read the RPO report, report a backup of a database it lists, read the report again), authenticated and not. Each
operation gets the credentials of its own security scheme: the backups operations an ingest token, the incident and
run operations an ops API token, bound to a user in one run and to a role in the other. Zero server errors and zero
answers that break the document.

Bounded for the normal suite (CONTRACT_EXAMPLES examples per operation and phase); `make fuzz` runs the same
with FUZZ_EXAMPLES (README, "Fuzzing"). Checks left out, and why:
- positive_data_acceptance: data valid for the schema still names assets that do not exist, so a 400 is right;
- object_level_authorization: needs two users' resources to compare, the API has no per-object reads.

One worker, not two: schemathesis' workers are threads in one process, and Hypothesis is not thread-safe. Each
Hypothesis run raises the process-wide recursion limit on entry and puts back what it found on exit, so when two
runs overlap, the one that leaves first lowers the limit under the other (hypothesis' own note on
HypothesisWorks/hypothesis#4471: "intermediate threads can still trample each other's limits"). CI once failed
with what that produces: a RecursionError in the coverage phase, inside Hypothesis, while it validated
schemathesis' module-wide recursive JSON strategy (the one it draws the "incorrect type" values of every typed
field from, so no schema of ours can keep it out). With one worker no Hypothesis run overlaps another, and the
run follows from the seed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import User

from backups import sweep
from backups.models import BackupRecord, IngestToken
from drportal.lib import clock
from drportal.opsapi.tokens import issue as issue_token
from tests.support.served import served

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = int(os.environ.get("CONTRACT_EXAMPLES", "100"))
EXCLUDED = "positive_data_acceptance,object_level_authorization"


@pytest.fixture
def live_api(transactional_db, world, tmp_path):
    log = tmp_path / "web.log"
    with served(log, workers=2) as (base, _):
        yield base, log


REPORT_LINK = "GET /api/v1/rpo/ -> [200] ReportABackupOfAListedDatabase -> POST /api/v1/backups/"
OPSAPI_PATHS = "^/api/v1/(alerts|incidents|runs|steps)/"
OPSAPI_READS = {"GET /api/v1/incidents/", "GET /api/v1/incidents/{pk}/", "GET /api/v1/runs/", "GET /api/v1/runs/{pk}/",
                "POST /api/v1/alerts/alertmanager"}


@pytest.fixture
def ops_world(world):
    """An open incident on the world's database server with a run of a library scenario, so the incident, run
    and step operations have rows to read and act on besides the ones the stateful phase declares itself."""
    from drportal.accounts.access import Role
    from drportal.accounts.roles import grant
    from drportal.incidents import services
    from scenarios import engine, loader

    olga = User.objects.create_user("olga", "olga@example.test")
    for role in (Role.OPS, Role.MANAGER):
        grant(olga, role)
    incident = services.declare(olga, title="db1 is down", severity="sev2", disaster_class="server_crash",
                                impacted={"servers": [world.db1]})
    run, _ = engine.start_run(incident, loader.library().get("jivosoft-server-crash"), olga)
    return SimpleNamespace(olga=olga, incident=incident, run=run)


def run_schemathesis(base: str, tokens: dict[str, str], tmp_path: Path, *extra: str) -> tuple[
        subprocess.CompletedProcess, list[dict]]:
    """(the finished `st run`, its ndjson events). `tokens` maps each security scheme of the document to the
    bearer token schemathesis sends to the operations that ask for it."""
    config = tmp_path / "schemathesis.toml"
    # No cache: schemathesis would otherwise replay the requests and crashes of earlier runs kept in the checkout
    # (.schemathesis/), so a run would depend on what ran before it and not only on the seed.
    config.write_text("[cache]\nenabled = false\n" + "".join(
        f'[auth.openapi.{scheme}]\nbearer = "{token}"\n' for scheme, token in tokens.items()))
    report = tmp_path / "events.ndjson"
    result = subprocess.run(
        [str(Path(sys.executable).parent / "st"), "--config-file", str(config), "run", f"{base}/api/v1/openapi.json",
         "--checks", "all", "--exclude-checks", EXCLUDED,
         "--max-examples", str(EXAMPLES), "--seed", os.environ.get("CONTRACT_SEED", "13"), "--workers", "1",
         "--request-timeout", "30", "--suppress-health-check", "too_slow,filter_too_much",
         "--report", "ndjson", "--report-ndjson-path", str(report), "--no-color", *extra],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )
    events = [json.loads(line) for line in report.read_text().splitlines() if line.strip()] if report.exists() else []
    return result, events


def assert_clean(result: subprocess.CompletedProcess, events: list[dict], log: Path) -> None:
    summary = result.stdout[-6000:]
    assert result.returncode == 0, summary + result.stderr[-3000:]
    assert "No issues found" in result.stdout or "passed" in result.stdout, summary
    assert events, "schemathesis reported nothing"
    # The server's own view: not one unexpected error was logged while it ran.
    assert "API error" not in log.read_text()
    assert "Traceback" not in log.read_text()


def scenarios(events: list[dict], phase: str) -> list[list[tuple[str, int, str | None]]]:
    """Per scenario of a phase (a stateful scenario is one chain of calls), in order: ("METHOD path-template",
    status, the link that supplied its data or None) of every answered call, from the ndjson report. A link reads
    "GET /api/v1/rpo/ -> [200] ReportABackupOfAListedDatabase -> POST /api/v1/backups/"."""
    found = []
    for event in events:
        finished = event.get("ScenarioFinished")
        if not finished or finished["phase"] != phase:
            continue
        recorder, chain = finished["recorder"], []
        for case_id, node in recorder.get("cases", {}).items():
            response = (recorder["interactions"].get(case_id) or {}).get("response")
            if response is not None:
                link = node["transition"]["id"] if node.get("is_transition_applied") else None
                chain.append((f"{node['value']['method']} {node['value']['path']}", response["status_code"], link))
        found.append(chain)
    return found


def answered(events: list[dict]) -> set[str]:
    """The operations that answered 2xx at least once in any phase."""
    return {operation for phase in ("examples", "coverage", "fuzzing", "stateful")
            for chain in scenarios(events, phase) for operation, status, _ in chain if 200 <= status < 300}


def reported_then_read(chain: list[tuple[str, int, str | None]]) -> bool:
    """Whether the chain recorded a backup through the RPO report's link (201) and read the RPO report (200)
    after it."""
    recorded = [i for i, (operation, status, link) in enumerate(chain)
                if (operation, status) == ("POST /api/v1/backups/", 201) and link == REPORT_LINK]
    return bool(recorded) and any((operation, status) == ("GET /api/v1/rpo/", 200)
                                  for operation, status, _ in chain[recorded[0] + 1:])


def test_the_api_honours_its_contract_under_generated_input(live_api, world, ops_world, tmp_path):
    """A user's ops token: the incident and run operations act as olga (ops and manager)."""
    base, log = live_api
    # The sweep gives each (policy, asset) pair its status row: the RPO report lists those rows, and ingestion
    # accepts reports only for assets that have one, so without it no generated report could be recorded.
    sweep.sweep(clock.now())
    ingest = IngestToken.issue("schemathesis", policy=world.daily)[1]
    ops = issue_token("schemathesis (olga)", user=ops_world.olga, created_by="test")[1]
    started = time.monotonic()
    result, events = run_schemathesis(base, {"bearerToken": ingest, "apiToken": ops}, tmp_path)
    took = time.monotonic() - started
    print(f"schemathesis: {EXAMPLES} examples per operation and phase, one worker, {took:.0f} s\n"
          f"{result.stdout[-6000:]}")
    assert_clean(result, events, log)
    assert "Authentication failed" not in result.stdout, result.stdout[-6000:]

    # The incident and run operations were answered as an authenticated ops user, not only refused.
    assert OPSAPI_READS <= answered(events), sorted(answered(events))

    # The links do what they promise: a backup of a database the RPO report listed is recorded (201), and the
    # same chain reads the RPO report again afterwards (200). In the run above the stateful phase picks among
    # fifteen links and its number of chains varies with the answers (27 to 136 seen), so whether one such chain
    # happens there is chance; a stateful run of the two backups operations alone makes it follow from the seed.
    chain_dir = tmp_path / "chain"
    chain_dir.mkdir()
    result, events = run_schemathesis(base, {"bearerToken": ingest}, chain_dir, "--phases", "stateful",
                                      "--include-operation-id", "reportBackups", "--include-operation-id", "rpoStatus")
    assert_clean(result, events, log)
    chains = scenarios(events, "stateful")
    assert any(reported_then_read(chain) for chain in chains), chains
    assert BackupRecord.objects.filter(client_id__startswith="link-", asset__name="acme-db").exists()


def test_the_incident_and_run_api_honours_its_contract_with_a_role_token(live_api, ops_world, tmp_path):
    """A role's token (its own service user holding the ops role): only this app's operations, since the
    backups operations do not read it."""
    base, log = live_api
    ops = issue_token("schemathesis (ops role)", role="ops", created_by="test")[1]
    result, events = run_schemathesis(base, {"apiToken": ops}, tmp_path, "--include-path-regex", OPSAPI_PATHS)
    assert_clean(result, events, log)
    assert "Authentication failed" not in result.stdout, result.stdout[-6000:]
    assert OPSAPI_READS <= answered(events), sorted(answered(events))
