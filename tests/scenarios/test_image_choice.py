"""The image is a choice: before provision_from_image runs, ops may pick any viable catalogued image of the server
(the newest viable is the default), a suspect image is never the default and needs a manager, and an image of
another server or one that expired is refused, before the step and again when it runs. Real runs on the simulated
cloud, performed by the worker's jobs."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse

from backups.models import BackupPolicy, BackupRecord
from drportal.audit.models import AuditEvent
from drportal.cloud.models import SimImage, SimNode
from drportal.incidents import services as incidents
from drportal.inventory.models import Asset, Provider, ProviderAccount, Region, Server, Zone
from drportal.lib import clock
from scenarios import engine, recovery_points
from scenarios.choices import StepState
from scenarios.engine import EngineError
from tests.scenarios.conftest import drain, scenario_from

pytestmark = pytest.mark.django_db(transaction=True)

PROVISION = """\
id: test-provision
title: Provision db1 again
disaster_class: server_crash
trigger: "A test"
objectives: {rto_minutes: 60}
owner: ops
last_reviewed: 2026-01-01
steps:
  - id: approve
    kind: approval
    title: Approve the new server
    quote: "Jivosoft could provision a new server with the most recent viable image of the disabled server."
    reason: "a new server is billed"
  - id: provision
    kind: automated
    title: "Provision {server} from an image"
    quote: "Jivosoft could provision a new server with the most recent viable image of the disabled server."
    after: [approve]
    action: provision_from_image
    for_each: server
    params: {server: "{server}", region: sim/dfw, poll_s: 0}
"""


@pytest.fixture
def world():
    """db1 in Dallas on the simulated cloud with three weekly images (3, 2 and 1 weeks old) and a catalogue record
    of each; web1's image is catalogued too, and db1 has a fourth image whose retention ran out yesterday."""
    provider = Provider.objects.create(slug="sim", name="Simulated", kind="simulated")
    zone = Zone.objects.create(region=Region.objects.create(provider=provider, slug="dfw", name="Dallas"),
                               slug="dfw", name="DFW")
    account = ProviderAccount.objects.create(provider=provider, name="sim", driver="simulated",
                                             options={"latency_s": 0, "locations": ["dfw"], "floating_ips": False})
    policy = BackupPolicy.objects.create(name="weekly images", kind="system_image", schedule="0 4 * * 0",
                                         rpo_objective=timedelta(days=8), retention=timedelta(days=28))
    now = clock.now()
    records = {}
    for name in ("db1", "web1"):
        server = Server.objects.create(name=name, role="database", zone=zone, account=account, size="4GB",
                                       provider_node_id=f"lost-{name}")
        asset = Asset.objects.create(name=name, kind="server", server=server)
        for weeks in ((4, 3, 2, 1) if name == "db1" else (1,)):
            taken = now - timedelta(weeks=weeks)
            image = f"img-{name}-{weeks}"
            SimImage.objects.create(account=account, image_id=image, name=f"{name}-weekly-{weeks}",
                                    server_name=name, location="dfw", created_at=taken)
            records[image] = BackupRecord.objects.create(
                policy=policy, asset=asset, started_at=taken, completed_at=taken, outcome="succeeded",
                region=zone.region, container=account.name, key=image, provider_state="available",
                recovery_point=taken, viable=True,
                expires_at=now - timedelta(days=1) if weeks == 4 else taken + policy.retention)
    return records


@pytest.fixture
def run(world, alice):
    incident = incidents.declare(alice, title="db1 crashed", disaster_class="server_crash",
                                 impacted={"servers": [Server.objects.get(name="db1")]})
    return engine.start_run(incident, scenario_from(PROVISION), alice)[0]


def provision_step(run):
    return run.steps.get(step_id="provision")


def approve_and_run(run, mona):
    engine.approve(run.steps.get(step_id="approve").pk, mona, approved=True, notes="go")
    for _ in range(20):
        drain()
        if provision_step(run).state in (StepState.SUCCEEDED, StepState.FAILED):
            break


def node_image() -> str:
    (node,) = SimNode.objects.exclude(idempotency_key="")
    return node.image_id


def test_the_newest_viable_image_is_the_default_and_the_expired_one_is_not_offered(world, run):
    images = recovery_points.image_candidates(provision_step(run), clock.now())

    assert [c.record.key for c in images] == ["img-db1-1", "img-db1-2", "img-db1-3"]
    assert [c.default for c in images] == [True, False, False]


