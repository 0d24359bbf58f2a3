"""DNS actions: dns_cutover (with optional TTL lowering first), dns_rollback, verify_dns_propagation."""

from __future__ import annotations

import ipaddress
import os
from datetime import datetime, timedelta

import dns.rdata
import dns.rdataclass
import dns.rdatatype

from drportal.audit import log as audit
from drportal.cloud.actions.base import Outcome, StepContext, register
from drportal.cloud.actions.common import account_named, actor, bad_input, check_timeout, param, server_from
from drportal.cloud.adapters import dns as dnsa
from drportal.cloud.adapters import propagation
from drportal.cloud.adapters.errors import AdapterError
from drportal.lib import clock

TYPES = ("A", "AAAA", "CNAME")


def _normalise(field: str, rdtype: str, value: str) -> str:
    if rdtype == "A":
        try:
            return str(ipaddress.IPv4Address(value))
        except ValueError:
            raise bad_input(field, f"{value!r} is not an IPv4 address") from None
    if rdtype == "AAAA":
        try:
            return str(ipaddress.IPv6Address(value))
        except ValueError:
            raise bad_input(field, f"{value!r} is not an IPv6 address") from None
    try:
        value = value if value.endswith(".") else value + "."
        return dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.from_text(rdtype), value).to_text()
    except Exception:  # noqa: BLE001 - dnspython raises many syntax error types
        raise bad_input(field, f"{value!r} is not a valid {rdtype} target") from None


def wanted_rrsets(ctx: StepContext, zone_domain: str, ttl: int) -> list[dnsa.RRSet]:
    """The record sets the step should make true: params.records, else params.cname → params.target (a public
    name pointed at a load balancer, both usually bound from the load balancer step), else the server's DNS
    names → its IPs."""
    out: list[dnsa.RRSet] = []
    if param(ctx, "cname"):
        name = dnsa.fqdn(str(param(ctx, "cname")), zone_domain)
        if not name.endswith(zone_domain):
            raise bad_input("params.cname", f"{name} is not in zone {zone_domain}")
        target = str(param(ctx, "target", required=True))
        return [dnsa.RRSet(name, "CNAME", [_normalise("params.target", "CNAME", target)], ttl)]
    records = param(ctx, "records")
    if records:
        if not isinstance(records, list):
            raise bad_input("params.records", "must be a list of {name, type, values}")
        for i, item in enumerate(records):
            rdtype = str(item.get("type", "A")).upper()
            if rdtype not in TYPES:
                raise bad_input(f"params.records[{i}].type", f"{rdtype!r} is not one of {', '.join(TYPES)}")
            values = item.get("values") or ([item["value"]] if item.get("value") else [])
            if not values:
                raise bad_input(f"params.records[{i}].values", "is required")
            name = dnsa.fqdn(str(item.get("name", "")), zone_domain)
            if not name.endswith(zone_domain):
                raise bad_input(f"params.records[{i}].name", f"{name} is not in zone {zone_domain}")
            vals = sorted({_normalise(f"params.records[{i}].values", rdtype, str(v)) for v in values})
            out.append(dnsa.RRSet(name, rdtype, vals, int(item.get("ttl", ttl))))
        return out
    servers = servers_from(ctx)
    for server in servers:
        # params.addresses (e.g. bound from a provision step's output in a drill) override the inventory's IPs.
        addresses = (len(servers) == 1 and [str(a) for a in param(ctx, "addresses", [])]) or list(server.public_ips)
        for i, value in enumerate(addresses):
            try:
                ipaddress.ip_address(value)
            except ValueError:
                raise bad_input(f"params.addresses[{i}]", f"{value!r} is not an IP address") from None
        v4 = sorted(ip for ip in addresses if ":" not in ip)
        v6 = sorted(str(ipaddress.IPv6Address(ip)) for ip in addresses if ":" in ip)
        for name in server.dns_names:
            full = dnsa.fqdn(name, zone_domain)
            if not full.endswith(zone_domain):
                continue
            if v4:
                out.append(dnsa.RRSet(full, "A", v4, ttl))
            if v6:
                out.append(dnsa.RRSet(full, "AAAA", v6, ttl))
    if not out:
        names = ", ".join(s.name for s in servers)
        raise bad_input("params.server", f"{names}: no DNS names in {zone_domain} or no public IPs")
    return out


