"""Demo data of the cloud app (called by `manage.py load_demo`): the simulated twins the drills and the
demo recover into, so a crash can be recovered end to end without a real Rackspace or AWS account.

- "<account>-sim" for every real compute account: Rackspace-like twins cannot move IPs (the plan's
  "if Rackspace is not able to configure the new server with the same IP"), AWS-like twins can;
- a running simulated node and two weekly images per server, the images in the region the plan keeps
  them in (Kansas City for Jivosoft);
- "demo-dns", a simulated DNS account whose zones (from the servers' DNS names) are answered by
  `manage.py serve_sim_dns` on 127.0.0.1:SIM_DNS_PORT (5354).
Idempotent: a second run changes nothing.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from drportal.audit import log as audit

ACTOR = "command:load_demo"
LATENCY_S = 20  # long enough to watch "provisioning" on the run page, short enough for a demo


def sim_dns_port() -> int:
    return int(os.environ.get("SIM_DNS_PORT", "5354"))


def _zone_of(name: str) -> str:
    parts = name.rstrip(".").split(".")
    return ".".join(parts[-2:]) + "." if len(parts) >= 2 else name + "."


def load(now: datetime, stdout=None) -> None:
    from drportal.cloud.models import SimRecord, SimZone
    from drportal.inventory.models import ProviderAccount, Server

    created = 0
    for account in ProviderAccount.objects.select_related("provider").order_by("name"):
        if account.driver in ("powerdns", "route53", "local", "cloudfiles", "s3"):
            continue
        zones = [z.slug for z in _zones(account.provider)]
        if account.driver == "simulated":
            if not (account.options or {}).get("stands_in_for"):
                continue  # a twin, or the simulated provider's own account
            # The demo's own account runs on the simulated cloud (load_demo.on_simulated_cloud): it gets the
            # servers' nodes and images itself, so a real (non-drill) run of the demo has something to act on.
            target = account
        else:
            sizes = sorted({s for s in Server.objects.filter(account=account).values_list("size", flat=True) if s})
            target, made = ProviderAccount.objects.get_or_create(
                name=f"{account.name}-sim",
                defaults={"provider": account.provider, "driver": "simulated",
                          "options": {"latency_s": LATENCY_S, "locations": zones, "sizes": sizes,
                                      "floating_ips": account.provider.kind != "rackspace"}},
            )
            if made:
                audit.record(ACTOR, "cloud.sim_account_created", target, None, {"twin_of": account.name})
                created += 1
        _populate(target, account, zones, now)
    dns, made = ProviderAccount.objects.get_or_create(
        name="demo-dns", defaults={"provider": _any_provider(), "driver": "simulated",
                                   "options": {"nameservers": [f"127.0.0.1:{sim_dns_port()}"]}})
    if made:
        audit.record(ACTOR, "cloud.sim_account_created", dns, None, {"dns": True})
    for server in Server.objects.exclude(dns_names=[]):
        for name in server.dns_names:
            zone, _ = SimZone.objects.get_or_create(domain=_zone_of(name))
            full = name.rstrip(".") + "."
            for ip in server.public_ips:
                kind = "AAAA" if ":" in ip else "A"
                SimRecord.objects.get_or_create(zone=zone, name=full, type=kind, content=ip, defaults={"ttl": 3600})
    if stdout is not None:
        stdout.write(f"cloud: simulated twins ready ({created} new); DNS zones served by `manage.py serve_sim_dns` "
                     f"on 127.0.0.1:{sim_dns_port()}")


def _populate(target, account, zones: list[str], now: datetime) -> None:
    """A running simulated node and two weekly images per server of `account`, on the simulated `target`."""
    from drportal.cloud.models import SimImage, SimNode
    from drportal.inventory.models import Server

    image_zone = _image_zone(account.provider, zones)
    for server in Server.objects.filter(account=account).select_related("zone"):
        SimNode.objects.get_or_create(
            account=target, node_id=f"sim-{server.name}",
            defaults={"name": server.name, "image_id": f"img-{server.name}-1", "size_id": "4GB",
                      "location": server.zone.slug, "created_at": now - timedelta(days=90),
                      "ready_at": now - timedelta(days=90), "public_ip": (server.public_ips or [None])[0],
                      "private_ip": (server.private_ips or [None])[0]},
        )
        for weeks in (1, 2):
            day = (now - timedelta(weeks=weeks)).date().isoformat()
            SimImage.objects.get_or_create(
                account=target, image_id=f"img-{server.name}-{weeks}",
                defaults={"name": f"{server.name}-weekly-{day}", "server_name": server.name,
                          "location": image_zone, "created_at": now - timedelta(weeks=weeks)},
            )


def _zones(provider):
    from drportal.inventory.models import Zone

    return list(Zone.objects.filter(region__provider=provider).order_by("region__slug", "slug"))


def _image_zone(provider, zones: list[str]) -> str:
    # The Jivosoft plan keeps the weekly images in Kansas City; elsewhere the first zone will do.
    return next((z for z in zones if z.startswith("mci")), zones[0] if zones else "")


def _any_provider():
    from drportal.inventory.models import Provider

    provider, _ = Provider.objects.get_or_create(slug="simulated", defaults={"name": "Simulated cloud",
                                                                            "kind": "simulated"})
    return provider
