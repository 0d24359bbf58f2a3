from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from drportal.audit import log as audit
from drportal.audit.models import AuditEvent


@pytest.fixture
def event(alice) -> AuditEvent:
    return audit.record(alice, "test.changed", alice, before={"a": 1}, after={"a": 2})


def test_it_records_who_what_and_before_after(event, alice):
    assert event.actor == alice
    assert event.actor_label == "alice"
    assert (event.before, event.after) == ({"a": 1}, {"a": 2})
    assert event.object_type == "auth.user"


def test_it_labels_jobs_as_actors(db):
    event = audit.record("job:provision#7", "server.provisioned")
    assert event.actor is None
    assert event.actor_label == "job:provision#7"


def test_the_model_refuses_to_save_twice(event):
    event.action = "rewritten"
    with pytest.raises(PermissionError):
        event.save()


def test_the_queryset_refuses_update_and_delete(event):
    with pytest.raises(PermissionError):
        AuditEvent.objects.filter(pk=event.pk).update(action="x")
    with pytest.raises(PermissionError):
        AuditEvent.objects.all().delete()
    with pytest.raises(PermissionError):
        event.delete()


def test_the_database_refuses_raw_update_and_delete(event):
    for sql in (
        "UPDATE audit_auditevent SET action = 'x'",
        "DELETE FROM audit_auditevent",
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(sql)
    assert AuditEvent.objects.get(pk=event.pk).action == "test.changed"


def test_the_admin_offers_no_change_or_delete(client_as, event):
    client = client_as("ada")
    assert client.get(f"/admin/audit/auditevent/{event.pk}/delete/").status_code == 403
    response = client.post(f"/admin/audit/auditevent/{event.pk}/change/", {"action": "x"})
    assert response.status_code == 403
    assert AuditEvent.objects.get(pk=event.pk).action == "test.changed"
