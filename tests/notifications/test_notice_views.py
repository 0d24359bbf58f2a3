from __future__ import annotations

import pytest

from drportal.audit.models import AuditEvent
from notifications.models import Delivery, Notice, NoticeTemplate
from tests.notifications.factories import crash


@pytest.fixture
def incident(world):
    return crash(world, world.db1, world.db2, public_summary="Some databases are unavailable")


def new_notice(client, incident, kind="outage_declared") -> Notice:
    response = client.post(f"/notifications/incidents/{incident.pk}/notices/new/", {"kind": kind, "timeline": "2h"})
    assert response.status_code == 302
    return Notice.objects.latest("pk")


def test_support_starts_a_notice_from_the_incident_page(client_as, incident):
    client = client_as("sam")
    page = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert "New notice" in page
    notice = new_notice(client, incident)
    html = client.get(f"/notifications/notices/{notice.pk}/").content.decode()
    assert "Acme" in html
    assert "Globex" in html
    assert "Send to 2 customers" in html


def test_editing_a_notice_with_an_unknown_variable_shows_the_error_and_saves_nothing(client_as, incident):
    client = client_as("sam")
    notice = new_notice(client, incident)
    before = notice.body_text
    response = client.post(f"/notifications/notices/{notice.pk}/", {
        "subject": "Hi", "body_text": "Dear {{ customer.nmae }}", "body_html": "", "timeline": "",
        "channels": ["email"],
    })
    assert response.status_code == 200
    assert "unknown variable: customer.nmae" in response.content.decode()
    notice.refresh_from_db()
    assert notice.body_text == before


def test_a_template_with_an_unknown_variable_is_refused_at_save(client_as, db):
    response = client_as("sam").post("/notifications/templates/new/", {
        "name": "Mine", "kind": "update", "subject": "{{ incident.title }}", "body_text": "x", "body_html": "",
    })
    assert "unknown variable: incident.title" in response.content.decode()
    assert not NoticeTemplate.objects.filter(name="Mine").exists()


def test_the_preview_shows_one_customers_message(client_as, incident):
    client = client_as("sam")
    notice = new_notice(client, incident)
    html = client.get(f"/notifications/notices/{notice.pk}/preview/acme/").content.decode()
    assert "Dear Acme" in html
    assert "Dear Globex" not in html


def test_queuing_over_http_writes_deliveries_and_freezes_the_text(client_as, incident, redis_conn):
    client = client_as("sam")
    notice = new_notice(client, incident)
    client.post(f"/notifications/notices/{notice.pk}/queue/")
    assert Delivery.objects.filter(notice=notice, state="queued").count() == 2
    response = client.post(f"/notifications/notices/{notice.pk}/", {
        "subject": "changed", "body_text": "changed", "body_html": "", "timeline": "", "channels": ["email"]})
    assert response.status_code == 302
    notice.refresh_from_db()
    assert notice.subject != "changed"


def test_ops_may_read_a_notice_but_not_send_it(client_as, incident):
    notice = new_notice(client_as("sam"), incident)
    client = client_as("alice")
    assert client.get(f"/notifications/notices/{notice.pk}/").status_code == 200
    assert client.post(f"/notifications/notices/{notice.pk}/queue/").status_code == 403
    assert not Delivery.objects.exists()


def test_support_removes_a_customer_from_the_audience(client_as, world, incident):
    client = client_as("sam")
    notice = new_notice(client, incident)
    client.post(f"/notifications/notices/{notice.pk}/recipients/", {"customer": "globex", "action": "remove"})
    assert list(notice.recipients.filter(excluded=False).values_list("customer__slug", flat=True)) == ["acme"]
    bad = client.post(f"/notifications/notices/{notice.pk}/recipients/", {"customer": "nope", "action": "add"},
                      follow=True)
    assert "customer: Select a valid choice" in bad.content.decode()


def test_an_in_doubt_delivery_is_resolved_from_the_notices_page(client_as, incident, redis_conn):
    client = client_as("sam")
    notice = new_notice(client, incident)
    client.post(f"/notifications/notices/{notice.pk}/queue/")
    d = Delivery.objects.filter(notice=notice).first()
    Delivery.objects.filter(pk=d.pk).update(state="in_doubt", error="worker died")
    html = client.get("/notifications/").content.decode()
    assert "worker died" in html
    assert "Mark delivered" in html
    client.post(f"/notifications/deliveries/{d.pk}/mark_delivered/")
    d.refresh_from_db()
    assert d.state == "sent"
    assert AuditEvent.objects.filter(action="delivery.mark_delivered", actor_label="sam").exists()


def test_the_notices_list_has_a_fixed_query_count(client_as, world, incident, django_assert_num_queries):
    client = client_as("sam")
    for _ in range(3):
        new_notice(client, incident)
    Delivery.objects.create(notice=Notice.objects.first(), channel="email", address="x@y.example", state="failed",
                            subject="s", body_text="b", error="550", created_at=incident.declared_at)
    # session, user, profile (time zone), roles; deliveries needing attention; notices with their counts.
    with django_assert_num_queries(6):
        client.get("/notifications/")
    for _ in range(3):
        new_notice(client, incident)
    with django_assert_num_queries(6):
        client.get("/notifications/")


def test_support_lists_and_edits_templates(client_as, db):
    client = client_as("sam")
    html = client.get("/notifications/templates/").content.decode()
    assert "Default: Data-loss statement" in html
    template = NoticeTemplate.objects.get(kind="update")
    page = client.get(f"/notifications/templates/{template.pk}/").content.decode()
    assert "customer.name" in page  # the list of variables
    client.post(f"/notifications/templates/{template.pk}/", {
        "name": template.name, "kind": "update", "subject": "Update for {{ customer.name }}",
        "body_text": "{{ timeline }}", "body_html": ""})
    template.refresh_from_db()
    assert template.subject == "Update for {{ customer.name }}"
    assert AuditEvent.objects.filter(action="notice_template.saved", actor_label="sam").exists()
