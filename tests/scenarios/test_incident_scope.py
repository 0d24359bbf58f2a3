"""One incident, one scope: what a declaration names is resolved once (drportal.incidents.scope), and the
runbook's targets, the notice audience and the exposure rows are all drawn from that one resolved set, for
every seed scenario's disaster class on the demo inventories of both seed companies."""

from __future__ import annotations

import pytest

from drportal.audit.models import AuditEvent
from drportal.incidents import scope as incident_scope
from drportal.incidents import services as incidents
from drportal.inventory.models import Asset, Customer, Office, Person, Region, Server, Service, Zone
from drportal.lib import clock
from notifications import audience
from notifications.notices import create_notice
from scenarios import engine, hooks, loader, loss
from scenarios.models import StepRun

# What a person who knows what is down would name, per seed scenario: a region, a server, an office, an asset.
DECLARED = {
    "jivosoft-datacenter-offline": {"regions": ["rackspace/dfw"]},
    "jivosoft-server-crash": {"servers": ["jv-db1"]},
    "jivosoft-office-power-internet": {"offices": ["jv-san-antonio"]},
    "jivosoft-office-destroyed": {"offices": ["jv-san-antonio"]},
    "cybernance-all-datacenters-lost": {"regions": ["aws/us-east-1"]},
    "cybernance-app-server-lost": {"servers": ["cyb-app1"]},
    "cybernance-rds-primary-failure": {"assets": ["cyb-rds-prod"]},
    "cybernance-database-total-loss": {"assets": ["cyb-rds-prod"]},
    "cybernance-redis-failover": {"assets": ["cyb-redis-1"]},
    "cybernance-redis-total-loss": {"assets": ["cyb-redis-1", "cyb-redis-2"]},
}


def named(kind: str, names: list[str]) -> list:
    if kind == "regions":
        return [Region.objects.get(provider__slug=n.split("/")[0], slug=n.split("/")[1]) for n in names]
    model = {"servers": Server, "assets": Asset, "offices": Office}[kind]
    field = "slug" if model is Office else "name"
    return list(model.objects.filter(**{f"{field}__in": names}))


def declare_for(scenario_id: str, actor):
    scenario = loader.library().get(scenario_id)
    impacted = {kind: named(kind, names) for kind, names in DECLARED[scenario_id].items()}
    return incidents.declare(actor, title=scenario.title, disaster_class=scenario.disaster_class,
                             severity="sev1", impacted=impacted), scenario


@pytest.mark.django_db
@pytest.mark.parametrize("scenario_id", sorted(DECLARED))
def test_the_runbook_the_notices_and_the_exposure_read_the_same_resolved_scope(demo, alice, scenario_id):
    incident, scenario = declare_for(scenario_id, alice)
    scope = incident_scope.of(incident)
    assert incident.scope == scope.as_json()

    servers = set(Server.objects.filter(pk__in=scope.servers).values_list("name", flat=True))
    databases = set(Asset.objects.filter(pk__in=scope.databases).values_list("name", flat=True))
    bindings = engine.incident_bindings(incident, scenario)
    assert set(bindings["servers"]) == servers
    assert set(bindings["databases"]) == databases

    run, _ = engine.start_run(incident, scenario, alice)
    for step in scenario.steps:
        items = set(StepRun.objects.filter(run=run, step_id=step["id"]).values_list("item", flat=True))
        if step.get("for_each") == "server":
            assert items == (servers or {""})
        elif step.get("for_each") == "database":
            assert items == (databases or {""})

    customers = set(scope.customers)
    assert set(audience.affected_customers(incident).values_list("id", flat=True)) == customers
    notice = create_notice(alice, incident, "outage_declared")
    assert set(notice.recipients.values_list("customer_id", flat=True)) == customers

    zones, exposure_customers = loss.lost(incident)
    assert set(exposure_customers) == customers
    rows = hooks.customer_exposure(zones, clock.now(), Customer.objects.filter(pk__in=exposure_customers)) or []
    in_scope = set(Customer.objects.filter(pk__in=customers).values_list("name", flat=True))
    assert {row["customer"] for row in rows} <= in_scope