def servers_from(ctx: StepContext) -> list:
    """params.server, or params.servers (a list, or names separated by commas, as a scenario binds them)."""
    from drportal.inventory.models import Server

    names = param(ctx, "servers")
    if not names:
        return [server_from(ctx)]
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    found = {s.name: s for s in Server.objects.filter(name__in=names)}
    for i, name in enumerate(names):
        if name not in found:
            raise bad_input(f"params.servers[{i}]", f"no server {name!r}")
    return [found[n] for n in names]


def _key(r) -> str:
    return f"{r.name} {r.type}"


def dns_account(ctx: StepContext):
    """params.account, else the server's metadata.dns_account, else CLOUD_DNS_ACCOUNT, else the one DNS account
    there is (a scenario may name only the server)."""
    name = param(ctx, "account")
    if not name and (param(ctx, "server") or param(ctx, "servers")):
        name = (servers_from(ctx)[0].metadata or {}).get("dns_account")
    name = name or default_dns_account()
    if not name:
        raise bad_input("params.account", "which DNS account holds the zone? Name it here, in the server's "
                                          "metadata.dns_account, or in CLOUD_DNS_ACCOUNT")
    return account_named(ctx, "params.account", name)


def default_dns_account() -> str:
    """CLOUD_DNS_ACCOUNT, else the one DNS account there is; "" when that is not settled."""
    from django.conf import settings
    from django.db.models import Q

    from drportal.inventory.models import ProviderAccount

    name = getattr(settings, "CLOUD_DNS_ACCOUNT", "")
    if name:
        return name
    # A drill's sandbox ("<name>-drill") is never production's DNS account: a drill reaches it as the twin.
    found = list(ProviderAccount.objects.filter(Q(driver__in=["powerdns", "route53"]) | Q(name="demo-dns"))
                 .exclude(name__endswith="-drill").values_list("name", flat=True)[:2])
    return found[0] if len(found) == 1 else ""


def _infer_zone(ctx: StepContext, driver, provider: str) -> str:
    """The zone holding the server's DNS names: the longest zone suffix among the account's zones."""
    from drportal.cloud.adapters import retry

    zones = [z.domain for z in retry.call(driver.list_zones, provider=provider)]
    if param(ctx, "cname"):
        full = str(param(ctx, "cname")).rstrip(".") + "."
        matches = [z for z in zones if full == z or full.endswith("." + z)]
        if not matches:
            raise bad_input("params.zone", f"no zone at {provider} holds {full}")
        return max(matches, key=len)
    if not param(ctx, "server") and not param(ctx, "servers"):
        raise bad_input("params.zone", "is required (or give a server whose DNS names are in a zone)")
    servers = servers_from(ctx)
    for server in servers:
        for name in server.dns_names:
            full = name.rstrip(".") + "."
            matches = [z for z in zones if full == z or full.endswith("." + z)]
            if matches:
                return max(matches, key=len)
    names = [n for s in servers for n in s.dns_names]
    raise bad_input("params.zone", f"no zone at {provider} holds {', '.join(names) or 'any name'} of "
                                   f"{', '.join(s.name for s in servers)}")


def _zone(ctx: StepContext):
    account = dns_account(ctx)
    driver = dnsa.driver_for(account)
    provider = dnsa.provider_name(account)
    zone = dnsa.get_zone(driver, param(ctx, "zone") or _infer_zone(ctx, driver, provider), provider)
    return account, driver, provider, zone


def zone_for(ctx: StepContext):
    """(account, driver, provider name, zone) a DNS step works on (public: a drill's teardown looks again)."""
    return _zone(ctx)


