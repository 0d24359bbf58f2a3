"""The two scenarios the seeds lacked, on real components: GitHub lost (the code re-hosted from a local mirror
with real git) and a Cybernance termination (the customer's data file built by the real export job)."""

from __future__ import annotations

import subprocess
from datetime import timedelta

import pytest

from backups.models import BackupPolicy, BackupRecord
from drportal.audit.models import AuditEvent
from drportal.cloud.actions.base import REGISTRY, StepContext
from drportal.cloud.adapters import git
from drportal.cloud.adapters.errors import AdapterError
from drportal.incidents import services as incidents
from drportal.inventory.models import Asset, Customer
from drportal.lib import clock
from notifications import exports
from notifications.models import CustomerExport
from scenarios import engine, loader
from scenarios.choices import StepState

pytestmark = pytest.mark.django_db


def run_git(*args: str) -> None:
    subprocess.run(["git", *args], check=True, capture_output=True)


@pytest.fixture
def code(tmp_path, settings):
    """An origin with one commit on main and a tag, its local mirror, both as inventory assets, and the backups
    catalogue's record that the mirror was seen in sync."""
    settings.CLOUD_DEPLOY_DIR = tmp_path / "work"
    work, origin, mirror = tmp_path / "checkout", tmp_path / "github" / "platform.git", tmp_path / "local.git"
    run_git("init", "--quiet", "-b", "main", str(work))
    (work / "app.py").write_text("print('cybernance')\n")
    run_git("-C", str(work), "add", "app.py")
    run_git("-C", str(work), "-c", "user.name=t", "-c", "user.email=t@example.test", "commit", "--quiet", "-m", "one")
    run_git("-C", str(work), "tag", "v1")
    run_git("clone", "--quiet", "--bare", str(work), str(origin))
    run_git("clone", "--quiet", "--mirror", str(origin), str(mirror))
    repo = Asset.objects.create(name="cyb-platform-code", kind="code_repository", external_id=f"file://{origin}")
    local = Asset.objects.create(name="cyb-platform-code-local", kind="code_repository", mirror_of=repo,
                                 external_id=f"file://{mirror}")
    policy = BackupPolicy.objects.create(name="cyb-code-mirrors", kind="repository_mirror", schedule="0 * * * *",
                                         rpo_objective=timedelta(days=1))
    seen = clock.now() - timedelta(minutes=20)
    BackupRecord.objects.create(policy=policy, asset=repo, started_at=seen, completed_at=seen, outcome="succeeded",
                                container=local.name, key=local.external_id, provider_state="in_sync",
                                recovery_point=seen, viable=True)
    return {"repo": repo, "local": local, "origin": origin, "target": tmp_path / "recovered" / "platform.git"}


def restore(code, key="r1-restore") -> tuple:
    ctx = StepContext(idempotency_key=key, state={}, params={
        "asset": "cyb-platform-code", "mirror": "cyb-platform-code-local", "target": f"file://{code['target']}"})
    return REGISTRY["restore_repository"].execute(ctx), ctx


def test_the_code_is_re_hosted_from_the_local_mirror_with_every_branch_and_tag(code):
    outcome, _ = restore(code)

    assert outcome.done
    assert git.ls_remote(f"file://{code['target']}") == git.ls_remote(f"file://{code['origin']}")
    assert set(git.ls_remote(f"file://{code['target']}")) == {"refs/heads/main", "refs/tags/v1"}
    code["repo"].refresh_from_db()
    assert code["repo"].external_id == f"file://{code['target']}"
    assert code["repo"].metadata["recovered_from"] == "cyb-platform-code-local"
    assert AuditEvent.objects.filter(action="repository.rehosted").count() == 1


def test_re_hosting_again_pushes_nothing_and_records_nothing_new(code):
    restore(code)

    outcome, ctx = restore(code)

    assert outcome.done
    assert any("already holds every ref" in line for line in ctx.log)
    assert AuditEvent.objects.filter(action="repository.rehosted").count() == 1


def test_a_mirror_never_seen_in_sync_is_refused_before_anything_is_pushed(code):
    BackupRecord.objects.filter(asset=code["repo"]).delete()

    with pytest.raises(AdapterError, match="no mirror of cyb-platform-code was ever seen in sync"):
        restore(code)
    assert not code["target"].exists()


def test_a_mirror_of_another_repository_is_refused(code):
    ctx = StepContext(idempotency_key="k", state={}, params={
        "asset": "cyb-platform-code", "mirror": "someone-elses-mirror", "target": f"file://{code['target']}"})

    with pytest.raises(AdapterError, match=r"params\.mirror: .someone-elses-mirror. is not a mirror"):
        REGISTRY["restore_repository"].execute(ctx)


@pytest.fixture
def summit(db, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    return Customer.objects.create(slug="cyb-summit-manufacturing", name="Summit Manufacturing", status="terminated")


def test_a_termination_run_exports_the_terminated_customer_and_follows_the_export_to_ready(summit, alice):
    scenario = loader.library().get("cybernance-customer-termination")
    incident = incidents.declare(alice, title="Summit asks for its data file", disaster_class="other")
    run, _ = engine.start_run(incident, scenario, alice)
    step = run.steps.get(step_id="export")
    ctx = StepContext(idempotency_key=step.idempotency_key, params=step.params, state={}, incident_id=incident.pk)

    assert step.item == "cyb-summit-manufacturing"
    first = REGISTRY["export_customer_data"].execute(ctx)
    assert not first.done
    exports.build(ctx.state["export"])
    second = REGISTRY["export_customer_data"].execute(ctx)

    assert second.done
    assert second.output["customer"] == "cyb-summit-manufacturing"
    assert second.output["size_bytes"] > 0
    assert CustomerExport.objects.filter(customer=summit).count() == 1


def test_a_retry_that_lost_its_state_finds_the_export_instead_of_requesting_another(summit, alice):
    incident = incidents.declare(alice, title="Summit asks for its data file", disaster_class="other")
    run, _ = engine.start_run(incident, loader.library().get("cybernance-customer-termination"), alice)
    step = run.steps.get(step_id="export")
    REGISTRY["export_customer_data"].execute(
        StepContext(idempotency_key=step.idempotency_key, params=step.params, state={}, incident_id=incident.pk))

    REGISTRY["export_customer_data"].execute(
        StepContext(idempotency_key=step.idempotency_key, params=step.params, state={}, incident_id=incident.pk))

    assert CustomerExport.objects.filter(customer=summit).count() == 1


def test_an_export_step_whose_incident_has_no_run_is_refused_and_requests_nothing(summit, alice):
    # The run is the engine's (a layer above): scenarios registers the lookup, notifications never imports it.
    incident = incidents.declare(alice, title="Summit asks for its data file", disaster_class="other")
    ctx = StepContext(idempotency_key="no-run", params={"customer": summit.slug}, state={}, incident_id=incident.pk)

    with pytest.raises(AdapterError, match="the export step needs the run of its incident"):
        REGISTRY["export_customer_data"].execute(ctx)
    assert not CustomerExport.objects.exists()


def test_an_active_customer_is_not_exported_unless_the_incident_names_it(summit, alice):
    Customer.objects.create(slug="cyb-capitol-bank", name="Capitol Community Bank")
    incident = incidents.declare(alice, title="Summit asks for its data file", disaster_class="other")

    run, _ = engine.start_run(incident, loader.library().get("cybernance-customer-termination"), alice)

    assert list(run.steps.filter(step_id="export").values_list("item", flat=True)) == ["cyb-summit-manufacturing"]
    assert run.steps.get(step_id="confirm-request").state == StepState.READY
