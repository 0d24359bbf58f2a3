"""Could a scenario run now? And which scenario fits an incident? Plain functions of raw facts and `now`."""

from __future__ import annotations

import shlex
import shutil
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from drportal.cloud.actions.base import REGISTRY
from drportal.incidents.models import Incident
from drportal.incidents.scope import REGION_WIDE_CLASSES
from drportal.inventory.models import Asset, ExternalContact, Server
from drportal.lib import messages
from scenarios import hooks, promise, snapshots
from scenarios.choices import MitigationStatus
from scenarios.loader import Scenario
from scenarios.match import scope_of_any, scope_queryset, scope_servers
from scenarios.models import Drill, Mitigation

DNS_DRIVERS = ("powerdns", "route53", "rackspace", "rackspacedns", "simulated")


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    blocking: bool = True
    # For the dashboard's sentence about a failed check: what is wrong (a clause), since when (ISO, UTC; "" when
    # no row says) and what to do. Empty for checks that say nothing more than `detail`.
    problem: str = ""
    since: str = ""
    todo: str = ""


@dataclass
class Readiness:
    scenario: Scenario
    checks: list[Check] = field(default_factory=list)
    exposure: list[dict[str, Any]] | None = None
    # The recovery-point objective the promise check measured against (scenarios.promise), kept in the snapshot
    # so the plan page shows the target and the finding from one computation.
    objective: Any = None

    @property
    def ready(self) -> bool:
        return all(c.ok for c in self.checks if c.blocking)

    @property
    def reasons(self) -> list[str]:
        return [f"{c.name}: {c.detail}" for c in self.checks if c.blocking and not c.ok]


@dataclass
class Facts:
    """What assessing every scenario needs, loaded once: 6 queries for the whole library."""

    servers: list[Server]
    mitigations: dict[str, Mitigation]
    last_drills: dict[str, datetime]
    has_support_contact: bool
    customers_without_contact: list[str]
    images: dict[int, set[str]] | None

    @classmethod
    def load(cls, now: datetime, scenarios: list[Scenario]) -> Facts:
        # Only the servers some scenario covers, and only their images: what a refresh reads no longer grows
        # with the servers and records outside the library's scope.
        servers = list(scope_of_any([s for s in scenarios if reads_servers(s)])
                       .select_related("zone__region__provider", "account"))
        return cls(
            servers=servers,
            mitigations={m.slug: m for m in Mitigation.objects.all()},
            last_drills=last_drills(),
            has_support_contact=ExternalContact.objects.filter(kind="provider_support").exists(),
            customers_without_contact=customers_without_contact(),
            images=hooks.image_locations(now, [s.pk for s in servers]),
        )


def reads_servers(scenario: Scenario) -> bool:
    """Does assessing it read its servers one by one (steps per server, the zone-wide promise check)? The
    others' scope stays a query (scope_queryset): a scenario without a match block covers every server."""
    return any(s.get("for_each") == "server" for s in scenario.steps) or scenario.disaster_class in ZONE_WIDE


def customers_without_contact() -> list[str]:
    """Active customers nobody could send an outage notice to."""
    from django.db.models import Count, Q

    from drportal.inventory.models import Customer

    return list(Customer.objects.filter(status="active").annotate(
        reachable=Count("contacts", filter=Q(contacts__purpose="outage") & ~Q(contacts__email=""))
    ).filter(reachable=0).order_by("name").values_list("name", flat=True))


def assess_all(scenarios: list[Scenario], now: datetime) -> list[Readiness]:
    facts = Facts.load(now, scenarios)
    return [assess(s, now, facts=facts, exposure=None) for s in scenarios]


def _uses(scenario: Scenario, *actions: str) -> bool:
    return any(s.get("action") in actions for s in scenario.steps if s["kind"] == "automated")


