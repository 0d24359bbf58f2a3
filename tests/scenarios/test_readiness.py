from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from django.core.management import call_command

from scenarios import loader, readiness
from scenarios.models import Mitigation

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def lib() -> loader.Library:
    return loader.load_dir()


def test_a_crash_of_one_rackspace_server_proposes_the_server_crash_plan_first(make_servers, declare):
    incident = declare(servers=make_servers(1, provider="rackspace"))
    proposals = readiness.propose(incident, list(lib().scenarios.values()))
    assert [s.id for s, _ in proposals] == ["jivosoft-server-crash"]
    assert "provider rackspace" in proposals[0][1]


def test_a_datacenter_outage_on_aws_prefers_nothing_from_rackspace(make_servers, declare):
    incident = declare("all_datacenters_lost", servers=make_servers(3, provider="aws"))
    assert [s.id for s, _ in readiness.propose(incident, list(lib().scenarios.values()))] == [
        "cybernance-all-datacenters-lost"]


def test_an_office_outage_proposes_only_office_plans(declare):
    incident = declare("office_power_internet")
    assert [s.id for s, _ in readiness.propose(incident, list(lib().scenarios.values()))] == [
        "jivosoft-office-power-internet"]


def test_readiness_lists_why_a_scenario_cannot_run(db, make_servers, monkeypatch):
    from drportal.cloud.actions.base import REGISTRY

    monkeypatch.delitem(REGISTRY, "dns_cutover", raising=False)
    make_servers(2, provider="rackspace")
    result = readiness.assess(lib().get("jivosoft-server-crash"), NOW, exposure=None)
    assert not result.ready
    reasons = " | ".join(result.reasons)
    actions = next(c for c in result.checks if c.name == "Actions installed")
    assert not actions.ok
    assert "dns_cutover" in actions.detail.removeprefix("not installed: ").split(", ")
    assert "Credentials: no account: web0, web1" in reasons
    assert result.exposure is None


def test_mitigations_expired_or_unchecked_block_readiness(db):
    scenario = lib().get("jivosoft-office-destroyed")
    call_command("load_mitigations")
    marks = {m.slug: m for m in Mitigation.objects.all()}
    result = readiness.assess(scenario, NOW, mitigations=marks, exposure=None)
    assert not result.ready
    assert "Casualty insurance policy (unchecked)" in " ".join(result.reasons)
    Mitigation.objects.update(last_checked_on=NOW.date(), renews_on=NOW.date() + timedelta(days=100))
    Mitigation.objects.filter(slug="credit-line").update(renews_on=date(2026, 1, 1))
    marks = {m.slug: m for m in Mitigation.objects.all()}
    result = readiness.assess(scenario, NOW, mitigations=marks, exposure=None)
    assert result.reasons == ["Standing mitigations: Corporate credit line (expired)"]


def test_review_and_drill_windows_are_flagged_but_do_not_block(db):
    scenario = lib().get("jivosoft-office-power-internet")
    result = readiness.assess(scenario, NOW, mitigations={}, exposure=None)
    flags = {c.name: (c.ok, c.detail) for c in result.checks if not c.blocking}
    assert flags["Plan reviewed"] == (False, "review overdue since 2019-08-15")
    assert flags["Drilled"] == (False, "never drilled")
    drilled = readiness.assess(scenario, NOW, mitigations={}, exposure=None, last_drill=NOW - timedelta(days=10))
    assert {c.name: c.ok for c in drilled.checks}["Drilled"] is True


def test_a_mitigation_status_follows_its_dates():
    item = Mitigation(renews_on=date(2026, 12, 1), last_checked_on=date(2026, 11, 1), check_every_days=90)
    assert item.status(date(2026, 11, 21)) == "due"
    assert item.status(date(2026, 10, 1)) == "ok"
    assert item.status(date(2026, 12, 2)) == "expired"
    assert Mitigation(last_checked_on=None).status(date(2026, 1, 1)) == "unchecked"