class DNSCutover:
    name = "dns_cutover"
    title = "Point DNS records at the replacement servers"

    def plan(self, ctx: StepContext) -> list[str]:
        _, driver, provider, zone = _zone(ctx)
        wanted = wanted_rrsets(ctx, zone.domain, int(param(ctx, "ttl", 300)))
        current = dnsa.read_rrsets(driver, zone, provider)
        lines = []
        for r in wanted:
            cur = current.get((r.name, r.type))
            was = f"{', '.join(cur.values)} (TTL {cur.ttl})" if cur else "nothing"
            same = cur and set(cur.values) == set(r.values) and cur.ttl == r.ttl
            lines.append(f"{r.name} {r.type}: {was} → {', '.join(r.values)} (TTL {r.ttl})" + (" — already so" if same
                                                                                               else ""))
        if param(ctx, "lower_ttl_first"):
            lines.insert(0, f"First lower the TTL of the changed records to {param(ctx, 'ttl', 300)} s and wait "
                            "for the old TTL to run out.")
        return lines

    def execute(self, ctx: StepContext) -> Outcome:
        _, driver, provider, zone = _zone(ctx)
        ttl = int(param(ctx, "ttl", 300))
        wanted = wanted_rrsets(ctx, zone.domain, ttl)
        current = dnsa.read_rrsets(driver, zone, provider)
        old = ctx.state.setdefault("old", {})
        for r in wanted:
            # Only the first call sees the true old values: a retry must not overwrite them with new ones.
            if _key(r) not in old:
                cur = current.get((r.name, r.type))
                old[_key(r)] = cur.as_dict() if cur else {"name": r.name, "type": r.type, "values": [], "ttl": ttl}
        now = clock.now()
        if param(ctx, "lower_ttl_first"):
            waiting = self._lower_ttl(ctx, driver, provider, zone, wanted, current, now)
            if waiting:
                return waiting
        changes = [r for r in wanted if (cur := current.get((r.name, r.type))) is None
                   or set(cur.values) != set(r.values) or cur.ttl != r.ttl]
        dnsa.replace_rrsets(driver, zone, changes, provider)
        if changes:
            audit.record(actor(self.name, ctx), "dns.cutover", None,
                         {_key(r): old[_key(r)] for r in changes}, {_key(r): r.as_dict() for r in changes},
                         note=f"zone {zone.domain} on {provider}")
        ctx.say(f"{len(changes)} record set(s) changed, {len(wanted) - len(changes)} already right in {zone.domain}")
        return Outcome(done=True, output={
            "zone": zone.domain, "changed": [_key(r) for r in changes],
            "unchanged": [_key(r) for r in wanted if r not in changes], "old": old,
            "records": [r.as_dict() for r in wanted],
        })

    def _lower_ttl(self, ctx, driver, provider, zone, wanted, current, now: datetime) -> Outcome | None:
        if "ttl_lowered_until" not in ctx.state:
            lowered = []
            for r in wanted:
                cur = current.get((r.name, r.type))
                if cur and cur.ttl > r.ttl and set(cur.values) != set(r.values):
                    lowered.append(dnsa.RRSet(cur.name, cur.type, list(cur.values), r.ttl))
            dnsa.replace_rrsets(driver, zone, lowered, provider)
            wait = max((current[(r.name, r.type)].ttl for r in lowered), default=0)
            ctx.state["ttl_lowered_until"] = (now + timedelta(seconds=wait)).isoformat()
            if lowered:
                audit.record(actor(self.name, ctx), "dns.ttl_lowered", None,
                             {_key(r): current[(r.name, r.type)].ttl for r in lowered},
                             {_key(r): r.ttl for r in lowered}, note=f"zone {zone.domain} on {provider}")
                ctx.say(f"lowered the TTL of {len(lowered)} record set(s); old answers expire within {wait} s")
        until = datetime.fromisoformat(ctx.state["ttl_lowered_until"])
        if now < until:
            return Outcome(done=False, poll_after=(until - now).total_seconds(),
                           output={"phase": "ttl_lowered", "cutover_at": until.isoformat()})
        return None


class DNSRollback:
    name = "dns_rollback"
    title = "Put DNS records back to what they were before the cutover"

    def _old(self, ctx: StepContext) -> list[dnsa.RRSet]:
        old = param(ctx, "old", required=True)
        if not isinstance(old, dict):
            raise bad_input("params.old", "must be the 'old' output of a dns_cutover step")
        return [dnsa.RRSet(v["name"], v["type"], list(v["values"]), int(v["ttl"])) for v in old.values()]

    def plan(self, ctx: StepContext) -> list[str]:
        return [f"{r.name} {r.type} → {', '.join(r.values) or '(removed)'}" for r in self._old(ctx)]

    def execute(self, ctx: StepContext) -> Outcome:
        _, driver, provider, zone = _zone(ctx)
        wanted = self._old(ctx)
        current = dnsa.read_rrsets(driver, zone, provider)
        changes = [r for r in wanted if ((cur := current.get((r.name, r.type))) is None and r.values)
                   or (cur is not None and (set(cur.values) != set(r.values) or cur.ttl != r.ttl))]
        dnsa.replace_rrsets(driver, zone, changes, provider)
        if changes:
            audit.record(actor(self.name, ctx), "dns.rollback", None,
                         {_key(r): current[(r.name, r.type)].as_dict() for r in changes
                          if (r.name, r.type) in current},
                         {_key(r): r.as_dict() for r in changes}, note=f"zone {zone.domain} on {provider}")
        return Outcome(done=True, output={"restored": [_key(r) for r in changes]})


