"""A small inventory in the shape of the Jivosoft seed: Rackspace Dallas and Kansas City, two database
servers and an app server in Dallas, customers with databases on them, and an office in San Antonio."""

from __future__ import annotations

from types import SimpleNamespace

from drportal.incidents import services as incidents
from drportal.inventory.choices import AssetKind, ContactPurpose, ServerRole
from drportal.inventory.models import (
    Asset,
    Customer,
    CustomerContact,
    Office,
    Person,
    Provider,
    Region,
    Server,
    Service,
    Zone,
)


def build_world(users) -> SimpleNamespace:
    w = SimpleNamespace(users=users)
    w.rackspace = Provider.objects.create(slug="rackspace", name="Rackspace", kind="rackspace")
    w.dfw = Region.objects.create(provider=w.rackspace, slug="dfw", name="Dallas")
    w.ord = Region.objects.create(provider=w.rackspace, slug="mci", name="Kansas City")
    w.dfw1 = Zone.objects.create(region=w.dfw, slug="dfw1", name="Dallas DC1")
    w.mci1 = Zone.objects.create(region=w.ord, slug="mci1", name="Kansas City DC1")
    w.db1 = Server.objects.create(name="db1.dfw.jivo.internal", role=ServerRole.DATABASE, zone=w.dfw1,
                                  private_ips=["10.0.0.11"], public_ips=["203.0.113.11"],
                                  dns_names=["db1.dfw.jivo.internal"])
    w.db2 = Server.objects.create(name="db2.dfw.jivo.internal", role=ServerRole.DATABASE, zone=w.dfw1,
                                  private_ips=["10.0.0.12"], dns_names=["db2.dfw.jivo.internal"])
    w.app1 = Server.objects.create(name="app1.dfw.jivo.internal", role=ServerRole.APPLICATION, zone=w.dfw1,
                                   public_ips=["203.0.113.21"], dns_names=["app.jivosoft.example"])
    w.kc1 = Server.objects.create(name="db9.mci.jivo.internal", role=ServerRole.DATABASE, zone=w.mci1)
    w.saas = Service.objects.create(slug="saas", name="jivo-saas-prod", public_name="Jivosoft Cloud")
    w.saas.servers.set([w.app1])
    w.customers = {}
    for n, (slug, server) in enumerate((("acme", w.db1), ("globex", w.db2), ("initech", w.kc1))):
        c = Customer.objects.create(slug=slug, name=slug.title())
        Asset.objects.create(name=f"{slug}-db", kind=AssetKind.DATABASE, server=server, customer=c)
        CustomerContact.objects.create(customer=c, purpose=ContactPurpose.OUTAGE, email=f"ops@{slug}.example",
                                       phone=f"+1 210 555 010{n}")
        CustomerContact.objects.create(customer=c, purpose=ContactPurpose.BILLING, email=f"billing@{slug}.example")
        w.customers[slug] = c
    # Hooli uses the SaaS (served by app1) but has no database of its own.
    w.customers["hooli"] = Customer.objects.create(slug="hooli", name="Hooli")
    w.customers["hooli"].services.set([w.saas])
    CustomerContact.objects.create(customer=w.customers["hooli"], purpose=ContactPurpose.OUTAGE,
                                   email="it@hooli.example")
    w.office = Office.objects.create(slug="sat", name="San Antonio office")
    w.people = [
        Person.objects.create(office=w.office, name="Kim Key", email="kim@jivo.example", phone="+12105550001",
                              is_key_personnel=True, call_forwarding_order=1),
        Person.objects.create(office=w.office, name="Lee Lead", email="lee@jivo.example", phone="+12105550002",
                              is_key_personnel=True, call_forwarding_order=2),
        Person.objects.create(office=w.office, name="Pat Plain", email="pat@jivo.example"),
    ]
    return w


def crash(w, *servers, title="db1 crashed", disaster_class="server_crash", **extra):
    return incidents.declare(w.users["alice"], title=title, disaster_class=disaster_class,
                             impacted={"servers": list(servers), **extra.pop("impacted", {})}, **extra)
