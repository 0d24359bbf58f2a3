"""The declare page answers "what is down?" before anyone confirms: choosing a region shows how many servers,
customer databases and customers that takes down, resolved exactly as the declared incident will be."""

from __future__ import annotations

import pytest
from django.urls import reverse

from drportal.incidents import scope as incident_scope
from drportal.incidents import services
from drportal.inventory.models import Asset, Customer, Provider, Region, Server, Zone


@pytest.fixture
def dallas(db) -> Region:
    provider = Provider.objects.create(slug="rackspace", name="Rackspace", kind="rackspace")
    region = Region.objects.create(provider=provider, slug="dfw", name="Dallas")
    zone = Zone.objects.create(region=region, slug="dfw1", name="Dallas 1")
    other = Zone.objects.create(region=Region.objects.create(provider=provider, slug="ord", name="Chicago"),
                                slug="ord1", name="Chicago 1")
    db1 = Server.objects.create(name="db1", role="database", zone=zone)
    Server.objects.create(name="web1", role="application", zone=zone)
    Server.objects.create(name="chi1", role="application", zone=other)
    for slug in ("acme", "globex"):
        customer = Customer.objects.create(slug=slug, name=slug.title())
        Asset.objects.create(name=f"{slug}-db", kind="database", server=db1, customer=customer)
    Customer.objects.create(slug="left", name="Left", status="terminated")
    return region


def preview(client, **params) -> str:
    return client.get(reverse("incidents:declare-preview"), params).content.decode()


def test_choosing_only_the_region_shows_every_server_database_and_customer_in_it(client_as, dallas):
    page = preview(client_as("alice"), disaster_class="datacenter_offline", impacted_regions=[dallas.pk])
    assert "This means <strong>2 servers</strong>, <strong>2 customer databases</strong>, " \
           "<strong>2 customers</strong>" in page
    servers = page.split("Servers: ")[1].split("</small>")[0]
    assert servers == "db1, web1"


def test_the_preview_says_what_the_declared_incident_stores(client_as, alice, dallas):
    previewed = incident_scope.resolve("datacenter_offline", regions=[dallas.pk])
    incident = services.declare(alice, title="Dallas down", disaster_class="datacenter_offline",
                                impacted={"regions": [dallas]})
    assert incident_scope.of(incident) == previewed


def test_a_single_server_class_previews_only_the_chosen_server(client_as, dallas):
    web1 = Server.objects.get(name="web1")
    page = preview(client_as("alice"), disaster_class="server_crash", impacted_servers=[web1.pk])
    assert "This means <strong>1 server</strong>, <strong>0 customer databases</strong>, " \
           "<strong>0 customers</strong>" in page


def test_nothing_chosen_asks_what_is_down(client_as, dallas):
    assert "Nothing chosen yet" in preview(client_as("alice"), disaster_class="datacenter_offline")


def test_hostile_ids_are_ignored_not_an_error(client_as, dallas):
    page = preview(client_as("alice"), disaster_class="x' OR 1=1", impacted_regions=["abc", "-1", "999999"])
    assert "Nothing chosen yet" in page or "This means <strong>0 servers" in page


def test_support_cannot_preview(client_as, dallas):
    assert client_as("sam").get(reverse("incidents:declare-preview")).status_code == 403
