from __future__ import annotations

from django.urls import reverse

from drportal.incidents import services
from drportal.inventory.models import Provider, Region, Server, Zone


def test_the_page_takes_the_same_queries_for_any_number_of_servers(client_as, alice, django_assert_num_queries):
    provider = Provider.objects.create(slug="rackspace", name="Rackspace", kind="rackspace")
    region = Region.objects.create(provider=provider, slug="dfw", name="Dallas")
    zone = Zone.objects.create(region=region, slug="dfw1", name="Dallas 1")
    servers = Server.objects.bulk_create([Server(name=f"web{i}", role="application", zone=zone) for i in range(8)])
    few = services.declare(alice, title="two down", severity="sev2", disaster_class="server_crash",
                           impacted={"servers": servers[:2], "zones": [zone], "regions": [region]})
    many = services.declare(alice, title="eight down", severity="sev2", disaster_class="server_crash",
                            impacted={"servers": servers, "zones": [zone], "regions": [region]})
    client = client_as("alice")
    # session, user, profile, groups; the incident; its regions, zones and servers (with their providers),
    # offices, services; what it takes down (one query per kind of the stored scope: zones, servers); the
    # scenario panel: run, the scope's servers (proposals), what Execute would act on (servers, databases,
    # zones of the scope), review; the notifications panel: office incident?, notices, status updates.
    # and the rows the step preview binds per customer (the plan branch added customer bindings): 24 with 2
    # servers or 8.
    for incident in (few, many):
        with django_assert_num_queries(24):
            page = client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()
        assert page.count("Server web") == len(incident.impacted_servers.all())


def test_what_it_takes_down_counts_one_as_one(client_as, alice):
    provider = Provider.objects.create(slug="rackspace", name="Rackspace", kind="rackspace")
    zone = Zone.objects.create(region=Region.objects.create(provider=provider, slug="dfw", name="Dallas"),
                               slug="dfw1", name="Dallas 1")
    servers = Server.objects.bulk_create([Server(name=f"web{i}", role="application", zone=zone) for i in range(2)])
    incident = services.declare(alice, title="Dallas down", severity="sev1", disaster_class="datacenter_offline",
                                impacted={"zones": [zone]})

    page = client_as("alice").get(reverse("incidents:detail", args=[incident.pk])).content.decode()

    assert "<strong>1 zone</strong>: rackspace/dfw/dfw1" in page
    assert f"<strong>2 servers</strong>: {servers[0].name}, {servers[1].name}" in page
