"""Approve from the message: the e-mail asking a manager to approve a step carries a personal, signed,
single-use, short-lived link; opening it shows the step and asks for one confirmation by POST."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.urls import reverse

from drportal.audit.models import AuditEvent
from drportal.lib import clock
from notifications import sender
from scenarios import engine, loader
from scenarios.models import ApprovalLink
from tests.notifications import conftest as mail

smtp, smtp_server = mail.smtp, mail.smtp_server  # the real aiosmtpd receiver, by fixture name
LINK = re.compile(r"https?://\S+/scenarios/approve/[^/\s]+/")


@pytest.fixture
def approval_step(declare, make_servers, alice, users, django_capture_on_commit_callbacks):
    """A Jivosoft server-crash run at its approval step, with the approvers' message already sent."""
    servers = make_servers(1, provider="rackspace")
    with django_capture_on_commit_callbacks(execute=True):
        run, _ = engine.start_run(declare(servers=servers), loader.library().get("jivosoft-server-crash"), alice)
        engine.complete_step(run.steps.get(step_id="ask-provider").pk, alice, evidence="ticket 1")
        engine.decide(run.steps.get(step_id="provider-recovers").pk, alice, "no")
    return run.steps.get(step_id="approve-provision")


@pytest.fixture
def mailed_link(approval_step, smtp) -> str:
    sender.send_pending()
    [(_, message)] = [m for m in smtp.messages if m[0] == ["mona@example.test"]]
    assert message["Subject"] == "Approval needed: Approve provisioning a replacement server"
    found = LINK.findall(message.get_body(("plain",)).get_content())
    assert len(found) == 1
    return found[0][found[0].index("/scenarios/"):]


def test_a_manager_approves_a_step_from_the_link_in_her_message(mailed_link, approval_step, client_as):
    client = client_as("mona")
    page = client.get(mailed_link).content.decode()
    assert "Approve: Approve provisioning a replacement server" in page
    assert "web0" in page  # the target server
    assert "Data-loss window so far" in page
    approval_step.refresh_from_db()
    assert approval_step.state == "ready"  # opening the link changed nothing
    response = client.post(mailed_link)
    assert response.url == reverse("scenarios:run", args=[approval_step.run_id])
    approval_step.refresh_from_db()
    assert (approval_step.state, approval_step.actor.username) == ("succeeded", "mona")
    assert AuditEvent.objects.filter(action="scenario_step.approved", object_id=str(approval_step.pk)).exists()
    assert AuditEvent.objects.filter(action="approval_link.used").count() == 1


def test_a_used_link_does_not_work_again(mailed_link, client_as):
    client = client_as("mona")
    client.post(mailed_link)
    again = client.post(mailed_link)
    assert again.status_code == 410
    assert "already used" in again.content.decode()
    assert AuditEvent.objects.filter(action="scenario_step.approved").count() == 1


def test_a_tampered_link_is_refused(mailed_link, approval_step, client_as):
    token = mailed_link.rstrip("/").rsplit("/", 1)[1]
    forged = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
    response = client_as("mona").post(reverse("scenarios:approve-link", args=[forged]))
    assert response.status_code == 410
    assert "not valid" in response.content.decode()
    approval_step.refresh_from_db()
    assert approval_step.state == "ready"


def test_a_link_signed_for_another_row_is_refused(mailed_link, approval_step, client_as, mona):
    from django.core import signing

    from scenarios.approval_links import SALT

    link = ApprovalLink.objects.get(user=mona)
    guessed = signing.dumps({"l": link.pk, "n": "guessed"}, salt=SALT, compress=True)
    assert client_as("mona").post(reverse("scenarios:approve-link", args=[guessed])).status_code == 410


def test_an_expired_link_is_refused(mailed_link, approval_step, client_as):
    with time_machine.travel(clock.now() + timedelta(minutes=61), tick=False):
        response = client_as("mona").post(mailed_link)
    assert response.status_code == 410
    assert "expired" in response.content.decode()
    approval_step.refresh_from_db()
    assert approval_step.state == "ready"


def test_the_link_dies_once_the_step_moved_on(mailed_link, approval_step, client_as, ada):
    engine.approve(approval_step.pk, ada, approved=True)
    response = client_as("mona").get(mailed_link)
    assert response.status_code == 410
    assert "no longer waits for an approval" in response.content.decode()


def test_someone_else_cannot_use_a_managers_link(mailed_link, approval_step, client_as):
    response = client_as("alice").post(mailed_link)
    assert response.status_code == 410
    assert "was sent to mona" in response.content.decode()
    approval_step.refresh_from_db()
    assert approval_step.state == "ready"


def test_a_manager_who_lost_the_role_cannot_use_her_link(mailed_link, approval_step, client_as, mona):
    mona.groups.remove(Group.objects.get(name="manager"))
    mona.groups.add(Group.objects.get_or_create(name="support")[0])
    response = client_as("mona").post(mailed_link)
    assert response.status_code == 410
    assert "Only a manager can approve" in response.content.decode()
    approval_step.refresh_from_db()
    assert approval_step.state == "ready"


def test_an_anonymous_visitor_is_sent_to_sign_in_first(mailed_link, client):
    response = client.get(mailed_link)
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_paging_twice_issues_one_set_of_links(approval_step, mona):
    from scenarios.approval_links import page_approvers

    page_approvers(approval_step.pk, "manager", "Approval needed: Approve provisioning a replacement server", "x")
    assert ApprovalLink.objects.filter(user=mona).count() == 1