def lost_zones(scenario: Scenario, servers: list[Server]) -> set[int]:
    """The zones the disaster takes out: the servers' zones, or their whole regions for region-wide classes."""
    from drportal.inventory.models import Zone

    zones = {s.zone_id for s in servers}
    if scenario.disaster_class in REGION_WIDE_CLASSES and servers:
        regions = {s.zone.region_id for s in servers}
        zones |= set(Zone.objects.filter(region_id__in=regions).values_list("pk", flat=True))
    return zones


def exposure(scenario: Scenario, now: datetime) -> list | None:
    """What each customer would lose in this disaster (hooks.customer_exposure, kept in a snapshot) for the
    zones `lost_zones` would compute from the scenario's servers, found with two small queries instead of
    loading every server."""
    from drportal.inventory.models import Zone

    servers = scope_queryset(scenario)
    places = set(servers.order_by().values_list("zone_id", "zone__region_id").distinct())
    zones = {zone for zone, _ in places}
    if scenario.disaster_class in REGION_WIDE_CLASSES and places:
        zones |= set(Zone.objects.filter(region_id__in={region for _, region in places}).values_list("pk", flat=True))
    if not zones:
        return []
    from scenarios import loss

    return loss.exposure_of(f"exposure:scenario:{scenario.id}", zones, None, now)


def review_due(scenario: Scenario, today: date) -> date:
    return scenario.last_reviewed + timedelta(days=scenario.data.get("review_every_days", 365))


def drill_due(scenario: Scenario, last_drill: datetime | None) -> date | None:
    """None when never drilled (overdue at once)."""
    if last_drill is None:
        return None
    return last_drill.date() + timedelta(days=scenario.data.get("drill_every_days", 365))


def _image_check(scenario: Scenario, servers: list[Server], facts: Facts | None, now: datetime) -> Check:
    """A viable system image of every server in scope (in the scenario's target region, when it names one)."""
    region = scenario.data.get("target_region", "")
    locations = facts.images if facts else hooks.image_locations(now)
    imaged = None if locations is None else hooks.servers_with_image(locations, region)
    if imaged is None:
        lacking = [s.name for s in servers if not s.image]
        detail = "every server has a recorded image (its copies are not catalogued)"
    else:
        lacking = [s.name for s in servers if s.pk not in imaged]
        detail = f"a viable system image of every server{' in ' + region if region else ''}"
    return Check(f"Image per server{' in ' + region if region else ''}", not lacking,
                 detail if not lacking else "no viable image: " + ", ".join(lacking[:10]))


def _mitigations_check(scenario: Scenario, mitigations: dict[str, Mitigation] | None, today: date) -> Check:
    """Every standing mitigation the scenario counts on is in the register and current."""
    known = mitigations if mitigations is not None else {m.slug: m for m in Mitigation.objects.all()}
    bad = []
    for slug in scenario.data.get("mitigations", []):
        item = known.get(slug)
        if item is None:
            bad.append(f"{slug} (not in the register)")
        elif item.status(today) in (MitigationStatus.EXPIRED, MitigationStatus.UNCHECKED):
            bad.append(f"{item.title} ({item.status(today)})")
    return Check("Standing mitigations", not bad, "all current" if not bad else "; ".join(bad))


