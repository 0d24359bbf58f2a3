from __future__ import annotations

import pytest

from notifications import audience
from tests.notifications.factories import crash


def slugs(qs) -> list[str]:
    return sorted(c.slug for c in qs)


def test_a_crashed_database_server_hits_only_the_customers_on_it(world):
    incident = crash(world, world.db1)
    assert slugs(audience.affected_customers(incident)) == ["acme"]


def test_a_crashed_app_server_hits_the_customers_of_its_service(world):
    incident = crash(world, world.app1, disaster_class="app_server_lost")
    assert slugs(audience.affected_customers(incident)) == ["hooli"]


def test_a_lost_region_hits_every_customer_with_something_in_it(world):
    incident = crash(world, disaster_class="datacenter_offline", impacted={"regions": [world.dfw]})
    assert slugs(audience.affected_customers(incident)) == ["acme", "globex", "hooli"]
    assert audience.lost_zone_ids(incident) == {world.dfw1.pk}


def test_a_lost_zone_counts_its_servers_but_a_crashed_server_does_not_lose_its_zone(world):
    zone_loss = crash(world, world.db1, disaster_class="datacenter_offline")
    assert audience.lost_zone_ids(zone_loss) == {world.dfw1.pk}
    assert slugs(audience.affected_customers(zone_loss)) == ["acme", "globex", "hooli"]
    server_loss = crash(world, world.db1)
    assert audience.lost_zone_ids(server_loss) == set()
    assert audience.crashed_server_ids(server_loss) == {world.db1.pk}


def test_terminated_customers_are_left_out(world):
    world.customers["acme"].status = "terminated"
    world.customers["acme"].save()
    assert slugs(audience.affected_customers(crash(world, world.db1))) == []


@pytest.mark.django_db
def test_it_computes_the_audience_in_one_query(world, django_assert_num_queries):
    incident = crash(world, world.db1)
    with django_assert_num_queries(1):
        # The customers, by the ids of the incident's stored scope (resolved once, when it was declared).
        assert slugs(audience.affected_customers(incident)) == ["acme"]