def test_customers_without_an_outage_contact_block_plans_that_notify_customers(db):
    from drportal.inventory.models import Customer, CustomerContact

    Customer.objects.create(slug="quiet", name="Quiet Co")
    loud = Customer.objects.create(slug="loud", name="Loud Co")
    CustomerContact.objects.create(customer=loud, purpose="outage", email="ops@loud.test")
    result = readiness.assess(lib().get("jivosoft-server-crash"), NOW, exposure=None)
    assert "Customer contacts: no outage contact: Quiet Co" in result.reasons


def test_an_image_per_server_must_exist_in_the_target_region(db, make_servers):
    from backups.models import BackupPolicy, BackupRecord
    from drportal.inventory.models import Asset, Region

    web0, web1 = make_servers(2, provider="rackspace")
    mci = Region.objects.create(provider=web0.zone.region.provider, slug="mci", name="Kansas City")
    policy = BackupPolicy.objects.create(name="weekly images", kind="system_image", schedule="0 2 * * 0",
                                         rpo_objective=timedelta(days=7))
    for server, region in ((web0, mci), (web1, web1.zone.region)):
        asset = Asset.objects.create(name=f"{server.name}-image", kind="server", server=server)
        BackupRecord.objects.create(policy=policy, asset=asset, started_at=NOW, outcome="succeeded",
                                    recovery_point=NOW - timedelta(days=1), viable=True, region=region)
    result = readiness.assess(lib().get("jivosoft-datacenter-offline"), NOW, exposure=None)
    check = next(c for c in result.checks if c.name.startswith("Image per server"))
    assert (check.name, check.ok, check.detail) == ("Image per server in rackspace/mci", False, "no viable image: web1")


def credentials(result) -> str:
    check = next(c for c in result.checks if c.name == "Credentials")
    return ("ok: " if check.ok else "not ok: ") + check.detail


def test_credentials_count_only_when_the_provider_answered_a_recent_check(make_servers):
    from drportal.cloud import connection
    from drportal.inventory.models import ProviderAccount, Server

    servers = make_servers(2, provider="rackspace")
    account = ProviderAccount.objects.create(provider=servers[0].zone.region.provider, name="rs-sim",
                                             driver="simulated", options={"latency_s": 0, "locations": ["dfw"]},
                                             credentials_env={"key": "RS_SIM_KEY"})
    Server.objects.update(account=account)
    scenario = lib().get("jivosoft-server-crash")

    def assess():
        return credentials(readiness.assess(scenario, NOW, exposure=None))

    assert assess() == "not ok: never checked: rs-sim"  # the simulated cloud needs no credentials
    connection.check_all(NOW - timedelta(days=2))
    assert assess() == "not ok: not checked for a day: rs-sim"
    connection.check_all(NOW - timedelta(minutes=15))
    assert assess() == "ok: answered the provider check within a day: rs-sim (connected: 1 location(s))"
    ProviderAccount.objects.update(connection_ok=False, connection_message="InvalidCredentials: 401")
    assert assess() == "not ok: refused: rs-sim (InvalidCredentials: 401)"


def test_dns_zones_count_as_reachable_when_the_cutovers_account_answered_its_check(make_servers):
    from drportal.cloud import connection
    from drportal.inventory.models import Provider, ProviderAccount, Server

    make_servers(2, provider="rackspace")
    Server.objects.update(dns_names=["app.jivosoft.test"])
    scenario = lib().get("jivosoft-datacenter-offline")

    def dns():
        result = readiness.assess(scenario, NOW, exposure=None)
        check = next(c for c in result.checks if c.name == "DNS zones reachable")
        return ("ok: " if check.ok else "not ok: ") + check.detail

    assert dns() == "not ok: no DNS account: name one in the servers' metadata.dns_account or in CLOUD_DNS_ACCOUNT"
    Server.objects.update(metadata={"dns_account": "jivo-dns"})
    assert dns() == "not ok: no account: jivo-dns"
    provider = Provider.objects.create(slug="sim", name="Simulated", kind="simulated")
    ProviderAccount.objects.create(provider=provider, name="jivo-dns", driver="simulated", credentials_env={},
                                   options={"latency_s": 0, "locations": ["dfw"]})
    assert dns() == "not ok: never checked: jivo-dns"
    connection.check_all(NOW - timedelta(minutes=5))
    assert dns() == "ok: answered the provider check within a day: jivo-dns (connected: 1 location(s))"