def assess(scenario: Scenario, now: datetime, *, mitigations: dict[str, Mitigation] | None = None,
           last_drill: datetime | None = None, exposure: list | bool | None = False,
           facts: Facts | None = None) -> Readiness:
    today = now.date()
    result = Readiness(scenario)
    checks = result.checks

    missing = sorted({s["action"] for s in scenario.steps if s["kind"] == "automated"} - set(REGISTRY))
    checks.append(Check("Actions installed", not missing,
                        "all installed" if not missing else "not installed: " + ", ".join(missing)))

    needs_servers = any(s.get("for_each") == "server" for s in scenario.steps)
    if facts is not None:
        mitigations = facts.mitigations
        last_drill = facts.last_drills.get(scenario.id)
    servers = scope_servers(scenario, facts.servers if facts else None) if needs_servers else []
    if needs_servers:
        checks.append(Check("Servers in scope", bool(servers), f"{len(servers)} server(s)" if servers
                            else "no server matches the scenario's providers and roles"))
    if _uses(scenario, "provision_from_image") and servers:
        checks.append(_image_check(scenario, servers, facts, now))
    checks.extend(means_checks(scenario, servers, now))
    if _uses(scenario, "dns_cutover") and servers:
        nameless = [s.name for s in servers if not s.dns_names]
        checks.append(Check("DNS names", not nameless, "every server has DNS names"
                            if not nameless else "no DNS names: " + ", ".join(nameless)))
        checks.append(dns_zones_check(servers, now))
    providers = scenario.data.get("match", {}).get("providers", [])
    if providers and any(s["kind"] == "manual" for s in scenario.steps):
        support = facts.has_support_contact if facts else (
            ExternalContact.objects.filter(kind="provider_support").exists())
        checks.append(Check("Provider support contact", support,
                            "present" if support else "no provider support contact in the inventory"))
    if any(s["kind"] == "notify" and s.get("audience") == "customers" for s in scenario.steps):
        lacking = facts.customers_without_contact if facts else customers_without_contact()
        checks.append(Check("Customer contacts", not lacking, "every active customer has an outage contact"
                            if not lacking else "no outage contact: " + ", ".join(lacking[:10])))
    if scenario.data.get("mitigations"):
        checks.append(_mitigations_check(scenario, mitigations, today))

    scope = servers if needs_servers else _promise_scope(scenario, facts)
    result.objective = promise.objective(scenario, scope)
    checks.append(promise_check(scenario, scope, now, result.objective))

    due = review_due(scenario, today)
    checks.append(Check("Plan reviewed", due >= today, f"next review by {due}" if due >= today
                        else f"review overdue since {due}", blocking=False))
    drill_by = drill_due(scenario, last_drill)
    checks.append(Check("Drilled", drill_by is not None and drill_by >= today,
                        "never drilled" if drill_by is None else (f"next drill by {drill_by}" if drill_by >= today
                                                                  else f"drill overdue since {drill_by}"),
                        blocking=False))
    if exposure is False:
        zones = lost_zones(scenario, servers if needs_servers else scope_servers(scenario))
        exposure = hooks.customer_exposure(zones, now) if zones else []
    result.exposure = exposure
    return result


def _promise_scope(scenario: Scenario, facts: Facts | None):
    if facts is not None and not reads_servers(scenario):
        return scope_queryset(scenario)
    return scope_servers(scenario, facts.servers if facts else None)


PROMISE_CHECK = "Plan's promise"
ZONE_WIDE = ("datacenter_offline", "all_datacenters_lost")


def promise_check(scenario: Scenario, servers: list[Server], now: datetime, target=None) -> Check:
    """Does the scenario keep the plan's promise for the data it recovers? In words: the looser objective a
    scenario file may set, and what the surviving copies deliver now (the recovery point of its servers).
    `target`: the scenario's promise.objective for these servers, when the caller has it already."""
    if target is None:
        target = promise.objective(scenario, servers)
    if target.target_minutes is None:
        return Check(PROMISE_CHECK, True, "no backup policy covers what this scenario recovers", blocking=False)
    said = [target.sentence] if target.looser else []
    # hooks.recovery_point reads the servers' zones as lost with them: the disaster of these classes, not of a
    # single crashed server (whose zone, and the copies kept there, survive).
    zone_wide = scenario.disaster_class in ZONE_WIDE
    # zone_wide first: `servers` may be a query (readiness.reads_servers), never loaded for the other classes.
    point = hooks.recovery_point([s.pk for s in servers], now) if zone_wide and servers else None
    seconds = (now - point).total_seconds() if point else None
    broken = ""
    if point is not None:
        broken = promise.loss_sentence(target.target_minutes, seconds, "losing its servers now")
        said.append(broken)
    said = [s for s in said if s]
    if said:
        check = Check(PROMISE_CHECK, False, " ".join(said), blocking=False)
        if broken:
            # The newest copy that would survive became older than the promise at point + target.
            check.problem = (f"Losing the servers of “{scenario.title}” now would lose up to "
                             f"{promise.minutes(int(seconds // 60))} of data, more than the "
                             f"{promise.minutes(target.target_minutes)} the plan promises")
            check.since = (point + timedelta(minutes=target.target_minutes)).isoformat()
            check.todo = (f"keep a copy of what it recovers outside its zone at least every "
                          f"{promise.minutes(target.target_minutes)}, or change the promise in the plan")
        return check
    basis = "the plan's promise" if target.accepts_minutes is None or not target.promise_minutes else "its own"
    kept = f"; the newest surviving copies are from {point:%Y-%m-%d %H:%M} UTC" if point else ""
    return Check(PROMISE_CHECK, True, f"recovery point target {promise.minutes(target.target_minutes)} "
                 f"({basis}){kept}", blocking=False)