@pytest.mark.django_db
def test_a_region_only_declaration_takes_every_server_database_and_customer_in_the_region(demo, alice):
    incident, _ = declare_for("jivosoft-datacenter-offline", alice)
    scope = incident_scope.of(incident)
    dallas = Region.objects.get(provider__slug="rackspace", slug="dfw")
    in_dallas = set(Server.objects.filter(zone__region=dallas).values_list("pk", flat=True))
    assert in_dallas
    assert set(scope.servers) == in_dallas
    assert set(scope.zones) == set(Zone.objects.filter(region=dallas).values_list("pk", flat=True))
    assert set(scope.databases) == set(Asset.objects.filter(kind="database", server__zone__region=dallas)
                                       .exclude(customer__status="terminated").values_list("pk", flat=True))
    assert len(scope.customers) >= 9
    assert not incident.impacted_servers.exists()


@pytest.mark.django_db
def test_a_single_server_class_takes_only_the_chosen_server(demo, alice):
    incident, _ = declare_for("jivosoft-server-crash", alice)
    scope = incident_scope.of(incident)
    db1 = Server.objects.get(name="jv-db1")
    assert scope.servers == [db1.pk]
    assert scope.crashed_servers == [db1.pk]
    assert scope.zones == []
    assert set(Asset.objects.filter(pk__in=scope.databases).values_list("server__name", flat=True)) == {"jv-db1"}


@pytest.mark.django_db
def test_an_office_takes_its_people_and_no_customer(demo, alice):
    incident, _ = declare_for("jivosoft-office-destroyed", alice)
    scope = incident_scope.of(incident)
    office = Office.objects.get(slug="jv-san-antonio")
    assert set(scope.people) == set(Person.objects.filter(office=office).values_list("pk", flat=True))
    assert scope.servers == []
    assert scope.customers == []


@pytest.mark.django_db
def test_the_scope_is_stored_and_audited_when_the_incident_is_declared_and_widened(demo, alice):
    app1 = Server.objects.get(name="cyb-app1")
    incident = incidents.declare(alice, title="us-east-1a down", disaster_class="datacenter_offline",
                                 impacted={"zones": [app1.zone]})
    assert set(incident_scope.of(incident).servers) == {app1.pk}
    app2 = Server.objects.get(name="cyb-app2")
    incidents.widen(alice, incident.pk, impacted={"zones": [app2.zone]})
    incident.refresh_from_db()
    assert set(incident.scope["servers"]) == {app1.pk, app2.pk}
    events = AuditEvent.objects.filter(action="incident.scope_resolved", object_id=str(incident.pk)).order_by("id")
    assert [e.after["reason"] for e in events] == ["declared", "widened"]
    assert events.last().after["added_servers"] == [app2.pk]


@pytest.mark.django_db
def test_relations_changed_outside_the_services_resolve_the_scope_again(demo, alice):
    incident, _ = declare_for("jivosoft-server-crash", alice)
    db2 = Server.objects.get(name="jv-db2")
    incident.impacted_servers.add(db2)
    incident.refresh_from_db()
    assert db2.pk in incident.scope["servers"]
    assert AuditEvent.objects.filter(action="incident.scope_resolved", object_id=str(incident.pk)).count() == 2


@pytest.mark.django_db
def test_a_service_alone_takes_its_customers(demo, alice):
    service = Service.objects.get(slug="jv-reports")
    incident = incidents.declare(alice, title="Reports down", disaster_class="other", impacted={"services": [service]})
    expected = set(Customer.objects.filter(services=service, status="active").values_list("pk", flat=True))
    assert expected
    assert set(incident_scope.of(incident).customers) == expected
