from __future__ import annotations

from datetime import timedelta

import pytest

from backups.models import BackupPolicy, BackupRecord
from drportal.audit.models import AuditEvent
from drportal.cloud.actions.base import REGISTRY
from drportal.cloud.adapters.errors import AdapterError
from drportal.inventory.models import Asset, Provider, Region, Zone
from drportal.lib import clock
from tests.cloud.conftest import make_server
from tests.cloud.helpers import ctx

pytestmark = pytest.mark.django_db


@pytest.fixture
def rackspace(db):
    provider = Provider.objects.create(slug="rackspace", name="Rackspace", kind="rackspace")
    regions = {slug: Region.objects.create(provider=provider, slug=slug, name=slug) for slug in ("dfw", "mci", "ord")}
    return provider, regions


@pytest.fixture
def weekly_policy(rackspace):
    _, regions = rackspace
    zone = Zone.objects.create(region=regions["mci"], slug="mci1", name="Kansas City")
    server = make_server(zone, None, name="db1", role="database")
    asset = Asset.objects.create(name="db1-customers", kind="database", server=server)
    policy = BackupPolicy.objects.create(name="weekly to Kansas City", kind="database_dump", schedule="0 3 * * 0",
                                         rpo_objective=timedelta(days=7), location_rule="named_region",
                                         target_region=regions["mci"])
    now = clock.now()
    BackupRecord.objects.create(policy=policy, asset=asset, started_at=now - timedelta(hours=2),
                                completed_at=now - timedelta(hours=1), outcome="succeeded", region=regions["mci"],
                                container="backups", key="db1/2026-11-15.dump", viable=True,
                                recovery_point=now - timedelta(hours=2))
    return policy


def test_after_a_failover_to_kansas_city_backups_move_off_site_again(rackspace, weekly_policy):
    _, regions = rackspace
    outcome = REGISTRY["reconfigure_offsite"].execute(ctx("o1", region="rackspace/mci", failed_region="rackspace/dfw"))
    weekly_policy.refresh_from_db()
    assert weekly_policy.target_region == regions["ord"]
    assert outcome.output["changed"] == ["weekly to Kansas City"]
    assert outcome.output["colocated_backups"][0]["key"] == "db1/2026-11-15.dump"
    assert AuditEvent.objects.get(action="backups.policy_offsite").actor_label == "job:reconfigure_offsite#o1"


def test_a_second_run_changes_nothing(rackspace, weekly_policy):
    REGISTRY["reconfigure_offsite"].execute(ctx("o2", region="rackspace/mci", target_region="rackspace/ord"))
    again = REGISTRY["reconfigure_offsite"].execute(ctx("o2", region="rackspace/mci", target_region="rackspace/ord"))
    assert again.output["changed"] == []
    assert AuditEvent.objects.filter(action="backups.policy_offsite").count() == 1


def test_it_refuses_to_pick_the_failed_region_when_no_other_is_left(rackspace, weekly_policy):
    _, regions = rackspace
    regions["ord"].delete()
    with pytest.raises(AdapterError, match=r"params\.target_region"):
        REGISTRY["reconfigure_offsite"].execute(ctx("o3", region="rackspace/mci", failed_region="rackspace/dfw"))
    weekly_policy.refresh_from_db()
    assert weekly_policy.target_region == regions["mci"]


def test_an_unknown_region_names_the_field(rackspace):
    with pytest.raises(AdapterError, match=r"params\.region: 'rackspace/lon' names no region"):
        REGISTRY["reconfigure_offsite"].execute(ctx("o4", region="rackspace/lon"))