def last_drills() -> dict[str, datetime]:
    out: dict[str, datetime] = {}
    for scenario_id, started in Drill.objects.filter(finished_at__isnull=False).order_by(
            "scenario_id", "-started_at").values_list("scenario_id", "started_at"):
        out.setdefault(scenario_id, started)
    return out


def propose(incident: Incident, scenarios: list[Scenario]) -> list[tuple[Scenario, list[str]]]:
    """Scenarios for the incident's disaster class, best first, each with why it fits."""
    from drportal.incidents import scope as incident_scope

    scope = incident_scope.of(incident)
    return propose_for(incident.disaster_class, scope, set(scope.named), scenarios)


def propose_for(disaster_class: str, scope, chosen: set[str], scenarios: list[Scenario]
                ) -> list[tuple[Scenario, list[str]]]:
    """propose() for a resolved scope and the kinds of thing named (the declare page's preview)."""
    from drportal.incidents.choices import DisasterClass

    servers = list(Server.objects.filter(pk__in=scope.servers).select_related("zone__region__provider"))
    impacted = set(chosen)
    # A region or zone named for its servers matches a scenario that acts on servers.
    if servers:
        impacted.add("servers")
    label = DisasterClass(disaster_class).label.lower() if disaster_class in DisasterClass.values else disaster_class
    ranked = []
    for scenario in scenarios:
        if scenario.disaster_class != disaster_class:
            continue
        match = scenario.data.get("match", {})
        score, why = 1, [f"disaster class {label}"]
        providers = {s.zone.region.provider.slug for s in servers}
        if providers and match.get("providers"):
            if providers <= set(match["providers"]):
                score += 2
                why.append("provider " + ", ".join(sorted(providers)))
            else:
                score -= 2
        roles = {s.role for s in servers}
        if roles and match.get("server_roles"):
            if roles & set(match["server_roles"]):
                score += 1
                why.append("server role " + ", ".join(sorted(roles & set(match["server_roles"]))))
            else:
                score -= 1
        if impacted & set(match.get("impacts", [])):
            score += 1
            why.append("impacted " + ", ".join(sorted(impacted & set(match["impacts"]))))
        count = len(servers)
        if count and (count < match.get("min_servers", 0) or count > match.get("max_servers", 10**6)):
            score -= 2
        ranked.append((score, scenario, why))
    ranked.sort(key=lambda t: (-t[0], t[1].id))
    return [(scenario, why) for _, scenario, why in ranked]


# How old the last successful connection check of an account may be (the scheduler checks every 15 minutes).
CONNECTION_FRESH = timedelta(hours=24)


def dns_zones_check(servers: list[Server], now: datetime) -> Check:
    """Can the DNS accounts a cutover of these servers would use be reached (their zones listed)? From the
    accounts' last connection check, like the credentials."""
    from drportal.cloud.actions.dns import default_dns_account
    from drportal.inventory.models import ProviderAccount

    names = {(s.metadata or {}).get("dns_account") or default_dns_account() for s in servers}
    if "" in names:
        return Check("DNS zones reachable", False, "no DNS account: name one in the servers' metadata.dns_account "
                                                   "or in CLOUD_DNS_ACCOUNT")
    accounts = list(ProviderAccount.objects.filter(name__in=names))
    missing = sorted(names - {a.name for a in accounts})
    return connection_check("DNS zones reachable", accounts, missing, now)


