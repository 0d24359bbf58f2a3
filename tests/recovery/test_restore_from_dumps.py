"""restore_database for a database whose inventory entry says where its dumps live: the newest dump in S3 (on a
moto server) restored with pg_restore into a PostgreSQL server of its own, its rows counted against the dump;
and what it refuses: a database that already has tables, a dump that is not one, a place with no dump."""

from __future__ import annotations

import boto3
import pytest

from drportal.cloud.actions.base import REGISTRY
from drportal.cloud.adapters.errors import AdapterError
from drportal.cloud.models import Deployment
from drportal.inventory.models import Asset, ProviderAccount
from tests.cloud.conftest import make_server
from tests.cloud.helpers import ctx

pytestmark = pytest.mark.django_db


@pytest.fixture
def bucket(moto):
    s3 = boto3.client("s3", endpoint_url=moto.endpoint, region_name="us-east-1", aws_access_key_id="AKIDTEST",
                      aws_secret_access_key="moto-secret")
    s3.create_bucket(Bucket="cyb-dumps")
    return s3


@pytest.fixture
def customer_db(moto, aws_location, pg_peer, settings, tmp_path):
    settings.CLOUD_DEPLOY_DIR = tmp_path / "deployments"
    account = ProviderAccount.objects.create(provider=aws_location.region.provider, name="aws-dumps", driver="aws",
                                             options={"region": "us-east-1", "endpoint_url": moto.endpoint})
    account.set_credentials({"key": "AKIDTEST", "secret": "moto-secret"})
    account.save()
    server = make_server(aws_location, account, name="db1", role="database", private_ips=["10.0.0.5"])
    pg_peer.sql("DROP DATABASE IF EXISTS acme_restored")
    yield Asset.objects.create(
        name="db-acme", kind="database", server=server,
        dumps=[{"account": "aws-dumps", "container": "cyb-dumps", "prefix": "db-acme/"}],
        restore={"database": "acme_restored", "method": "pg_restore", "host": pg_peer.host,
                 "port": pg_peer.port})
    pg_peer.sql("DROP DATABASE IF EXISTS acme_restored")


def upload_dump(pg_peer, bucket, tmp_path, key: str, rows: int) -> None:
    pg_peer.sql("DROP DATABASE IF EXISTS acme_source")
    pg_peer.sql("CREATE DATABASE acme_source")
    pg_peer.sql(f"CREATE TABLE t (id int); INSERT INTO t SELECT generate_series(1, {int(rows)})", "acme_source")
    path = tmp_path / key.replace("/", "_")
    pg_peer.dump("acme_source", path)
    pg_peer.sql("DROP DATABASE acme_source")
    bucket.upload_file(str(path), "cyb-dumps", key)


def restore(key: str = "step-restore"):
    action, context = REGISTRY["restore_database"], ctx(key, asset="db-acme")
    outcome = action.execute(context)
    for _ in range(600):
        if outcome.done:
            return outcome
        import time

        time.sleep(0.05)  # pg_restore runs detached: let it work
        outcome = action.execute(context)
    return outcome


def test_it_restores_the_newest_dump_from_s3_and_counts_the_rows(pg_peer, bucket, customer_db, tmp_path):
    upload_dump(pg_peer, bucket, tmp_path, "db-acme/1-older.dump", rows=5)
    upload_dump(pg_peer, bucket, tmp_path, "db-acme/2-newer.dump", rows=12)

    outcome = restore()

    assert outcome.done
    assert outcome.output["dump"]["key"] == "db-acme/2-newer.dump"
    assert outcome.output["tables"] == {"public.t": 12}
    assert pg_peer.sql("SELECT count(*) FROM t", "acme_restored").strip() == "12"


def test_it_refuses_to_restore_over_a_database_that_already_has_tables(pg_peer, bucket, customer_db, tmp_path):
    upload_dump(pg_peer, bucket, tmp_path, "db-acme/1.dump", rows=3)
    pg_peer.sql("CREATE DATABASE acme_restored")
    pg_peer.sql("CREATE TABLE precious (id int); INSERT INTO precious VALUES (1)", "acme_restored")

    with pytest.raises(AdapterError) as refused:
        restore()

    assert refused.value.code == "TargetNotEmpty"
    assert pg_peer.sql("SELECT count(*) FROM precious", "acme_restored").strip() == "1"


def test_an_object_that_is_no_dump_fails_before_anything_runs(pg_peer, bucket, customer_db):
    bucket.put_object(Bucket="cyb-dumps", Key="db-acme/garbage.dump", Body=b"this is not a pg_dump archive")

    with pytest.raises(AdapterError) as failed:
        restore()

    assert failed.value.code == "BadDump"
    assert not Deployment.objects.exists()
    assert "acme_restored" not in pg_peer.databases()


def test_a_place_without_dumps_is_a_permanent_error_naming_it(bucket, customer_db):
    with pytest.raises(AdapterError) as failed:
        restore()

    assert failed.value.permanent
    assert "no dump of db-acme in aws-dumps:cyb-dumps/db-acme/" in str(failed.value)


def test_a_retried_step_restores_once(pg_peer, bucket, customer_db, tmp_path):
    upload_dump(pg_peer, bucket, tmp_path, "db-acme/1.dump", rows=4)

    first, again = restore("same-step"), restore("same-step")

    assert first.output["rows"] == again.output["rows"] == 4
    assert Deployment.objects.count() == 1
