"""The recovery point is a choice: ops pick an older copy before a restore from cloud storage runs, a suspect copy
is never the default and needs a manager, and the customer's notice states the window from the copy used."""

from __future__ import annotations

import sys
from datetime import timedelta

import pytest
from django.urls import reverse

from backups.models import BackupPolicy, BackupRecord, PolicyAssetStatus
from drportal.audit.models import AuditEvent
from drportal.incidents import services as incidents
from drportal.inventory.models import Asset, Customer, CustomerContact, Provider, ProviderAccount, Region, Server, Zone
from drportal.lib import clock
from notifications import notices
from scenarios import engine, recovery_points
from scenarios.choices import StepState
from scenarios.engine import EngineError
from tests.scenarios.conftest import drain, scenario_from

pytestmark = pytest.mark.django_db(transaction=True)

RESTORE = """\
id: test-restore
title: Restore a customer database
disaster_class: server_crash
trigger: "A test"
objectives: {rto_minutes: 60, rpo_minutes: 1560}
owner: ops
last_reviewed: 2026-01-01
steps:
  - id: approve
    kind: approval
    title: Approve the restore
    quote: "databases would be recovered from Cloud Storage"
    reason: "the database is overwritten"
  - id: restore
    kind: automated
    title: Restore acme-db from Cloud Storage
    quote: "they would be recovered from Cloud Storage"
    after: [approve]
    action: restore_database
    params: {asset: acme-db, storage_account: files, poll_s: 0.2}
"""


@pytest.fixture
def world(tmp_path, settings):
    """acme-db on db1 in Dallas, three dumps kept in Kansas City (72 h, 48 h and 24 h old), each a file the
    restore command copies to loaded.txt."""
    settings.CLOUD_DEPLOY_DIR = tmp_path / "work"
    provider = Provider.objects.create(slug="sim", name="Simulated", kind="simulated")
    dallas = Zone.objects.create(region=Region.objects.create(provider=provider, slug="dfw", name="Dallas"),
                                 slug="dfw1", name="DFW 1")
    kansas = Region.objects.create(provider=provider, slug="mci", name="Kansas City")
    Zone.objects.create(region=kansas, slug="mci1", name="MCI 1")
    store = tmp_path / "store"
    (store / "dumps" / "acme").mkdir(parents=True)
    ProviderAccount.objects.create(provider=provider, name="files", driver="local", options={"path": str(store)})
    server = Server.objects.create(name="db1", role="database", zone=dallas)
    acme = Customer.objects.create(slug="acme", name="Acme Freight")
    CustomerContact.objects.create(customer=acme, purpose="outage", email="ops@acme.example")
    loaded = tmp_path / "loaded.txt"
    # The restore command lives on the asset (a scenario's parameters may not hold the {path} placeholder).
    command = [sys.executable, "-c", f"import shutil, sys; shutil.copy(sys.argv[1], {str(loaded)!r})", "{path}"]
    asset = Asset.objects.create(name="acme-db", kind="database", server=server, customer=acme,
                                 metadata={"restore_command": command})
    policy = BackupPolicy.objects.create(name="daily", kind="database_dump", schedule="0 3 * * *",
                                         rpo_objective=timedelta(hours=26))
    PolicyAssetStatus.objects.create(policy=policy, asset=asset)
    now = clock.now()
    records = {}
    for hours in (72, 48, 24):
        (store / "dumps" / "acme" / f"{hours}.dump").write_text(f"rows as of {hours} h ago")
        at = now - timedelta(hours=hours)
        records[hours] = BackupRecord.objects.create(
            policy=policy, asset=asset, started_at=at, completed_at=at, outcome="succeeded", region=kansas,
            container="dumps", key=f"acme/{hours}.dump", size_bytes=20, recovery_point=at, viable=True)
    return {"server": server, "acme": acme, "records": records, "loaded": loaded}


@pytest.fixture
def run(world, alice):
    incident = incidents.declare(alice, title="db1 lost its data", disaster_class="server_crash",
                                 impacted={"servers": [world["server"]]}, public_summary="Acme data restore")
    scenario = scenario_from(RESTORE)
    return engine.start_run(incident, scenario, alice)[0]


def restore_step(run):
    return run.steps.get(step_id="restore")


def approve_and_run(run, mona):
    engine.approve(run.steps.get(step_id="approve").pk, mona, approved=True, notes="go")
    for _ in range(20):
        drain()
        if restore_step(run).state in (StepState.SUCCEEDED, StepState.FAILED):
            break


def test_the_newest_viable_copy_is_the_default(world, run):
    points = recovery_points.candidates(restore_step(run), clock.now())

    assert [c.record for c in points] == [world["records"][24], world["records"][48], world["records"][72]]
    assert [c.default for c in points] == [True, False, False]


