"""The server and customer lists: a page at a time, with a search, in a fixed number of queries."""

from __future__ import annotations

import pytest
from django.urls import reverse

from drportal.inventory import views
from drportal.inventory.models import Asset, Customer, Provider, Region, Server, Zone


@pytest.fixture
def inventory(db) -> None:
    provider = Provider.objects.create(slug="rackspace", name="Rackspace", kind="rackspace")
    zone = Zone.objects.create(region=Region.objects.create(provider=provider, slug="dfw", name="Dallas"),
                               slug="dfw1", name="Dallas 1")
    Server.objects.bulk_create([Server(name=f"web{i:02d}", role="application", zone=zone) for i in range(7)])
    customers = Customer.objects.bulk_create([Customer(slug=f"c{i:02d}", name=f"Clinic {i:02d}") for i in range(7)])
    Asset.objects.bulk_create([Asset(name=f"db-{c.slug}-{n}", kind="database", customer=c)
                               for c in customers for n in range(2)])


def test_servers_come_a_page_at_a_time(client_as, inventory, monkeypatch):
    monkeypatch.setattr(views, "PAGE", 3)
    client = client_as("sam")
    first = client.get(reverse("inventory:servers")).content.decode()
    third = client.get(reverse("inventory:servers"), {"page": 3}).content.decode()
    assert "web00" in first
    assert "web03" not in first
    assert "Page 1 of 3 (7 servers)" in first
    assert "web06" in third
    assert 'rel="prev"' in third


def test_a_search_narrows_the_servers_and_is_kept_across_pages(client_as, inventory, monkeypatch):
    monkeypatch.setattr(views, "PAGE", 1)
    page = client_as("sam").get(reverse("inventory:servers"), {"q": "web0"}).content.decode()
    assert "?q=web0&amp;page=2" in page
    assert "No server's name contains" in client_as("sam").get(reverse("inventory:servers"),
                                                                     {"q": "nothing"}).content.decode()


def test_customers_show_their_asset_counts_a_page_at_a_time(client_as, inventory, monkeypatch):
    monkeypatch.setattr(views, "PAGE", 2)
    response = client_as("sam").get(reverse("inventory:customers"), {"q": "clinic"})
    assert [(c.name, c.n_assets) for c in response.context["customers"]] == [("Clinic 00", 2), ("Clinic 01", 2)]
    assert "Page 1 of 4 (7 customers)" in response.content.decode()


def test_the_lists_take_a_fixed_number_of_queries(client_as, inventory, django_assert_num_queries):
    client = client_as("sam")
    # session, user, profile, groups; the count, the page of servers with their zones, regions, providers
    with django_assert_num_queries(6):
        client.get(reverse("inventory:servers"))
    # session, user, profile, groups; the count, the page of customers, their asset counts
    with django_assert_num_queries(7):
        client.get(reverse("inventory:customers"))


def test_customer_suggestions_match_name_or_identifier(client_as, inventory, django_assert_num_queries):
    client = client_as("sam")
    # session, user, profile, groups; the matching customers (at most 20)
    with django_assert_num_queries(5):
        page = client.get(reverse("inventory:customer-options"), {"customer": "c03"}).content.decode()
    assert page.strip() == '<option value="c03">Clinic 03</option>'
    assert client.get(reverse("inventory:customer-options"), {"q": ""}).content.decode().strip() == ""
