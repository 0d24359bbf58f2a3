"""The drill in a bubble from the browser: a manager or ops starts it from the scenario's page, follows it on
the drill's page, and tears it down there; the page says "proven gone" only when the teardown looked again and
found nothing. Support may not start, open or tear down one."""

from __future__ import annotations

import pytest
from django.urls import reverse

from drportal.audit.models import AuditEvent
from drportal.cloud.models import SimNode
from drportal.inventory.models import Provider, ProviderAccount
from drportal.lib import clock
from scenarios import drills, engine, loader
from scenarios.models import Drill

pytestmark = pytest.mark.django_db

SCENARIO = "cybernance-redis-failover"


def aborted_bubble_drill(alice) -> Drill:
    drill = drills.start_drill(loader.library().get(SCENARIO), alice, bubble=True)
    engine.abort(drill.run_id, alice, reason="rehearsal over")
    return drill


def test_a_manager_starts_a_drill_in_a_bubble_and_lands_on_its_page(client_as):
    response = client_as("mona").post(reverse("scenarios:drill-bubble", args=[SCENARIO]))
    drill = Drill.objects.get()
    assert response.url == reverse("scenarios:drill", args=[drill.pk])
    assert (drill.run.drill, drill.run.bindings["bubble"]) == (True, True)
    assert AuditEvent.objects.filter(action="scenario_run.started", actor__username="mona").exists()
    page = client_as("mona").get(response.url).content.decode()
    assert "In a bubble" in page
    assert "tear down once it has finished" in page  # no teardown while the run goes on
    assert "proven gone" not in page


def test_the_scenario_page_offers_the_bubble_to_ops_and_managers_only(client_as):
    url = reverse("scenarios:detail", args=[SCENARIO])
    bubble = reverse("scenarios:drill-bubble", args=[SCENARIO])
    assert bubble in client_as("mona").get(url).content.decode()
    assert bubble in client_as("alice").get(url).content.decode()
    assert bubble not in client_as("sam").get(url).content.decode()


def test_support_can_neither_start_nor_open_nor_tear_down_a_bubble(client_as, alice):
    drill = aborted_bubble_drill(alice)
    sam = client_as("sam")
    assert sam.post(reverse("scenarios:drill-bubble", args=[SCENARIO])).status_code == 403
    assert sam.get(reverse("scenarios:drill", args=[drill.pk])).status_code == 403
    assert sam.post(reverse("scenarios:drill-teardown", args=[drill.pk])).status_code == 403
    assert Drill.objects.count() == 1
    assert not AuditEvent.objects.filter(action="drill.torn_down").exists()


def test_a_teardown_destroys_what_the_drill_made_and_the_page_shows_it_proven_gone(client_as, alice):
    drill = aborted_bubble_drill(alice)
    # A node the drill left in its sandbox, tagged with one of its steps' keys (as a provisioning step tags it).
    provider = Provider.objects.create(slug="sim", name="Simulated", kind="simulated")
    sandbox = ProviderAccount.objects.create(provider=provider, name="cyb-drill", driver="simulated",
                                             options={"latency_s": 0})
    key = drill.run.steps.first().idempotency_key
    now = clock.now()
    node = SimNode.objects.create(account=sandbox, node_id="sim-left-behind", name="redis-1", image_id="i",
                                  size_id="1GB", location="dfw", created_at=now, ready_at=now, idempotency_key=key,
                                  metadata={"drportal_key": key})
    page = client_as("mona").get(reverse("scenarios:drill", args=[drill.pk])).content.decode()
    assert "Not torn down yet" in page

    response = client_as("mona").post(reverse("scenarios:drill-teardown", args=[drill.pk]), follow=True)

    node.refresh_from_db()
    assert node.terminated_at is not None
    page = response.content.decode()
    assert "nothing of the drill remains" in page
    assert "proven gone" in page
    assert "1 node(s) destroyed" in page
    event = AuditEvent.objects.get(action="drill.torn_down")
    assert (event.actor.username, event.after["destroyed_nodes"]) == ("mona", ["sim-left-behind"])


def test_a_drill_on_the_simulated_cloud_has_nothing_to_tear_down(client_as, alice):
    drill = drills.start_drill(loader.library().get(SCENARIO), alice)
    engine.abort(drill.run_id, alice, reason="rehearsal over")
    page = client_as("mona").post(reverse("scenarios:drill-teardown", args=[drill.pk]), follow=True)
    assert "made nothing to tear down" in page.content.decode()
    assert not AuditEvent.objects.filter(action="drill.torn_down").exists()
