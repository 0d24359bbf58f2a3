"""Resolving what an incident hits (drportal.incidents.scope.resolve) at the size of a whole region: the same
queries whatever the region holds, and the same answer through every path a customer is reached by."""

from __future__ import annotations

import pytest

from drportal.incidents import scope
from drportal.inventory.choices import AssetKind, CustomerStatus, ServerRole
from drportal.inventory.models import Asset, Customer, Provider, Region, Server, Service, Zone


@pytest.fixture
def region(db) -> Region:
    provider = Provider.objects.create(slug="rackspace", name="Rackspace", kind="rackspace")
    dfw = Region.objects.create(provider=provider, slug="dfw", name="Dallas")
    Zone.objects.create(region=dfw, slug="dfw1", name="Dallas DC 1")
    Zone.objects.create(region=dfw, slug="dfw2", name="Dallas DC 2")
    return dfw


def grow(region: Region, n: int, start: int = 0) -> None:
    """n database servers across the region's zones, each with one customer's database."""
    zones = list(region.zones.order_by("id"))
    for i in range(start, start + n):
        server = Server.objects.create(name=f"db{i}", role=ServerRole.DATABASE, zone=zones[i % len(zones)])
        customer = Customer.objects.create(slug=f"c{i}", name=f"Customer {i}")
        Asset.objects.create(name=f"c{i}-db", kind=AssetKind.DATABASE, server=server, customer=customer)


def test_a_region_resolves_in_the_same_number_of_queries_at_any_size(region, django_assert_num_queries):
    grow(region, 3)
    # The region's zones, its servers, the regions left partly up, the regions all of whose zones are lost;
    # the hit assets with their kinds and customers; the services through the servers and through the assets.
    with django_assert_num_queries(7):
        small = scope.resolve("datacenter_offline", regions=[region])
    grow(region, 60, start=3)
    with django_assert_num_queries(7):
        large = scope.resolve("datacenter_offline", regions=[region])
    assert (len(small.customers), len(large.customers), len(large.databases), len(large.servers)) == (3, 63, 63, 63)


def test_customers_are_reached_through_services_and_terminated_ones_are_left_out(region):
    grow(region, 2)
    gone = Customer.objects.get(slug="c1")
    gone.status = CustomerStatus.TERMINATED
    gone.save()
    # A customer with nothing in the region but a service that runs on a server there.
    outside = Customer.objects.create(slug="portal-user", name="Portal user")
    portal = Service.objects.create(name="Portal", slug="portal")
    portal.servers.add(Server.objects.get(name="db0"))
    outside.services.add(portal)
    # An asset of no customer, zoned in the region without a server.
    Asset.objects.create(name="bucket", kind=AssetKind.DOCUMENT_STORE, zone=region.zones.first())
    hit = scope.resolve("datacenter_offline", regions=[region.pk])
    assert sorted(Customer.objects.filter(id__in=hit.customers).values_list("slug", flat=True)) == [
        "c0", "portal-user"]
    assert sorted(Asset.objects.filter(id__in=hit.assets).values_list("name", flat=True)) == [
        "bucket", "c0-db", "c1-db"]
    assert list(Asset.objects.filter(id__in=hit.databases).values_list("name", flat=True)) == ["c0-db"]
    assert hit.services == [portal.pk]