def test_a_real_account_without_credentials_is_not_ready(make_servers):
    from drportal.inventory.models import ProviderAccount, Server

    servers = make_servers(1, provider="rackspace")
    account = ProviderAccount.objects.create(provider=servers[0].zone.region.provider, name="rs-real",
                                             driver="rackspace", credentials_env={"key": "RS_UNSET_KEY"})
    Server.objects.update(account=account)
    assert credentials(readiness.assess(lib().get("jivosoft-server-crash"), NOW, exposure=None)) == (
        "not ok: no credentials: rs-real; never checked: rs-real")


def test_assessing_the_library_loads_only_the_servers_some_scenario_covers(make_servers):
    covered = make_servers(2, provider="rackspace")
    make_servers(3, provider="bench", prefix="outside")  # a provider no library scenario names
    scenarios = list(lib().scenarios.values())
    facts = readiness.Facts.load(NOW, scenarios)
    assert sorted(s.name for s in facts.servers) == sorted(s.name for s in covered)


def test_the_library_assessed_at_once_says_what_each_scenario_assessed_alone_says(make_servers):
    make_servers(2, provider="rackspace")
    make_servers(3, provider="bench", prefix="outside")
    scenarios = list(lib().scenarios.values())
    together = readiness.assess_all(scenarios, NOW)
    alone = [readiness.assess(s, NOW, exposure=None) for s in scenarios]
    assert [[vars(c) for c in r.checks] for r in together] == [[vars(c) for c in r.checks] for r in alone]
    assert [r.objective for r in together] == [r.objective for r in alone]


def test_a_rebuild_whose_deployment_command_is_not_installed_is_not_ready(db, make_servers):
    """The Cybernance seed's playbook command (ansible-playbook) on a machine without it: the run would fail at
    its first rebuild, so the scenario is not ready, and says which program is missing for which servers."""
    servers = make_servers(2, provider="aws")
    for server in servers:
        server.metadata = {"deploy_command": "surely-not-installed-playbook -i inventories/aws --limit {server}"}
        server.save()
    result = readiness.assess(lib().get("cybernance-all-datacenters-lost"), NOW, exposure=None)
    deployment = next(c for c in result.checks if c.name == "Deployment")
    assert not deployment.ok
    assert deployment.detail == "surely-not-installed-playbook is not installed on this machine (web0, web1)"
    assert not result.ready


def test_a_rebuild_whose_deployment_command_is_here_passes_that_check(db, make_servers):
    import sys

    for server in make_servers(1, provider="aws"):
        server.metadata = {"deploy_command": f"{sys.executable} deploy.py {{server}}"}
        server.save()
    result = readiness.assess(lib().get("cybernance-all-datacenters-lost"), NOW, exposure=None)
    assert next(c for c in result.checks if c.name == "Deployment").ok


def test_a_managed_database_without_credentials_makes_its_restore_not_ready(db, make_servers):
    """The demo stands a simulated cloud in for the servers' AWS account only: the RDS database keeps the real
    account, with no credentials, and restoring it would fail with NoCredentials."""
    from drportal.inventory.models import Asset, ProviderAccount

    server = make_servers(1, provider="aws")[0]
    rds_account = ProviderAccount.objects.create(provider=server.zone.region.provider, name="aws-no-keys",
                                                 driver="aws")
    Asset.objects.create(kind="managed_database", name="rds-prod", account=rds_account, zone=server.zone,
                         external_id="rds-prod")
    result = readiness.assess(lib().get("cybernance-all-datacenters-lost"), NOW, exposure=None)
    managed = next(c for c in result.checks if c.name == "Managed services' credentials")
    assert not managed.ok
    assert "no credentials: aws-no-keys" in managed.detail