def test_ops_provision_from_an_older_image_and_the_run_page_shows_it(world, run, client_as, mona):
    client = client_as("alice")
    response = client.post(reverse("scenarios:step-action", args=[provision_step(run).pk, "image"]),
                           {"record": world["img-db1-3"].pk})
    page = client.get(reverse("scenarios:run", args=[run.pk])).content.decode()
    approve_and_run(run, mona)

    assert response.status_code == 302
    assert "image chosen: img-db1-3, taken" in page
    step = provision_step(run)
    assert step.state == StepState.SUCCEEDED, step.error
    assert node_image() == "img-db1-3"
    assert step.outputs["image"] == "img-db1-3"
    assert Server.objects.get(name="db1").image == "img-db1-3"
    assert AuditEvent.objects.filter(action="scenario_step.image_chosen").count() == 1


def test_without_a_choice_the_newest_viable_image_is_used(world, run, mona):
    approve_and_run(run, mona)

    assert node_image() == "img-db1-1"


def test_the_default_skips_a_suspect_image(world, run, alice, mona):
    recovery_points.mark_suspect(world["img-db1-1"].pk, alice, "taken after the bad kernel update")

    images = recovery_points.image_candidates(provision_step(run), clock.now())
    approve_and_run(run, mona)

    assert [c.default for c in images] == [False, True, False]
    assert images[0].suspect_reason == "taken after the bad kernel update"
    assert node_image() == "img-db1-2"


def test_a_chosen_suspect_image_fails_the_step_until_a_manager_approves_it(world, run, alice, mona):
    suspect = world["img-db1-1"]
    recovery_points.mark_suspect(suspect.pk, alice, "taken after the bad kernel update")
    recovery_points.choose_image(provision_step(run).pk, alice, suspect.pk)
    approve_and_run(run, mona)
    step = provision_step(run)
    assert step.state == StepState.FAILED
    assert "is marked suspect (taken after the bad kernel update); a manager must approve" in step.error
    assert not SimNode.objects.exclude(idempotency_key="").exists()

    with pytest.raises(EngineError, match="only a manager approves"):
        recovery_points.approve_suspect(step.pk, alice)
    recovery_points.approve_suspect(step.pk, mona)
    engine.retry_step(step.pk, alice)
    for _ in range(20):
        drain()
        if provision_step(run).state == StepState.SUCCEEDED:
            break

    assert node_image() == "img-db1-1"
    assert AuditEvent.objects.filter(action="scenario_step.suspect_point_approved").count() == 1


def test_an_image_of_another_server_an_expired_one_or_a_made_up_id_is_refused_and_nothing_changes(
        world, run, client_as):
    client = client_as("alice")
    url = reverse("scenarios:step-action", args=[provision_step(run).pk, "image"])
    answers = {}

    for value in (world["img-web1-1"].pk, world["img-db1-4"].pk, 999999, "1; drop table", ""):
        answers[value] = client.post(url, {"record": value}, follow=True).content.decode()

    assert "is not an image of db1" in answers[world["img-web1-1"].pk]
    assert "img-db1-4 of db1 is not viable now (it expired" in answers[world["img-db1-4"].pk]
    assert "choose an image from the list" in answers[""]
    step = provision_step(run)
    assert "image_record" not in step.params
    assert not AuditEvent.objects.filter(action="scenario_step.image_chosen").exists()


def test_an_image_that_expires_after_it_was_chosen_fails_the_step_and_nothing_is_provisioned(world, run, alice, mona):
    oldest = world["img-db1-3"]
    recovery_points.choose_image(provision_step(run).pk, alice, oldest.pk)

    with time_machine.travel(oldest.expires_at + timedelta(hours=1), tick=False):
        approve_and_run(run, mona)

    step = provision_step(run)
    assert step.state == StepState.FAILED
    assert "image img-db1-3 of db1 is no longer viable (expired" in step.error
    assert not SimNode.objects.exclude(idempotency_key="").exists()


def test_a_manager_cannot_choose_and_nobody_can_once_the_step_ran(world, run, alice, mona):
    with pytest.raises(EngineError, match="only ops choose"):
        recovery_points.choose_image(provision_step(run).pk, mona, world["img-db1-2"].pk)

    approve_and_run(run, mona)

    with pytest.raises(EngineError, match="can only be chosen before it runs"):
        recovery_points.choose_image(provision_step(run).pk, alice, world["img-db1-2"].pk)


def test_the_step_page_lists_the_images_with_the_default_marked(world, run, client_as):
    page = client_as("alice").get(reverse("scenarios:step", args=[provision_step(run).pk])).content.decode()

    assert page.count('aria-label="image img-db1-') == 3
    assert page.count('badge s-ok">default') == 1
    assert "Use the selected image" in page
