"""The Rackspace (OpenStack) path: libcloud's real OpenStack compute and Swift drivers, through drportal's
adapters, against an HTTP-level stand-in of Keystone v3, Nova, Glance and Swift (drportal.cloud.openstackpeer).

The stand-in proves the driver path: Keystone v3 password auth and the catalog lookup, image and flavor
lookups, a create that answers 202 with an id only, BUILD before ACTIVE, addresses read from the server,
metadata tags, Swift listing and download. It cannot prove Rackspace's own identity quirks, quotas,
scheduling failures, real boot times or Swift large objects (see the module's docstring)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from drportal.cloud.actions.base import REGISTRY
from drportal.cloud.adapters import compute, objectstore
from drportal.cloud.adapters.errors import AdapterError
from drportal.cloud.openstackpeer import start_openstack
from drportal.inventory.models import Provider, ProviderAccount, Region, Zone
from tests.cloud.conftest import make_server
from tests.cloud.helpers import ctx, run

pytestmark = pytest.mark.django_db


@pytest.fixture
def openstack():
    peer = start_openstack(region="MCI3", build_polls=2)
    peer.cloud.add_flavor("4 GB General Purpose v1", ram=4096, vcpus=2, id="general1-4")
    yield peer
    peer.stop()


@pytest.fixture
def rackspace(openstack, db):
    provider = Provider.objects.create(slug="rackspace", name="Rackspace", kind="rackspace")
    dfw = Region.objects.create(provider=provider, slug="dfw", name="Dallas")
    Region.objects.create(provider=provider, slug="mci", name="Kansas City")
    zone = Zone.objects.create(region=dfw, slug="dfw1", name="Dallas 1")
    account = ProviderAccount.objects.create(
        provider=provider, name="jivosoft-openstack", driver="openstack",
        options={**openstack.account_options(), "catalog_regions": {"mci": "MCI3"}})
    account.set_credentials({"key": openstack.cloud.user, "secret": openstack.cloud.password})
    account.save()
    return zone, account


def seed_images(openstack, now: datetime):
    cloud = openstack.cloud
    cloud.add_image("jv-web1-weekly-2026-11-22", created_at=now - timedelta(days=14))
    newest = cloud.add_image("jv-web1-weekly-2026-11-29", created_at=now - timedelta(days=7))
    # A newer image that never finished saving is not viable.
    cloud.add_image("jv-web1-weekly-2026-12-06", status="queued", created_at=now)
    cloud.add_image("jv-db1-weekly-2026-11-29", created_at=now)
    return newest


def test_it_provisions_a_server_from_its_newest_viable_image_through_the_openstack_driver(openstack, rackspace):
    zone, account = rackspace
    newest = seed_images(openstack, datetime.now(UTC))
    server = make_server(zone, account, name="jv-web1", size="4 GB General Purpose v1",
                         provider_node_id="old-dallas-node", public_ips=["203.0.113.21"])

    first = REGISTRY["provision_from_image"].execute(ctx("inc7-provision", server="jv-web1", region="rackspace/mci"))
    assert not first.done
    assert first.output["state"] == "pending"
    outcome = run("provision_from_image", ctx("inc7-provision", server="jv-web1", region="rackspace/mci"))

    assert outcome.done
    [created] = openstack.cloud.live_servers()
    assert created.image_id == newest.id
    assert created.flavor_id == "general1-4"
    assert created.metadata == {"drportal_key": "inc7-provision", "drportal_server": "jv-web1"}
    server.refresh_from_db()
    assert server.provider_node_id == created.id
    assert server.public_ips == [created.public_ip]
    assert server.private_ips == [created.private_ip]
    assert server.metadata["previous_node"]["node_id"] == "old-dallas-node"
    calls = openstack.cloud.requests
    assert ("POST", "/identity/v3/auth/tokens") in calls
    assert ("POST", "/compute/v2.1/servers") in calls
    assert ("GET", "/image/v2/images") in calls


def test_a_retried_step_finds_its_server_by_tag_instead_of_creating_another(openstack, rackspace):
    zone, account = rackspace
    seed_images(openstack, datetime.now(UTC))
    make_server(zone, account, name="jv-web1", size="4 GB General Purpose v1")

    REGISTRY["provision_from_image"].execute(ctx("inc8-provision", server="jv-web1"))
    # The worker died before the engine saved ctx.state: the retry starts from an empty state.
    again = run("provision_from_image", ctx("inc8-provision", server="jv-web1"))

    assert again.done
    assert len(openstack.cloud.live_servers()) == 1
    assert [m for m, p in openstack.cloud.requests if p == "/compute/v2.1/servers"].count("POST") == 1


def test_a_wrong_password_is_a_permanent_error_naming_no_secret(openstack, rackspace):
    _zone, account = rackspace
    account.set_credentials({"key": openstack.cloud.user, "secret": "not-the-password"})
    account.save()

    with pytest.raises(AdapterError) as failure:
        compute.retry.call(compute.driver_for(account).list_nodes, provider="openstack")

    assert failure.value.permanent
    assert failure.value.code == "InvalidCredentials"
    assert "not-the-password" not in str(failure.value)


def test_an_image_the_provider_does_not_have_is_a_permanent_error(openstack, rackspace):
    zone, account = rackspace
    make_server(zone, account, name="jv-api1", size="4 GB General Purpose v1")

    with pytest.raises(AdapterError) as failure:
        REGISTRY["provision_from_image"].execute(ctx("inc9-provision", server="jv-api1"))

    assert failure.value.permanent
    assert failure.value.code == "NoViableImage"
    assert openstack.cloud.live_servers() == []


def test_swift_lists_and_downloads_the_dumps_through_the_same_account(openstack, rackspace, tmp_path):
    _, account = rackspace
    openstack.cloud.put_object("jv-customer-db-weekly", "jv-db-alamo-freight/20261129T0600.dump", b"PGDMP-one")
    openstack.cloud.put_object("jv-customer-db-weekly", "jv-db-alamo-freight/20261206T0600.dump", b"PGDMP-two")
    openstack.cloud.put_object("jv-customer-db-weekly", "jv-db-bexar-dental/20261206T0600.dump", b"PGDMP-other")

    listed = list(objectstore.list_objects(account, "jv-customer-db-weekly", prefix="jv-db-alamo-freight/"))
    objectstore.download(account, "jv-customer-db-weekly", "jv-db-alamo-freight/20261206T0600.dump",
                         str(tmp_path / "dump"))

    assert [o["key"] for o in listed] == ["jv-db-alamo-freight/20261129T0600.dump",
                                          "jv-db-alamo-freight/20261206T0600.dump"]
    assert all(o["last_modified"].tzinfo is not None and o["size"] == 9 for o in listed)
    assert (tmp_path / "dump").read_bytes() == b"PGDMP-two"


def test_a_missing_container_is_a_permanent_error(openstack, rackspace):
    _, account = rackspace

    with pytest.raises(AdapterError) as failure:
        list(objectstore.list_objects(account, "no-such-container"))

    assert failure.value.permanent