def test_ops_restore_from_an_older_point_and_the_notice_states_its_window(world, run, client_as, mona, alice):
    older = world["records"][48]

    response = client_as("alice").post(reverse("scenarios:step-action", args=[restore_step(run).pk, "recovery-point"]),
                                       {"record": older.pk})
    approve_and_run(run, mona)

    assert response.status_code == 302
    step = restore_step(run)
    assert step.state == StepState.SUCCEEDED, step.error
    assert world["loaded"].read_text() == "rows as of 48 h ago"
    assert step.outputs["backup"]["key"] == "acme/48.dump"
    assert AuditEvent.objects.filter(action="scenario_step.recovery_point_chosen").count() == 1
    notice = notices.create_notice(alice, run.incident, "data_loss")
    loss = notices.preview(notice, world["acme"], clock.now()).loss
    (row,) = loss.rows
    assert row.recovery_point == older.recovery_point
    assert 48 * 3600 - 120 < row.seconds_lost < 48 * 3600 + 120
    assert "restored from the copy chosen for the recovery" in row.explanation


def test_without_a_choice_the_notice_states_the_newest_copys_window(world, run, alice):
    notice = notices.create_notice(alice, run.incident, "data_loss")

    (row,) = notices.preview(notice, world["acme"], clock.now()).loss.rows

    assert row.recovery_point == world["records"][24].recovery_point


def test_a_suspect_point_is_never_the_default(world, run, alice):
    recovery_points.mark_suspect(world["records"][24].pk, alice, "written after the ransomware got in")

    points = recovery_points.candidates(restore_step(run), clock.now())

    assert [c.default for c in points] == [False, True, False]
    assert points[0].suspect_reason == "written after the ransomware got in"
    assert AuditEvent.objects.filter(action="backup.marked_suspect").count() == 1


def test_the_default_restore_skips_a_suspect_point(world, run, alice, mona):
    recovery_points.mark_suspect(world["records"][24].pk, alice, "written after the ransomware got in")

    approve_and_run(run, mona)

    assert world["loaded"].read_text() == "rows as of 48 h ago"


def test_a_chosen_suspect_point_fails_the_restore_until_a_manager_approves_it(world, run, alice, mona):
    suspect = world["records"][24]
    recovery_points.mark_suspect(suspect.pk, alice, "written after the ransomware got in")
    recovery_points.choose(restore_step(run).pk, alice, suspect.pk)
    approve_and_run(run, mona)
    step = restore_step(run)
    assert step.state == StepState.FAILED
    assert "is marked suspect (written after the ransomware got in); a manager must approve" in step.error
    assert not world["loaded"].exists()

    recovery_points.approve_suspect(step.pk, mona)
    engine.retry_step(step.pk, alice)
    for _ in range(20):
        drain()
        if restore_step(run).state == StepState.SUCCEEDED:
            break

    assert world["loaded"].read_text() == "rows as of 24 h ago"
    assert AuditEvent.objects.filter(action="scenario_step.suspect_point_approved").count() == 1


def test_ops_cannot_approve_a_suspect_point_and_a_manager_cannot_choose_one(world, run, alice, mona):
    recovery_points.mark_suspect(world["records"][24].pk, alice, "suspicious")
    recovery_points.choose(restore_step(run).pk, alice, world["records"][24].pk)

    with pytest.raises(EngineError, match="only a manager approves"):
        recovery_points.approve_suspect(restore_step(run).pk, alice)
    with pytest.raises(EngineError, match="only ops choose"):
        recovery_points.choose(restore_step(run).pk, mona, world["records"][48].pk)


def test_a_copy_of_another_asset_or_a_made_up_id_is_refused_and_nothing_changes(world, run, client_as):
    other = Asset.objects.create(name="other-db", kind="database")
    stranger = BackupRecord.objects.create(
        policy=world["records"][24].policy, asset=other, started_at=clock.now(), outcome="succeeded",
        container="dumps", key="other/1.dump", recovery_point=clock.now(), viable=True)
    client = client_as("alice")
    url = reverse("scenarios:step-action", args=[restore_step(run).pk, "recovery-point"])

    for value in (stranger.pk, 999999, "1; drop table", ""):
        page = client.post(url, {"record": value}, follow=True).content.decode()
        assert "recovery point" in page.lower()

    assert "record" not in restore_step(run).params


def test_the_point_cannot_change_once_the_restore_ran(world, run, alice, mona):
    approve_and_run(run, mona)

    with pytest.raises(EngineError, match="can only be chosen before it runs"):
        recovery_points.choose(restore_step(run).pk, alice, world["records"][72].pk)


def test_marking_a_point_suspect_needs_a_reason(world, client_as):
    record = world["records"][24]

    client_as("mona").post(reverse("scenarios:point-suspect", args=[record.pk]), {"reason": "  "})

    assert not hasattr(BackupRecord.objects.get(pk=record.pk), "suspect")


def test_the_step_page_lists_the_catalogue_with_the_default_marked(world, run, client_as):
    page = client_as("alice").get(reverse("scenarios:step", args=[restore_step(run).pk])).content.decode()

    assert page.count('name="record"') == 3
    assert page.count("badge s-ok\">default") == 1
    assert "Use the selected recovery point" in page