def means_checks(scenario: Scenario, servers: list[Server], now: datetime) -> list[Check]:
    """Could the automated steps reach what they act on from here: the servers' accounts, the managed
    databases' own accounts, the deployment each rebuild runs."""
    checks = []
    if servers:
        accounts = {s.account for s in servers if s.account_id}
        checks.append(credentials_check(accounts, [s.name for s in servers if not s.account_id], now))
    if acts_on_managed_databases(scenario):
        managed = managed_accounts(scenario)
        if managed:
            checks.append(connection_check("Managed services' credentials", managed, [], now))
    if _uses(scenario, "run_deployment") and servers:
        checks.append(deployment_check(servers))
    if _uses(scenario, "restore_database"):
        storage = storage_check(scenario, servers, now)
        if storage is not None:
            checks.append(storage)
    return checks


def storage_check(scenario: Scenario, servers: list[Server], now: datetime) -> Check | None:
    """Can the restores reach the dumps they would load: the accounts the inventory names for the dumps of the
    databases in scope (on the scenario's servers, and the managed databases of its providers when a step
    restores from dumps). None when no database in scope keeps dumps."""
    from django.db.models import Q

    from drportal.inventory.models import ProviderAccount

    wanted = Q(server__in=servers)
    if any((s.get("params") or {}).get("from") == "dumps" for s in scenario.steps):
        providers = scenario.data.get("match", {}).get("providers") or []
        wanted |= Q(kind="managed_database", **({"account__provider__slug__in": providers} if providers else {}))
    names = {where.get("account") for dumps in Asset.objects.filter(wanted).exclude(dumps=[]).values_list(
        "dumps", flat=True) for where in dumps} - {None}
    if not names:
        return None
    accounts = list(ProviderAccount.objects.filter(name__in=names))
    missing = sorted(names - {a.name for a in accounts})
    return connection_check("Backup storage", accounts, missing, now)


def acts_on_managed_databases(scenario: Scenario) -> bool:
    """Does a step reach RDS through the database's own account: an RDS restore (point in time, snapshot) or a
    Multi-AZ check? (A Redis check reads the cache itself; a dump restore goes to a server.)"""
    for step in scenario.steps:
        params = step.get("params") or {}
        if step.get("action") == "restore_database" and params.get("mode") in ("point_in_time", "snapshot"):
            return True
        if step.get("action") == "verify_failover" and (params.get("kind") == "rds" or params.get("rds")):
            return True
    return False


def managed_accounts(scenario: Scenario) -> set:
    """The accounts of the managed databases (RDS) of the scenario's providers, which such steps act through
    (the demo stands a simulated cloud in for the servers' accounts only, so these need credentials of their
    own)."""
    providers = scenario.data.get("match", {}).get("providers") or []
    found = Asset.objects.filter(kind="managed_database", account__isnull=False).select_related(
        "account__provider")
    if providers:
        found = found.filter(account__provider__slug__in=providers)
    return {a.account for a in found}


def deployment_check(servers: list[Server]) -> Check:
    """Can the deployment each server's rebuild runs be started here? A command's program must be on this
    machine's PATH (the worker runs it, on this machine under make run); a webhook is only called when the step
    runs. Checked without running anything."""
    missing: dict[str, list[str]] = {}
    unset = []
    for server in servers:
        meta = server.metadata or {}
        command = meta.get("deploy_command")
        if meta.get("deploy_webhook") and not command:
            continue
        if not command:
            unset.append(server.name)
            continue
        argv = shlex.split(command) if isinstance(command, str) else [str(a) for a in command]
        if argv and shutil.which(argv[0]) is None:
            missing.setdefault(argv[0], []).append(server.name)
    problems = [f"no deployment command or webhook: {', '.join(unset[:5])}"] if unset else []
    problems += [f"{program} is not installed on this machine ({', '.join(names[:5])})"
                 for program, names in sorted(missing.items())]
    return Check("Deployment", not problems, "; ".join(problems) if problems
                 else "every server's deployment can be started")


