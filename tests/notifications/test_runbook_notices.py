"""A runbook notify step to customers (notifications.api.notify_customers), through the real scenarios engine,
a real RQ worker process and aiosmtpd: each customer contact gets one message with its own data-loss window,
and a repeated step sends nothing more."""

from __future__ import annotations

import textwrap
from collections import Counter

import pytest

from drportal.incidents import services as incidents
from drportal.inventory.choices import ContactPurpose
from drportal.inventory.models import CustomerContact
from notifications import api
from notifications.choices import DeliveryState, NoticeKind
from notifications.models import Delivery, Notice
from scenarios import engine, loader
from scenarios.choices import RunState, StepState
from tests.notifications.test_worker_killed import worker

RUNBOOK = """\
id: test-notify-customers
title: Tell customers
disaster_class: datacenter_offline
trigger: "A test"
objectives: {rto_minutes: 30, rpo_minutes: 60}
owner: ops
last_reviewed: 2026-01-01
steps:
- id: tell-customers
  kind: notify
  title: Tell customers about the outage
  quote: "Jivasoft staff would notify all impacted customers of the outage"
  audience: customers
  subject: "Service interruption (incident {incident_id})"
  body: "Dallas is offline. We expect service back within {rto_minutes} minutes."
"""


def runbook() -> loader.Scenario:
    scenario, errors = loader.parse(textwrap.dedent(RUNBOOK), "test.yaml", loader.installed_actions())
    assert errors == [], errors
    return scenario


def dallas_offline(world):
    return incidents.declare(world.users["alice"], title="Dallas DC1 offline", disaster_class="datacenter_offline",
                             impacted={"zones": [world.dfw1]}, public_summary="Dallas is offline")


CUSTOMER_ADDRESSES = {"ops@acme.example", "dba@acme.example", "ops@globex.example", "it@hooli.example"}


@pytest.mark.django_db(transaction=True)
def test_a_runbook_step_sends_each_customer_contact_one_message_with_its_own_window(world, smtp, smtp_server,
                                                                                     redis_conn):
    CustomerContact.objects.create(customer=world.customers["acme"], purpose=ContactPurpose.OUTAGE,
                                   email="dba@acme.example")
    incident = dallas_offline(world)
    run, _ = engine.start_run(incident, runbook(), world.users["alice"])

    done = worker(smtp_server.port)
    _, err = done.communicate(timeout=120)
    assert done.returncode == 0, err.decode()[-2000:]

    run.refresh_from_db()
    step = run.steps.get()
    assert (run.state, step.state) == (RunState.SUCCEEDED, StepState.SUCCEEDED), step.log
    received = Counter(r for r in smtp.recipients() if r in CUSTOMER_ADDRESSES | {"ops@initech.example"})
    assert received == Counter(CUSTOMER_ADDRESSES)  # once each; initech (Kansas City) and billing never
    bodies = {rcpts[0]: msg.get_body(("plain",)).get_content() for rcpts, msg in smtp.messages}
    assert "Dallas is offline. We expect service back within 30 minutes." in bodies["ops@acme.example"]
    assert "acme-db" in bodies["ops@acme.example"]
    assert "globex-db" not in bodies["ops@acme.example"]
    assert "None of your data is affected." in bodies["it@hooli.example"]  # hit through the SaaS only
    notice = Notice.objects.get(pk=step.outputs["notice"])
    assert (notice.kind, notice.dedupe_key, step.outputs["customers"]) == (NoticeKind.RUNBOOK,
                                                                           step.idempotency_key, 3)


@pytest.mark.django_db(transaction=True)
def test_a_retried_step_finds_its_notice_and_nothing_is_sent_twice(world, smtp, smtp_server, redis_conn):
    incident = dallas_offline(world)
    first = api.notify_customers(incident_id=incident.pk, subject="Outage", body="Dallas is offline.",
                                 dedupe_key="run:1:step:tell")
    again = api.notify_customers(incident_id=incident.pk, subject="Outage", body="Dallas is offline.",
                                 dedupe_key="run:1:step:tell")
    assert (first["already_queued"], again["already_queued"]) == (False, True)
    assert again["notice"] == first["notice"]
    assert Notice.objects.filter(incident=incident, kind=NoticeKind.RUNBOOK).count() == 1

    done = worker(smtp_server.port)  # both calls' send jobs are in the queue: one sends, one finds nothing
    _, err = done.communicate(timeout=120)
    assert done.returncode == 0, err.decode()[-2000:]

    received = Counter(r for r in smtp.recipients() if r.endswith(("acme.example", "globex.example", "hooli.example")))
    assert received == Counter({"ops@acme.example": 1, "ops@globex.example": 1, "it@hooli.example": 1})
    assert set(Delivery.objects.filter(notice_id=first["notice"]).values_list("state", flat=True)) == {
        DeliveryState.SENT}


def test_a_runbooks_braces_are_sent_as_written(world):
    incident = dallas_offline(world)
    result = api.notify_customers(incident_id=incident.pk, subject="Use {code} now",
                                  body="Type {{ customer.name }} or {% now 'Y' %} literally.", dedupe_key="k")
    delivery = Delivery.objects.filter(notice_id=result["notice"], address="ops@acme.example").get()
    assert delivery.subject == "Use {code} now"
    assert "Type {{ customer.name }} or {% now 'Y' %} literally." in delivery.body_text
    assert delivery.body_text.startswith("Dear Acme,")


@pytest.mark.django_db(transaction=True)
def test_a_drill_never_writes_to_customers(world, redis_conn):
    from scenarios import drills
    from tests.scenarios.conftest import drain

    drill = drills.start_drill(runbook(), world.users["alice"])
    drain()
    step = drill.run.steps.get()
    assert (step.state, step.outputs["handover"]) == (StepState.WAITING, "send by hand")
    assert not Notice.objects.filter(kind=NoticeKind.RUNBOOK).exists()


@pytest.mark.django_db
def test_a_notice_whose_subject_claims_the_service_is_back_is_listed_by_the_steps_words_never_its_template(
        world, client_as):
    # Found in the demo: the incident page listed "{% if restores_missing %}[INC-8] Recovery still in progress{%
    # else %}[INC-8] Service restored{% endif %}", the guarded subject's source.
    incident = dallas_offline(world)
    api.notify_customers(incident_id=incident.pk, subject=f"[INC-{incident.pk}] Service restored",
                         body="The service is available again.", dedupe_key="test:restored")
    notice = Notice.objects.get()
    assert "{% if restores_missing %}" in notice.subject  # kept guarded: each customer gets what their rows back
    assert notice.title == f"[INC-{incident.pk}] Service restored"
    page = client_as("alice").get(f"/incidents/{incident.pk}/").content.decode()
    assert notice.title in page
    assert "{%" not in page


@pytest.mark.django_db
def test_the_incident_page_says_how_many_of_a_notices_messages_were_sent_and_how_many_need_a_person(
        world, client_as):
    incident = dallas_offline(world)
    api.notify_customers(incident_id=incident.pk, subject="Outage", body="Dallas is offline.", dedupe_key="k:1")
    deliveries = list(Delivery.objects.order_by("pk"))
    assert len(deliveries) >= 3
    Delivery.objects.filter(pk=deliveries[0].pk).update(state=DeliveryState.SENT)
    Delivery.objects.filter(pk=deliveries[1].pk).update(state=DeliveryState.BOUNCED)
    page = " ".join(client_as("sam").get(f"/incidents/{incident.pk}/").content.decode().split())
    assert f": 1 of {len(deliveries)} messages sent, " in page
    assert "1 failed, bounced or in doubt" in page
