"""The declare page's impacted-servers field: never a <select> of every server, whatever the inventory."""

from __future__ import annotations

import pytest
from django.urls import reverse

from drportal.incidents import forms
from drportal.incidents.models import Incident
from drportal.inventory.models import Provider, Region, Server, Zone


@pytest.fixture
def two_regions(db) -> dict[str, Zone]:
    provider = Provider.objects.create(slug="rackspace", name="Rackspace", kind="rackspace")
    zones = {}
    for slug in ("dfw", "ord"):
        region = Region.objects.create(provider=provider, slug=slug, name=slug.upper())
        zones[slug] = Zone.objects.create(region=region, slug=f"{slug}1", name=f"{slug.upper()} 1")
        Server.objects.bulk_create([Server(name=f"{slug}-web{i:02d}", role="application", zone=zones[slug])
                                    for i in range(6)])
    return zones


def options(response) -> list[str]:
    import re

    return re.findall(r'<option value="(\d+)"', response.content.decode())


def test_a_small_inventory_lists_every_server(client_as, two_regions):
    page = client_as("alice").get(reverse("incidents:declare"))
    assert len(options(page)) >= 12


def test_a_large_inventory_lists_none_until_narrowed(client_as, two_regions, monkeypatch):
    monkeypatch.setattr(forms, "SERVER_OPTIONS", 5)
    page = client_as("alice").get(reverse("incidents:declare"))
    servers = set(Server.objects.values_list("pk", flat=True))
    assert not servers & {int(pk) for pk in options(page)}
    assert "More servers exist than can be listed" in page.content.decode()


def test_choosing_a_region_lists_its_servers_and_keeps_those_chosen(client_as, two_regions):
    dfw, ord_ = two_regions["dfw"], two_regions["ord"]
    kept = Server.objects.get(name="ord-web03")
    response = client_as("alice").get(reverse("incidents:declare-servers"), {
        "impacted_regions": [dfw.region_id], "impacted_servers": [kept.pk]})
    listed = [int(pk) for pk in options(response)]
    assert listed[0] == kept.pk
    assert set(listed[1:]) == set(Server.objects.filter(zone=dfw).values_list("pk", flat=True))
    assert f'<option value="{kept.pk}" selected>' in response.content.decode()
    assert not set(listed[1:]) & set(Server.objects.filter(zone=ord_).values_list("pk", flat=True))


def test_searching_lists_matching_servers(client_as, two_regions):
    response = client_as("alice").get(reverse("incidents:declare-servers"), {"find_servers": "ord-web0"})
    names = set(Server.objects.filter(pk__in=options(response)).values_list("name", flat=True))
    assert names == {f"ord-web{i:02d}" for i in range(6)}


def test_too_many_matches_are_cut_and_said_so(client_as, two_regions, monkeypatch):
    monkeypatch.setattr(forms, "SERVER_OPTIONS", 4)
    response = client_as("alice").get(reverse("incidents:declare-servers"), {"find_servers": "web"})
    assert len(options(response)) == 4
    assert "More servers match" in response.content.decode()


def test_a_server_not_listed_can_still_be_declared(client_as, two_regions, monkeypatch):
    monkeypatch.setattr(forms, "SERVER_OPTIONS", 1)
    server = Server.objects.get(name="ord-web05")
    client_as("alice").post(reverse("incidents:declare"), {
        "title": "ord-web05 crashed", "severity": "sev2", "disaster_class": "server_crash",
        "impacted_servers": [server.pk], "find_servers": "ignored"})
    assert list(Incident.objects.get().impacted_servers.all()) == [server]


def test_the_pages_take_a_fixed_number_of_queries(client_as, two_regions, django_assert_num_queries):
    client = client_as("alice")
    chosen = Server.objects.first().pk
    # session, user, profile, groups; regions, zones, server options (none chosen yet), offices, services,
    # other assets: the same 10 for any number of servers
    with django_assert_num_queries(10):
        client.get(reverse("incidents:declare"))
    # session, user, profile, groups; the chosen servers; the matching servers
    with django_assert_num_queries(6):
        client.get(reverse("incidents:declare-servers"), {"impacted_zones": [two_regions["dfw"].pk],
                                                          "impacted_servers": [chosen]})


def test_support_cannot_list_servers_to_declare(client_as, two_regions):
    assert client_as("sam").get(reverse("incidents:declare-servers")).status_code == 403