def credentials_check(accounts, unbound: list[str], now: datetime) -> Check:
    """Do the credentials work? Read from each account's last check against the provider
    (drportal.cloud.connection, run by the scheduler and by "Test connection"), never called from here."""
    return connection_check("Credentials", accounts, unbound, now)


def connection_check(label: str, accounts, unbound: list[str], now: datetime) -> Check:
    accounts = sorted(accounts, key=lambda a: a.name)
    groups = {
        "no account": unbound[:5],
        # The simulated cloud (drills, the demo) and a local store need none.
        "no credentials": [a.name for a in accounts if not a.credentials() and a.driver not in ("simulated", "local")],
        "never checked": [a.name for a in accounts if a.connection_checked_at is None],
        "refused": [_refusal(a) for a in accounts if a.connection_ok is False],
        "not checked for a day": [a.name for a in accounts
                                  if a.connection_ok and a.connection_checked_at < now - CONNECTION_FRESH],
    }
    problems = [f"{what}: {', '.join(names)}" for what, names in groups.items() if names]
    if problems:
        raw = [f"{a.name}: {a.connection_message}" for a in accounts if a.connection_ok is False
               and messages.split(a.connection_message)[1]]
        return Check(label, False, messages.with_details("; ".join(problems), "; ".join(raw)) if raw
                     else "; ".join(problems))
    return Check(label, True, "answered the provider check within a day: "
                 + ", ".join(f"{a.name} ({a.connection_message})" for a in accounts))


def _refusal(account) -> str:
    """The account's name and, in words, why the provider check failed (the raw answer goes to the details)."""
    main, details = messages.split(account.connection_message)
    if details:  # a sentence of ours: it reads on inside the parentheses
        main = main[:1].lower() + main[1:].rstrip(".")
    return f"{account.name} ({main})" if main else account.name


READINESS_KEY = "readiness"


@dataclass
class Assessed:
    """Every scenario's readiness as the list pages show it: from the snapshot, with when it was computed."""

    rows: list[Readiness]
    computed_at: datetime
    refreshing: bool = False


def library_basis(scenarios: list[Scenario]) -> str:
    """Which scenario files (by digest) and installed actions the checks were computed for."""
    return snapshots.basis_of(sorted((s.id, s.digest) for s in scenarios), sorted(REGISTRY))


def _as_data(rows: list[Readiness]) -> list[dict]:
    return [{"scenario": r.scenario.id, "checks": [vars(c) for c in r.checks],
             "objective": [r.objective.accepts_minutes, r.objective.promise_minutes, list(r.objective.policies)]
             if r.objective else None} for r in rows]


def _objective(stored: list | None):
    return promise.Objective(stored[0], stored[1], tuple(stored[2])) if stored else None


def refresh() -> None:
    """RQ job: assess every scenario and store the snapshot. Safe to run twice."""
    from drportal.lib import clock
    from scenarios import loader

    scenarios = list(loader.library().scenarios.values())
    now = clock.now()
    snapshots.store(READINESS_KEY, library_basis(scenarios), _as_data(assess_all(scenarios, now)), now)


def request_refresh() -> None:
    """Recompute the snapshot soon, after a change that alters readiness (once the transaction commits)."""
    snapshots.enqueue("scenarios.readiness.refresh")


def current(scenarios: list[Scenario], now: datetime) -> Assessed:
    """Every scenario's readiness for the list pages, from the snapshot (1 query while fresh; see
    scenarios.snapshots for when it is recomputed)."""
    read = snapshots.read(READINESS_KEY, library_basis(scenarios), lambda: _as_data(assess_all(scenarios, now)),
                          ("scenarios.readiness.refresh",), now)
    by_id = {s.id: s for s in scenarios}
    rows = [Readiness(by_id[row["scenario"]], [Check(**c) for c in row["checks"]], exposure=None,
                      objective=_objective(row.get("objective"))) for row in read.data if row["scenario"] in by_id]
    return Assessed(rows, read.computed_at, read.refreshing)
