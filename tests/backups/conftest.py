"""The two seed companies in miniature: Jivosoft on Rackspace (Dallas, Kansas City) with a customer database
dumped daily in Dallas and copied weekly to Kansas City; Cybernance on AWS us-east-1 with RDS point-in-time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from backups.choices import LocationRule, Outcome, PolicyKind
from backups.models import BackupPolicy, BackupRecord
from drportal.inventory.choices import AssetKind, ServerRole
from drportal.inventory.models import Asset, Customer, Provider, Region, Server, Zone


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC) if "+" not in text else datetime.fromisoformat(text)


@pytest.fixture
def world(db) -> SimpleNamespace:
    rackspace = Provider.objects.create(slug="rackspace", name="Rackspace", kind="rackspace")
    dfw = Region.objects.create(provider=rackspace, slug="dfw", name="Dallas")
    mci = Region.objects.create(provider=rackspace, slug="mci", name="Kansas City")
    dfw1 = Zone.objects.create(region=dfw, slug="dfw1", name="Dallas DC")
    mci1 = Zone.objects.create(region=mci, slug="mci1", name="Kansas City DC")
    aws = Provider.objects.create(slug="aws", name="AWS", kind="aws")
    use1 = Region.objects.create(provider=aws, slug="us-east-1", name="N. Virginia")
    use1a = Zone.objects.create(region=use1, slug="us-east-1a", name="us-east-1a")
    use1b = Zone.objects.create(region=use1, slug="us-east-1b", name="us-east-1b")
    acme = Customer.objects.create(slug="acme", name="Acme Dental")
    zeta = Customer.objects.create(slug="zeta", name="Zeta Clinics")
    db1 = Server.objects.create(name="db1", role=ServerRole.DATABASE, zone=dfw1)
    db1_image = Asset.objects.create(name="db1", kind=AssetKind.SERVER, server=db1)
    acme_db = Asset.objects.create(name="acme-db", kind=AssetKind.DATABASE, server=db1, customer=acme)
    zeta_db = Asset.objects.create(name="zeta-db", kind=AssetKind.DATABASE, server=db1, customer=zeta)
    rds = Asset.objects.create(name="cybernance-rds", kind=AssetKind.MANAGED_DATABASE, zone=use1a,
                               external_id="cybernance-prod")
    daily = BackupPolicy.objects.create(
        name="Daily database dumps (Dallas)", kind=PolicyKind.DATABASE_DUMP, schedule="0 4 * * *",
        time_zone="America/Chicago", grace=timedelta(hours=2), rpo_objective=timedelta(hours=26),
        retention=timedelta(days=14), verify_within=timedelta(days=30),
    )
    weekly = BackupPolicy.objects.create(
        name="Weekly database copies (Kansas City)", kind=PolicyKind.DATABASE_DUMP, schedule="0 5 * * 0",
        time_zone="America/Chicago", grace=timedelta(hours=6), rpo_objective=timedelta(days=8),
        retention=timedelta(days=60), location_rule=LocationRule.OFFSITE_REGION,
    )
    images = BackupPolicy.objects.create(
        name="Weekly system images", kind=PolicyKind.SYSTEM_IMAGE, schedule="0 2 * * 6",
        time_zone="America/Chicago", grace=timedelta(hours=4), rpo_objective=timedelta(days=8),
        location_rule=LocationRule.OFFSITE_REGION,
    )
    pitr = BackupPolicy.objects.create(
        name="RDS point-in-time", kind=PolicyKind.POINT_IN_TIME, schedule="*/5 * * * *",
        grace=timedelta(minutes=5), rpo_objective=timedelta(minutes=5), retention=timedelta(days=7),
        location_rule=LocationRule.OFFSITE_ZONE,
    )
    daily.assets.add(acme_db, zeta_db)
    weekly.assets.add(acme_db, zeta_db)
    images.assets.add(db1_image)
    pitr.assets.add(rds)
    return SimpleNamespace(**locals())


def record(policy, asset, started: datetime, *, zone=None, region=None, outcome=Outcome.SUCCEEDED,
           minutes: int = 20, size: int = 1000, sha256: str = "a" * 64, provider_state: str = "",
           recovery_point: datetime | None = None, client_id: str = "", container: str = "",
           key: str = "") -> BackupRecord:
    """A finished record written the way ingestion writes it (viability computed from the facts)."""
    from backups import status

    rp = recovery_point or started
    viable = status.is_viable(policy.kind, outcome=outcome, size_bytes=size, sha256=sha256,
                              provider_state=provider_state, recovery_point=rp, from_poller=False)
    return BackupRecord.objects.create(
        policy=policy, asset=asset, client_id=client_id or f"{asset.pk}-{policy.pk}-{started.isoformat()}",
        started_at=started, completed_at=started + timedelta(minutes=minutes), outcome=outcome, size_bytes=size,
        sha256=sha256, zone=zone, region=region or (zone.region if zone else None), provider_state=provider_state,
        recovery_point=rp if outcome == Outcome.SUCCEEDED else None, viable=viable,
        expires_at=rp + policy.retention if viable else None, container=container, key=key,
    )


@pytest.fixture
def queue(settings):
    """The real Redis queue of this test run (REDIS_URL's db), emptied before and after."""
    import django_rq

    q = django_rq.get_queue("default")
    q.connection.flushdb()  # only this run's own database number
    yield q
    q.connection.flushdb()


def work(queue) -> None:
    """Run every queued job in this process: a non-forking worker in burst mode."""
    from rq import SimpleWorker

    SimpleWorker([queue], connection=queue.connection).work(burst=True)


@pytest.fixture(scope="session")
def moto_url():
    """A real moto server (S3, RDS) in this process, on a free port of 127.0.0.1."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:
        from tests.conftest import peer_missing

        peer_missing("moto[server]")
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    import time
    import urllib.request

    for _ in range(100):
        try:
            urllib.request.urlopen(url + "/moto-api/", timeout=1)  # noqa: S310 (our own loopback server)
            break
        except OSError:
            time.sleep(0.05)
    yield url
    server.stop()


@pytest.fixture
def aws(moto_url, world, monkeypatch):
    """A provider account pointing at the moto server, with state reset for this test."""
    import urllib.request

    from drportal.inventory.models import ProviderAccount

    urllib.request.urlopen(urllib.request.Request(moto_url + "/moto-api/reset", method="POST"))  # noqa: S310
    monkeypatch.setenv("TEST_AWS_KEY", "testing")
    monkeypatch.setenv("TEST_AWS_SECRET", "testing")
    return ProviderAccount.objects.create(
        provider=world.aws, name="cybernance-aws", driver="aws",
        credentials_env={"key": "TEST_AWS_KEY", "secret": "TEST_AWS_SECRET"},
        options={"region": "us-east-1", "endpoint_url": moto_url},
    )
