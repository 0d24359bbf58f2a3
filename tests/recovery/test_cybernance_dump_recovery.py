"""Cybernance loses both databases and point-in-time restore cannot be used, for real (not a drill): the seed
scenario's other branch restores the newest daily off-site dump of the platform database from S3 (a moto
server), as the seed inventory describes it (cyb-rds-prod: dumps[] in the cybernance-offsite-dumps bucket,
restore with pg_restore), and the rows restored are counted against the dump.

What moto cannot prove: moto's RDS runs no PostgreSQL, so the dump is loaded into a PostgreSQL server of the
test's own (restore.host, what the inventory names as the instance ops keep for this), and S3's real listing
latency and multipart ETags."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from drportal.audit.models import AuditEvent
from drportal.incidents import services as incidents
from drportal.inventory.importer import import_inventory
from drportal.inventory.models import Asset, ProviderAccount
from scenarios import engine, loader
from scenarios.choices import RunState, StepState
from tests.recovery.conftest import run_to_the_end

pytestmark = pytest.mark.django_db(transaction=True)

SEED = Path(__file__).resolve().parents[2] / "inventories" / "cybernance.yaml"
BUCKET = "cybernance-offsite-dumps"


def client(moto, service: str):
    return boto3.client(service, endpoint_url=moto.endpoint, region_name="us-east-1", aws_access_key_id="AKIDTEST",
                        aws_secret_access_key="moto-secret")


def upload_dump(pg_peer, tmp_path, key: str, customers: int, moto) -> None:
    """A pg_dump of a platform database holding `customers` customer rows, put in S3 under `key`."""
    pg_peer.sql("DROP DATABASE IF EXISTS cybernance_source")
    pg_peer.sql("CREATE DATABASE cybernance_source")
    # Numbers only go into these statements.
    pg_peer.sql("CREATE TABLE customers (id int PRIMARY KEY, name text); CREATE TABLE findings (id int, score int);"  # noqa: S608
                f"INSERT INTO customers SELECT g, 'customer ' || g FROM generate_series(1, {int(customers)}) g;"
                f"INSERT INTO findings SELECT g, g % 5 FROM generate_series(1, {int(customers) * 3}) g",
                "cybernance_source")
    path = tmp_path / key.replace("/", "_")
    pg_peer.dump("cybernance_source", path)
    pg_peer.sql("DROP DATABASE cybernance_source")
    client(moto, "s3").upload_file(str(path), BUCKET, key)


@pytest.fixture
def cybernance(db, moto, pg_peer, tmp_path, settings):
    """The Cybernance seed with its AWS account pointed at moto, the RDS instance, and two daily dumps in S3."""
    import_inventory(SEED.read_text(), actor="test:setup", source=SEED.name)
    settings.CLOUD_DEPLOY_DIR = tmp_path / "deployments"
    account = ProviderAccount.objects.get(name="cybernance-aws")
    account.options = {**account.options, "endpoint_url": moto.endpoint}
    account.set_credentials({"key": "AKIDTEST", "secret": "moto-secret"})
    account.save()
    database = Asset.objects.get(name="cyb-rds-prod")
    # The PostgreSQL the dump is loaded into (moto's RDS runs none): this test's own server.
    database.restore = {**database.restore, "host": pg_peer.host, "port": pg_peer.port}
    database.save(update_fields=["restore"])
    client(moto, "rds").create_db_instance(
        DBInstanceIdentifier="cybernance-prod", Engine="postgres", DBInstanceClass="db.m5.xlarge", AllocatedStorage=100,
        MasterUsername="cyb", MasterUserPassword="moto-only-pw", MultiAZ=True)
    client(moto, "s3").create_bucket(Bucket=BUCKET)
    upload_dump(pg_peer, tmp_path, "cybernance-prod/2026-12-04T0300.dump", customers=4, moto=moto)
    upload_dump(pg_peer, tmp_path, "cybernance-prod/2026-12-05T0300.dump", customers=6, moto=moto)
    pg_peer.sql("DROP DATABASE IF EXISTS cybernance")
    yield database
    pg_peer.sql("DROP DATABASE IF EXISTS cybernance")


def test_cybernance_restores_its_newest_offsite_dump_from_s3_when_point_in_time_restore_cannot_be_used(
        cybernance, moto, pg_peer, alice, mona):
    incident = incidents.declare(alice, title="Both databases lost", disaster_class="database_total_loss",
                                 impacted={"assets": [cybernance]})
    run, _ = engine.start_run(incident, loader.library().get("cybernance-database-total-loss"), alice)
    run = run_to_the_end(run, alice, mona, choices={"pitr-possible": "offsite"})

    failed = {r.step_id: r.error for r in run.steps.filter(state=StepState.FAILED)}
    assert failed == {}
    assert (run.drill, run.state) == (False, RunState.SUCCEEDED)
    assert run.steps.get(step_id="restore-pitr").state == StepState.SKIPPED  # the branch not taken

    step = run.steps.get(step_id="restore-offsite-dump")
    assert step.outputs["dump"]["container"] == BUCKET
    assert step.outputs["dump"]["key"] == "cybernance-prod/2026-12-05T0300.dump"  # the newest of the two
    assert step.outputs["rows_checked"] is True
    # The rows the newest dump holds are what the restored database holds.
    assert pg_peer.sql("SELECT count(*) FROM customers", "cybernance").strip() == "6"
    assert pg_peer.sql("SELECT count(*) FROM findings", "cybernance").strip() == "18"
    assert step.outputs["tables"] == {"public.customers": 6, "public.findings": 18}
    assert AuditEvent.objects.filter(action="database.restored", object_id=str(cybernance.pk)).count() == 1
    # RDS was not asked for anything: the only instance is the one that was there.
    instances = client(moto, "rds").describe_db_instances()["DBInstances"]
    assert [d["DBInstanceIdentifier"] for d in instances] == ["cybernance-prod"]