class VerifyDNSPropagation:
    name = "verify_dns_propagation"
    title = "Check that authoritative servers and resolvers answer with the new addresses"

    def _servers(self, ctx: StepContext, account) -> list[propagation.Server]:
        auth = param(ctx, "authoritative")
        servers = (propagation.parse_servers(auth, authoritative=True) if auth else
                   [propagation.Server(f"authoritative {h}:{p}", h, p, True) for h, p in dnsa.nameservers(account)])
        # The resolvers customers are likely behind: the step's own list, else the install's
        # (CLOUD_DNS_RESOLVERS, "host:port" comma-separated).
        resolvers = param(ctx, "resolvers")
        if resolvers is None:
            from django.conf import settings

            configured = getattr(settings, "CLOUD_DNS_RESOLVERS", None) or os.environ.get("CLOUD_DNS_RESOLVERS", "")
            resolvers = [r.strip() for r in configured.split(",") if r.strip()] if isinstance(configured, str) \
                else list(configured)
        try:
            servers += propagation.parse_servers(resolvers, authoritative=False)
        except ValueError as exc:
            raise bad_input("params.resolvers", str(exc)) from None
        if not servers:
            raise bad_input("params.authoritative", "no DNS servers to ask (set the account's nameservers)")
        return servers

    def plan(self, ctx: StepContext) -> list[str]:
        account, _, _, zone_obj = _zone(ctx)
        zone = zone_obj.domain
        wanted = wanted_rrsets(ctx, zone, 300)
        return [f"Ask {', '.join(s.label for s in self._servers(ctx, account))} for {len(wanted)} record set(s) "
                "until every one answers with the new values."]

    def execute(self, ctx: StepContext) -> Outcome:
        account = dns_account(ctx)
        if param(ctx, "zone"):
            zone = dnsa.fqdn("", param(ctx, "zone"))
        else:
            driver = dnsa.driver_for(account)
            zone = _infer_zone(ctx, driver, dnsa.provider_name(account))
        wanted = wanted_rrsets(ctx, zone, 300)
        servers = self._servers(ctx, account)
        expected = {(r.name, r.type): set(r.values) for r in wanted}
        now = clock.now()
        answers = propagation.ask_all(servers, list(expected), timeout=float(param(ctx, "query_timeout_s", 2)))
        progress = propagation.progress(answers, expected, now)
        output = {"percent": progress.percent, "agreeing": progress.agreeing, "total": progress.total,
                  "stragglers": progress.stragglers, "answers": progress.answers}
        if progress.complete:
            ctx.say(f"all {progress.total} answers agree")
            return Outcome(done=True, output=output)
        ctx.say(f"{progress.percent}% propagated: {len(progress.stragglers)} answer(s) still old or missing")
        try:
            # The seed warns propagation can take a day: the default timeout says so.
            check_timeout(ctx, 86400, "DNS propagation", now)
        except AdapterError as exc:
            names = ", ".join(sorted({f"{s['server']} {s['name']}" for s in progress.stragglers})[:10])
            raise AdapterError(f"{exc.args[0]}; stragglers: {names}", permanent=True, code="Timeout") from None
        ttls = [s["ttl"] for s in progress.stragglers if s["ttl"]]
        poll = min([float(param(ctx, "poll_s", 30)), *[t + 1 for t in ttls]])
        return Outcome(done=False, poll_after=max(1.0, poll), output=output)


cutover = register(DNSCutover())
rollback = register(DNSRollback())
verify = register(VerifyDNSPropagation())
