from __future__ import annotations

from datetime import timedelta

import dns.message
import dns.query
import pytest
import time_machine

from drportal.audit.models import AuditEvent
from drportal.cloud.actions.base import REGISTRY
from drportal.cloud.adapters.errors import AdapterError
from drportal.lib import clock
from tests.cloud.conftest import make_server
from tests.cloud.helpers import ctx, run

pytestmark = pytest.mark.django_db


def ask(powerdns, name: str, rdtype: str = "A") -> tuple[list[str], int | None]:
    answer = dns.query.udp(dns.message.make_query(name, rdtype), "127.0.0.1", port=powerdns.dns_port, timeout=2)
    values = sorted(r.to_text() for rrset in answer.answer for r in rrset)
    return values, (answer.answer[0].ttl if answer.answer else None)


def test_it_points_records_at_the_new_addresses(powerdns, pdns_zone, pdns_account):
    records = [{"name": "app", "values": ["198.51.100.1", "198.51.100.2"]}, {"name": f"db.{pdns_zone}",
                                                                            "values": ["198.51.100.3"]}]
    outcome = run("dns_cutover", ctx("cut-1", account="pdns", zone=pdns_zone, records=records, ttl=60))
    assert outcome.done
    assert ask(powerdns, f"app.{pdns_zone}") == (["198.51.100.1", "198.51.100.2"], 60)
    assert ask(powerdns, f"db.{pdns_zone}") == (["198.51.100.3"], 60)
    assert outcome.output["old"][f"app.{pdns_zone} A"] == {"name": f"app.{pdns_zone}", "type": "A",
                                                           "values": ["203.0.113.10"], "ttl": 3600}
    event = AuditEvent.objects.get(action="dns.cutover")
    assert event.actor_label == "job:dns_cutover#cut-1"
    assert event.after[f"db.{pdns_zone} A"]["values"] == ["198.51.100.3"]


def test_a_repeated_cutover_changes_nothing_and_keeps_the_true_old_values(pdns_zone, pdns_account):
    context = ctx("cut-2", account="pdns", zone=pdns_zone, records=[{"name": "app", "values": ["198.51.100.9"]}])
    run("dns_cutover", context)
    again = run("dns_cutover", context)
    assert again.output["changed"] == []
    assert again.output["old"][f"app.{pdns_zone} A"]["values"] == ["203.0.113.10"]
    assert AuditEvent.objects.filter(action="dns.cutover").count() == 1


def test_it_derives_records_from_the_replaced_server(powerdns, pdns_zone, pdns_account, sim_location, sim_account):
    make_server(sim_location, sim_account, name="app1", dns_names=[f"app.{pdns_zone[:-1]}"],
                public_ips=["198.51.100.44"])
    run("dns_cutover", ctx("cut-3", account="pdns", zone=pdns_zone, server="app1"))
    assert ask(powerdns, f"app.{pdns_zone}")[0] == ["198.51.100.44"]


def test_it_lowers_the_ttl_first_and_waits_for_the_old_one_to_expire(powerdns, pdns_zone, pdns_account):
    context = ctx("cut-4", account="pdns", zone=pdns_zone, records=[{"name": "app", "values": ["198.51.100.5"]}],
                  ttl=60, lower_ttl_first=True)
    first = REGISTRY["dns_cutover"].execute(context)
    assert not first.done
    assert 3590 <= first.poll_after <= 3600
    assert ask(powerdns, f"app.{pdns_zone}") == (["203.0.113.10"], 60)
    with time_machine.travel(clock.now() + timedelta(seconds=3601)):
        second = REGISTRY["dns_cutover"].execute(context)
    assert second.done
    assert ask(powerdns, f"app.{pdns_zone}") == (["198.51.100.5"], 60)
    assert second.output["old"][f"app.{pdns_zone} A"]["ttl"] == 3600


def test_rollback_restores_the_old_values(powerdns, pdns_zone, pdns_account):
    cut = run("dns_cutover", ctx("cut-5", account="pdns", zone=pdns_zone,
                                 records=[{"name": "app", "values": ["198.51.100.6"]}]))
    run("dns_rollback", ctx("rb-5", account="pdns", zone=pdns_zone, old=cut.output["old"]))
    assert ask(powerdns, f"app.{pdns_zone}") == (["203.0.113.10"], 3600)


def test_it_fails_permanently_for_a_zone_that_does_not_exist(pdns_account):
    with pytest.raises(AdapterError) as caught:
        REGISTRY["dns_cutover"].execute(ctx("cut-6", account="pdns", zone="nowhere.test.",
                                            records=[{"name": "app", "values": ["198.51.100.6"]}]))
    assert caught.value.permanent
    assert "zone nowhere.test. does not exist" in str(caught.value)


def test_it_fails_permanently_with_wrong_credentials(pdns_zone, pdns_account):
    pdns_account.set_credentials({"key": "not-the-key"})
    pdns_account.save()
    with pytest.raises(AdapterError) as caught:
        REGISTRY["dns_cutover"].execute(ctx("cut-7", account="pdns", zone=pdns_zone,
                                            records=[{"name": "app", "values": ["198.51.100.6"]}]))
    assert caught.value.permanent
    assert caught.value.code == "InvalidCredentials"


@pytest.mark.parametrize(("record", "field"), [
    ({"name": "app", "values": ["10.0.0"]}, "params.records[0].values: '10.0.0' is not an IPv4 address"),
    ({"name": "app", "type": "MX", "values": ["x"]}, "params.records[0].type"),
    ({"name": "www.elsewhere.test.", "values": ["10.0.0.1"]}, "params.records[0].name"),
])
def test_bad_records_name_the_field_and_change_nothing(powerdns, pdns_zone, pdns_account, record, field):
    records = [record, {"name": "db", "values": ["198.51.100.7"]}]
    with pytest.raises(AdapterError, match=field.replace("[", r"\[").replace("]", r"\]")):
        REGISTRY["dns_cutover"].execute(ctx("cut-8", account="pdns", zone=pdns_zone, records=records))
    assert ask(powerdns, f"db.{pdns_zone}")[0] == ["203.0.113.20"]


def test_a_public_name_is_pointed_at_a_load_balancer_in_the_zone_that_holds_it(powerdns, pdns_zone, pdns_account):
    # No zone given: the zone is the one holding the name (as the Cybernance scenario's step has it).
    outcome = run("dns_cutover", ctx("cut-cname", account="pdns", cname=f"www.{pdns_zone[:-1]}",
                                     target="platform-alb-1.us-east-1.elb.amazonaws.com", ttl=60))
    assert outcome.output["changed"] == [f"www.{pdns_zone} CNAME"]
    assert ask(powerdns, f"www.{pdns_zone}", "CNAME") == (["platform-alb-1.us-east-1.elb.amazonaws.com."], 60)


def test_a_public_name_without_a_target_changes_nothing(powerdns, pdns_zone, pdns_account):
    with pytest.raises(AdapterError, match=r"params\.target"):
        run("dns_cutover", ctx("cut-no-target", account="pdns", cname=f"www.{pdns_zone[:-1]}"))
    assert ask(powerdns, f"www.{pdns_zone}", "CNAME") == ([], None)
    assert not AuditEvent.objects.filter(action="dns.cutover").exists()
