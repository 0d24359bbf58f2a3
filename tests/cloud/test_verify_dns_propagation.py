from __future__ import annotations

import time
from datetime import timedelta

import pytest
import time_machine

from drportal.cloud.actions.base import REGISTRY
from drportal.cloud.adapters.errors import AdapterError
from drportal.lib import clock
from tests.cloud.helpers import ctx, run

pytestmark = pytest.mark.django_db


def test_it_completes_when_the_authoritative_server_answers_the_new_values(pdns_zone, pdns_account):
    records = [{"name": "app", "values": ["198.51.100.1"]}]
    run("dns_cutover", ctx("c1", account="pdns", zone=pdns_zone, records=records))
    outcome = REGISTRY["verify_dns_propagation"].execute(ctx("v1", account="pdns", zone=pdns_zone, records=records))
    assert outcome.done
    assert outcome.output["percent"] == 100
    assert outcome.output["answers"][0]["values"] == ["198.51.100.1"]
    assert outcome.output["answers"][0]["ttl"] == 300


def test_it_lists_a_resolver_still_caching_the_old_answer_with_its_expiry(pdns_zone, pdns_account, caching_resolver):
    records = [{"name": "app", "values": ["198.51.100.2"]}]
    # The resolver has the old answer (TTL 3600) cached from before the cutover.
    run("dns_cutover", ctx("c0", account="pdns", zone=pdns_zone, records=[{"name": "app", "values": ["203.0.113.10"],
                                                                           "ttl": 4}]))
    REGISTRY["verify_dns_propagation"].execute(ctx("warm", account="pdns", zone=pdns_zone, resolvers=[
        caching_resolver.address], records=[{"name": "app", "values": ["203.0.113.10"]}]))
    run("dns_cutover", ctx("c2", account="pdns", zone=pdns_zone, records=records))
    context = ctx("v2", account="pdns", zone=pdns_zone, records=records, resolvers=[caching_resolver.address])
    outcome = REGISTRY["verify_dns_propagation"].execute(context)
    assert not outcome.done
    assert outcome.output["percent"] == 50
    [straggler] = outcome.output["stragglers"]
    assert straggler["server"] == f"resolver {caching_resolver.address}"
    assert straggler["values"] == ["203.0.113.10"]
    assert straggler["ttl"] <= 4
    assert straggler["expires_at"]
    assert 1 <= outcome.poll_after <= 5
    time.sleep(straggler["ttl"] + 1.1)  # the resolver's real cache has to expire
    assert REGISTRY["verify_dns_propagation"].execute(context).done


def test_it_gives_up_after_its_timeout_naming_the_stragglers(pdns_zone, pdns_account):
    context = ctx("v3", account="pdns", zone=pdns_zone, records=[{"name": "app", "values": ["198.51.100.3"]}],
                  timeout_s=60)
    assert not REGISTRY["verify_dns_propagation"].execute(context).done
    with time_machine.travel(clock.now() + timedelta(seconds=61)), pytest.raises(AdapterError) as caught:
        REGISTRY["verify_dns_propagation"].execute(context)
    assert caught.value.permanent
    assert f"app.{pdns_zone}" in str(caught.value)


def test_an_unreachable_resolver_is_a_straggler_not_a_crash(pdns_zone, pdns_account):
    from drportal.cloud.devpeers import free_port

    records = [{"name": "db", "values": ["203.0.113.20"]}]
    outcome = REGISTRY["verify_dns_propagation"].execute(ctx(
        "v4", account="pdns", zone=pdns_zone, records=records, resolvers=[f"127.0.0.1:{free_port()}"],
        query_timeout_s=0.3))
    assert not outcome.done
    assert outcome.output["stragglers"][0]["error"].startswith("no answer")


def test_a_bad_resolver_entry_names_the_field(pdns_zone, pdns_account):
    with pytest.raises(AdapterError, match=r"params\.resolvers"):
        REGISTRY["verify_dns_propagation"].execute(ctx("v5", account="pdns", zone=pdns_zone, resolvers=["host:port"],
                                                       records=[{"name": "db", "values": ["203.0.113.20"]}]))


def test_the_installs_resolvers_are_asked_when_the_step_names_none(pdns_zone, pdns_account, caching_resolver,
                                                                    settings):
    settings.CLOUD_DNS_RESOLVERS = caching_resolver.address
    outcome = REGISTRY["verify_dns_propagation"].execute(ctx("v6", account="pdns", zone=pdns_zone,
                                                             records=[{"name": "db", "values": ["203.0.113.20"]}]))
    assert outcome.done
    assert [a["server"] for a in outcome.output["answers"]] == [
        f"authoritative 127.0.0.1:{pdns_account.options['dns_port']}", f"resolver {caching_resolver.address}"]
