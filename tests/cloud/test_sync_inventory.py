from __future__ import annotations

import boto3
import django_rq
import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from rq import SimpleWorker

from drportal.audit.models import AuditEvent
from drportal.inventory.models import Asset, Server
from tests.cloud.helpers import ec2, launch

pytestmark = pytest.mark.django_db


def rds_instance(moto, name: str) -> None:
    boto3.client("rds", endpoint_url=moto.endpoint, region_name="us-east-1", aws_access_key_id="a",
                 aws_secret_access_key="b").create_db_instance(
        DBInstanceIdentifier=name, DBInstanceClass="db.t3.medium", Engine="postgres", MasterUsername="u",
        MasterUserPassword="password123", AllocatedStorage=20, MultiAZ=True)


def test_it_creates_servers_and_managed_databases(moto, moto_account, capsys):
    node = launch(moto, "app1")
    rds_instance(moto, "cyber-db")
    call_command("sync_inventory", "aws-test")
    server = Server.objects.get(name="app1")
    assert server.provider_node_id == node
    assert server.account == moto_account
    assert server.size == "t2.micro"
    assert server.public_ips
    asset = Asset.objects.get(external_id="cyber-db")
    assert asset.kind == "managed_database"
    assert asset.metadata["multi_az"] is True
    assert "2 created" in capsys.readouterr().out
    assert AuditEvent.objects.filter(action="server.discovered").count() == 1


def test_a_second_sync_updates_in_place_and_marks_the_vanished(moto, moto_account):
    keep, gone = launch(moto, "app1"), launch(moto, "app2")
    call_command("sync_inventory", "aws-test")
    ec2(moto).terminate_instances(InstanceIds=[gone])
    call_command("sync_inventory", "aws-test")
    assert Server.objects.count() == 2
    assert Server.objects.get(provider_node_id=keep).status == "active"
    assert Server.objects.get(provider_node_id=gone).status == "vanished"
    assert AuditEvent.objects.filter(action="server.vanished").count() == 1


def test_an_unknown_account_names_the_argument(db):
    with pytest.raises(CommandError, match="account: no provider account named 'nope'"):
        call_command("sync_inventory", "nope")


def test_a_provider_error_writes_nothing(moto, moto_account, faulty, fast_retries):
    launch(moto, "app1")
    moto_account.options = {**moto_account.options, "endpoint_url": faulty.endpoint}
    moto_account.save()
    faulty.answer(500, "<Response><Errors><Error><Code>InternalError</Code><Message>boom</Message></Error></Errors>"
                       "</Response>")
    with pytest.raises(CommandError, match="boom"):
        call_command("sync_inventory", "aws-test")
    assert not Server.objects.exists()


def test_the_admin_button_queues_a_job_that_syncs(moto, moto_account, client_as, django_capture_on_commit_callbacks):
    launch(moto, "app9")
    queue = django_rq.get_queue("default")
    queue.empty()
    with django_capture_on_commit_callbacks(execute=True):
        response = client_as("ada").post(reverse("cloud:sync", args=[moto_account.pk]))
    assert response.status_code == 302
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    assert Server.objects.filter(name="app9").exists()
    assert AuditEvent.objects.filter(action="server.discovered").first().actor_label.startswith("job:sync_inventory#")


def test_only_admins_may_sync(moto_account, client_as):
    assert client_as("alice").post(reverse("cloud:sync", args=[moto_account.pk])).status_code == 403
