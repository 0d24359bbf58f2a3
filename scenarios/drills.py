"""Drills: a scenario rehearsed on the simulated cloud, never on production resources."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from drportal.incidents import services as incidents
from drportal.incidents.choices import Severity
from drportal.incidents.scope import SERVER_ONLY_CLASSES
from drportal.inventory.models import Region, Server
from drportal.lib import clock
from scenarios import engine, hooks
from scenarios.loader import Scenario
from scenarios.match import scope_servers
from scenarios.models import Drill


def default_scope(scenario: Scenario) -> dict[str, list]:
    """What a drill declares when nobody chose, bounded by the scenario's match rules: for a region-wide
    class the region holding most of its matching servers (resolved as an incident's region is); for a
    single-server class the first `max_servers` (default 1) matching servers; nothing for a scenario without
    per-server or per-database steps. Matching servers of the scenario's own provider come first
    (match.providers lists it before the simulated cloud). Two queries whatever the inventory's size."""
    from django.db.models import Case, Count, IntegerField, Q, Value, When

    from drportal.inventory.choices import AssetKind

    if not any(s.get("for_each") in ("server", "database") for s in scenario.steps):
        return {}
    match = scenario.data.get("match", {})
    providers = match.get("providers") or []
    servers = Server.objects.all()
    if providers:
        servers = servers.filter(zone__region__provider__slug__in=providers)
    if match.get("server_roles"):
        servers = servers.filter(role__in=match["server_roles"])
    rank = Case(*[When(zone__region__provider__slug=slug, then=Value(i)) for i, slug in enumerate(providers)],
                default=Value(len(providers)), output_field=IntegerField())
    if scenario.disaster_class in SERVER_ONLY_CLASSES:
        # A server holding customer databases, when the scenario restores them: the drill rehearses every step.
        databases = Count("assets", filter=Q(assets__kind=AssetKind.DATABASE))
        chosen = servers.annotate(rank=rank, databases=databases).order_by("rank", "-databases", "name")
        return {"servers": list(chosen[:match.get("max_servers", 1)])}
    best = (servers.annotate(rank=rank).values("rank", "zone__region_id").annotate(n=Count("id"))
            .order_by("rank", "-n", "zone__region_id").first())
    if best is None:
        return {}
    return {"regions": [Region.objects.select_related("provider").get(pk=best["zone__region_id"])]}


def chosen_scope(scenario: Scenario, server_ids: Iterable[str]) -> dict[str, list]:
    """The servers a person chose for the drill, checked against the scenario's match rules."""
    from scenarios.engine import EngineError

    ids = {int(v) for v in server_ids if str(v).isdigit()}
    allowed = {s.pk: s for s in scope_servers(scenario)}
    servers = [allowed[i] for i in sorted(ids) if i in allowed]
    if len(servers) != len(ids):
        raise EngineError("a drill may only act on servers the scenario matches (its providers and roles)")
    match = scenario.data.get("match", {})
    low, high = match.get("min_servers", 0), match.get("max_servers")
    if len(servers) < low or (high is not None and len(servers) > high):
        bound = (f"at least {low}" if high is None else f"exactly {high}" if low == high else f"{low} to {high}")
        raise EngineError(f"this scenario acts on {bound} server{'s' * (bound != 'exactly 1')}; "
                          f"{len(servers)} were chosen")
    return {"servers": servers}


def describe(impacted: dict[str, list]) -> str:
    parts = [f"region {r}" for r in impacted.get("regions", [])]
    parts += [s.name for s in impacted.get("servers", [])]
    return ", ".join(parts) or "the scenario's non-server steps only"


def start_drill(scenario: Scenario, actor, *, servers=None, bubble: bool = False) -> Drill:
    """Declare a drill incident with the chosen (or default) scope, start the scenario on it in drill mode,
    and record the drill. One transaction, so the jobs (enqueued on commit) always find the Drill row.

    bubble=True: the automated steps run the real actions against the sandbox accounts ("<account>-drill",
    else the simulated "<account>-sim"), never production; tear_down() removes what they made and proves it."""
    impacted = {"servers": list(servers)} if servers else default_scope(scenario)
    with transaction.atomic():
        incident = incidents.declare(
            actor, title=f"Drill: {scenario.title}", disaster_class=scenario.disaster_class,
            severity=Severity.SEV4, is_drill=True,
            summary=f"Drill of scenario {scenario.id} on {describe(impacted)}; automated steps run on the "
                    "simulated cloud only.",
            impacted=impacted or None,
        )
        run, _ = engine.start_run(incident, scenario, actor, drill=True)
        if bubble:
            # Read by jobs.perform before each step; the steps are enqueued only when this transaction commits.
            run.bindings = {**run.bindings, "bubble": True}
            run.save(update_fields=["bindings"])
        in_scope = incident.scope.get("servers", [])
        drill = Drill.objects.create(
            scenario_id=scenario.id, run=run, started_at=run.started_at,
            rto_objective_minutes=scenario.rto_minutes, rpo_objective_minutes=run.bindings.get("rpo_minutes"),
            recovery_point=hooks.recovery_point(list(Server.objects.filter(pk__in=in_scope)
                                                     .values_list("pk", flat=True)), clock.now()),
        )
    return drill


# The steps that make a server's replacement node; their output names it (node_id, public_ips).
MAKING_ACTIONS = ("provision_from_image", "run_deployment")


def bubble_params(row, params: dict) -> dict:
    """In a bubble the inventory keeps the production addresses and node ids: a DNS step of a server takes the
    addresses of the node the same run made for it, and a load balancer step attaches that node (in the
    sandbox's own target group of the same name), never the server's production node."""
    from drportal.inventory.models import Server
    from scenarios.choices import StepState
    from scenarios.models import StepRun

    action = row.spec.get("action")
    if action not in ("dns_cutover", "verify_dns_propagation", "rotate_load_balancer") or not row.item:
        return params
    making = [s["id"] for s in row.run.spec["steps"] if s.get("action") in MAKING_ACTIONS]
    made = (StepRun.objects.filter(run_id=row.run_id, item=row.item, state=StepState.SUCCEEDED,
                                   step_id__in=making).values_list("outputs", flat=True).first()) or {}
    if action != "rotate_load_balancer":
        if made.get("public_ips") and "addresses" not in params:
            params["addresses"] = list(made["public_ips"])
        return params
    server = Server.objects.select_related("account").filter(name=row.item).first()
    if made.get("node_id") and server is not None and server.account is not None and "add" not in params:
        # Nothing to detach: the production node is no member of the sandbox's group.
        params.update(add=[made["node_id"]], remove=[], account=server.account.name,
                      target_group_arn=server.metadata.get("target_group_arn") or server.metadata.get("target_group"))
    return params


def tear_down(drill: Drill, actor) -> dict:
    """Remove what a drill in a bubble made, then look again and say what remains (every list empty when the
    bubble is gone); the answer goes to the audit log. Nodes tagged with the run's step keys are destroyed in
    every sandbox account, the record sets its cutovers changed are put back, its restored databases dropped.
    Safe to repeat: a second call finds nothing to do."""
    from drportal.audit import log as audit

    run = drill.run
    keys = set(run.steps.values_list("idempotency_key", flat=True))
    destroyed = [node.id for account, driver, node in _bubble_nodes(keys)
                 if _destroy(driver, node, account)]
    rolled_back = [_roll_back(row, run) for row in _cutovers(run)]
    dropped = _drop_drill_databases(run.incident_id)
    proof = {"destroyed_nodes": destroyed, "dns_rolled_back": sum(rolled_back), "dropped_databases": dropped,
             "remaining": remaining(drill)}
    audit.record(actor, "drill.torn_down", drill, None, proof)
    return proof


def last_teardown(drill: Drill) -> dict | None:
    """The newest teardown's proof as the audit log holds it (who, when, what was removed, what remained after
    looking again), or None when the drill was never torn down."""
    from drportal.audit.models import AuditEvent

    event = (AuditEvent.objects.filter(action="drill.torn_down", object_type=Drill._meta.label_lower,
                                       object_id=str(drill.pk)).order_by("-at", "-id").first())
    if event is None:
        return None
    proof = event.after or {}
    return {"at": event.at, "by": event.actor_label, **proof,
            "proven": not any((proof.get("remaining") or {"unknown": [1]}).values())}


def remaining(drill: Drill) -> dict:
    """What of the drill is still there: live nodes tagged with its keys, drill databases, changed DNS."""
    run = drill.run
    keys = set(run.steps.values_list("idempotency_key", flat=True))
    return {"nodes": sorted(node.id for _, _, node in _bubble_nodes(keys)),
            "databases": sorted(_drill_databases(run.incident_id)),
            "dns": sorted(name for row in _cutovers(run) for name in _still_changed(row))}


def _sandbox_compute_accounts():
    from django.db.models import Q

    from drportal.inventory.models import ProviderAccount

    return (ProviderAccount.objects.filter(Q(name__endswith="-drill") | Q(name__endswith="-sim"))
            .exclude(driver__in=["powerdns", "route53", "local", "cloudfiles", "s3"]).select_related("provider"))


def _bubble_nodes(keys: set[str]):
    from libcloud.compute.types import NodeState

    from drportal.cloud.adapters import compute, retry

    for account in _sandbox_compute_accounts():
        driver = compute.driver_for(account)
        for node in retry.call(driver.list_nodes, provider=compute.provider_name(account)):
            if compute.node_tags(node).get(compute.KEY_TAG) in keys and node.state != NodeState.TERMINATED:
                yield account, driver, node


def _destroy(driver, node, account) -> bool:
    from drportal.cloud.adapters import compute, retry

    return bool(retry.call(driver.destroy_node, node, provider=compute.provider_name(account)))


def _cutovers(run):
    from scenarios.choices import StepState

    ids = [s["id"] for s in run.spec["steps"] if s.get("action") == "dns_cutover"]
    return [r for r in run.steps.filter(step_id__in=ids, state=StepState.SUCCEEDED) if r.outputs.get("changed")]


def _rollback_ctx(row, run):
    from drportal.cloud.actions.base import StepContext

    return StepContext(idempotency_key=f"{row.idempotency_key}:teardown", state={}, incident_id=run.incident_id,
                       drill=True, params={**row.params, "zone": row.outputs["zone"], "old": row.outputs["old"]})


def _roll_back(row, run) -> int:
    from drportal.cloud.actions.base import REGISTRY

    return len(REGISTRY["dns_rollback"].execute(_rollback_ctx(row, run)).output.get("restored", []))


def _still_changed(row) -> list[str]:
    from drportal.cloud.actions import dns as dns_actions
    from drportal.cloud.adapters import dns as dnsa

    _, driver, provider, zone = dns_actions.zone_for(_rollback_ctx(row, row.run))
    current = dnsa.read_rrsets(driver, zone, provider)
    changed = []
    for key, old in row.outputs["old"].items():
        now = current.get((old["name"], old["type"]))
        if set(now.values if now else []) != set(old["values"]):
            changed.append(key)
    return changed


def _drill_databases(incident_id: int) -> list[str]:
    from drportal.cloud.adapters import pgrestore

    target = pgrestore.drill_target()
    if target is None:
        return []
    with target.connect("postgres") as conn:
        rows = conn.execute("SELECT datname FROM pg_database WHERE starts_with(datname, %s)",
                            [f"drill{incident_id}_"]).fetchall()
    return [r[0] for r in rows]


def _drop_drill_databases(incident_id: int) -> list[str]:
    from psycopg import sql

    from drportal.cloud.adapters import pgrestore

    names = _drill_databases(incident_id)
    target = pgrestore.drill_target()
    if target is not None:
        with target.connect("postgres") as conn:
            for name in names:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    return names
