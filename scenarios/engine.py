"""The runbook engine: runs, step runs and every transition between their states.

Rules that keep it correct with many workers, people clicking and processes dying:
- Any transaction that changes more than one row locks the Run row first (select_for_update), so the
  run's rows are never locked in two orders (no deadlocks between a finishing job and an abort).
- A single row changes state with a conditional update (`filter(pk=.., state=..).update(..)`): 1 row
  means this caller won, 0 means someone else already did it.
- A worker claims a step (ready → running) with a conditional update and a lease; its results are
  written only while it still holds that claim (same state and attempt number), so a worker the
  reconciler gave up on cannot overwrite the work of the one that replaced it.
- Side effects happen after a durable row says what is about to be done; RQ jobs carry ids only and
  are enqueued in transaction.on_commit.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.urls import reverse

from drportal.accounts.access import Role, has_role
from drportal.audit import log as audit
from drportal.incidents.models import Incident
from drportal.lib import clock, timefmt
from scenarios import lifecycle, promise, queueing
from scenarios.choices import (
    DONE_STATES,
    FINAL_RUN_STATES,
    JOB_KINDS,
    TERMINAL_STATES,
    RunState,
    StepKind,
    StepOutcome,
    StepState,
)
from scenarios.loader import Scenario
from scenarios.models import Run, StepRun

ACTIVE_RUN_STATES = (RunState.RUNNING, RunState.FAILED)


class EngineError(ValidationError):
    """A person asked for something the run's state does not allow; the message says why."""


# ---------------------------------------------------------------------------------------------- start


def idempotency_key(run_id: int, step_id: str, item: str) -> str:
    digest = hashlib.sha256(f"{step_id}\x00{item}".encode()).hexdigest()[:24]
    return f"r{run_id}-{digest}"


class _Safe(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def bind(value: Any, names: dict[str, Any]) -> Any:
    """Fill {placeholders} in parameter strings from the incident; an exact "{servers}" keeps its type."""
    if isinstance(value, str):
        if value.startswith("{") and value.endswith("}") and value[1:-1] in names:
            return names[value[1:-1]]
        return value.format_map(_Safe(names))
    if isinstance(value, list):
        return [bind(v, names) for v in value]
    if isinstance(value, dict):
        return {k: bind(v, names) for k, v in value.items()}
    return value


def incident_bindings(incident: Incident, scenario: Scenario) -> dict[str, Any]:
    """The names a run binds its steps from, all drawn from the incident's resolved scope
    (drportal.incidents.scope): a region-only declaration binds every server and database in the region."""
    from drportal.incidents import scope as incident_scope
    from drportal.inventory.models import Asset, Server, Zone

    scope = incident_scope.of(incident)
    servers = list(Server.objects.filter(pk__in=scope.servers).select_related("zone__region__provider")
                   .order_by("name"))
    regions = sorted({f"{s.zone.region.provider.slug}/{s.zone.region.slug}" for s in servers})
    # The customer databases in scope: a restore is one step per database (restore_database restores one
    # asset), each with its server and that server's attached storage to try first.
    databases = {
        name: {"server": server or "", "attached_storage": (metadata or {}).get("attached_storage", ""),
               # The server it is restored on (restore.server; default its own), whose replacement's address a
               # step's inputs read from the provisioning step (bind_inputs).
               **({"restore_on": restore["server"]} if (restore or {}).get("server") else {})}
        for name, server, metadata, restore in Asset.objects.filter(pk__in=scope.databases)
        .order_by("name").values_list("name", "server__name", "server__metadata", "restore")
    }
    zones = [str(z) for z in Zone.objects.filter(pk__in=scope.zones).select_related("region__provider")
             .order_by("region__provider__slug", "region__slug", "slug")]
    return {
        "incident_id": incident.pk,
        "incident_title": incident.title,
        # What customers may read: the incident's public summary (the internal title may name servers).
        "public_summary": incident.public_summary or "a service interruption",
        "servers": [s.name for s in servers],
        "databases": databases,
        "zones": zones,
        "customers": incident_customers(incident, scenario),
        "target_region": scenario.data.get("target_region", ""),
        # The region the impacted servers ran in, when there is one: never a place to recover or copy to.
        "failed_region": regions[0] if len(regions) == 1 else "",
        "rto_minutes": scenario.rto_minutes,
        # The target is the plan's promise for what this incident's servers hold (scenarios.promise), frozen at
        # the start like the spec: rpo_minutes, and the scenario's own and the plan's figures beside it.
        **promise.objective(scenario, servers or None).as_bindings(),
    }


def incident_customers(incident: Incident, scenario: Scenario) -> list[str]:
    """The customers a `for_each: customer` step acts on (slugs): those whose assets or services the incident
    names; else, for a scenario that has such a step (the termination scenario), every terminated customer of
    the scenario's providers still without a ready data file."""
    from django.db.models import Q

    from drportal.inventory.choices import CustomerStatus
    from drportal.inventory.models import Customer

    if not any(s.get("for_each") == "customer" for s in scenario.steps):
        return []
    named = Customer.objects.filter(Q(assets__incidents=incident) | Q(services__incidents=incident))
    slugs = sorted(set(named.values_list("slug", flat=True)))
    if slugs:
        return slugs
    waiting = Customer.objects.filter(status=CustomerStatus.TERMINATED).exclude(exports__state="ready")
    providers = scenario.data.get("match", {}).get("providers")
    if providers:
        # A customer whose databases run at another provider belongs to the other company's plan.
        elsewhere = Customer.objects.filter(assets__server__isnull=False).exclude(
            assets__server__zone__region__provider__slug__in=providers)
        waiting = waiting.exclude(pk__in=elsewhere)
    return sorted(waiting.values_list("slug", flat=True))


# Names that say what a step acts on: bound to nothing, the step has no target. Others may be empty and the
# action chooses (no target_region: the account's default region; no attached_storage: the copies).
TARGET_NAMES = frozenset({"server", "servers", "database", "failed_region"})
FOR_EACH_WORDS = {"server": "server", "database": "customer database", "customer": "customer"}


def placeholders(value: Any) -> set[str]:
    """The {names} a step's string, list or mapping refers to."""
    import string

    if isinstance(value, str):
        return {name for _, name, _, _ in string.Formatter().parse(value) if name}
    if isinstance(value, list):
        return set().union(*(placeholders(v) for v in value)) if value else set()
    if isinstance(value, dict):
        return set().union(*(placeholders(v) for v in value.values())) if value else set()
    return set()


def target_gap(step: dict, bindings: dict[str, Any], item: str) -> str:
    """Why an automated step of this run would have nothing to act on ("" when it has): no item to fan out
    over, or a parameter bound to nothing. Shown before Execute and stored as the step's reason."""
    if step["kind"] != StepKind.AUTOMATED:
        return ""
    each = step.get("for_each")
    if each and not item:
        if nothing_to_do(step, bindings, item):
            return "no customer database on the servers in the incident's scope: nothing to restore"
        return (f"no {FOR_EACH_WORDS.get(each, each)} in the incident's scope: name the lost region, zone or "
                f"server on the incident")
    names = item_names(step, bindings, item)
    missing = sorted(n for n in placeholders(step.get("params", {}))
                     if n in TARGET_NAMES and names.get(n) in ("", None, [], {}))
    if not missing:
        return ""
    why = {"failed_region": "the impacted servers are not in exactly one region",
           "servers": "no server in the incident's scope"}
    return "unknown " + "; ".join(f"{n} ({why[n]})" if n in why else n for n in missing)


def nothing_to_do(step: dict, bindings: dict[str, Any], item: str) -> bool:
    """A per-database step whose scope has servers but no customer database on them: nothing was lost that
    it could restore, so its being not applicable leaves nothing unrecovered (unlike a step with no server)."""
    return step.get("for_each") == "database" and not item and bool(bindings.get("servers"))


def plan(incident: Incident, scenario: Scenario) -> list[dict[str, Any]]:
    """Each automated step of `scenario` for `incident`, with its targets or the reason it is not applicable:
    what the run would do, shown before anyone clicks Execute."""
    bindings = incident_bindings(incident, scenario)
    out = []
    for step in scenario.steps:
        if step["kind"] != StepKind.AUTOMATED:
            continue
        items = _items(step, bindings)
        gaps = [target_gap(step, bindings, item) for item in items]
        title = plain_title(step, bindings)
        if step.get("on_handover_from"):
            # Its targets are the items the earlier step hands over, known only then: the list is the most it does.
            title += " (only those the earlier step hands over)"
        out.append({"id": step["id"], "title": title,
                    "targets": [i for i, g in zip(items, gaps, strict=True) if i and not g],
                    "not_applicable": next((g for g in gaps if g), "")})
    return out


def plain_title(step: dict, bindings: dict) -> str:
    """A fan-out step's title without its per-item names ("Provision each server in Kansas City...")."""
    each = step.get("for_each")
    if not each:
        return bind(step["title"], item_names(step, bindings, ""))
    word = f"each {FOR_EACH_WORDS.get(each, each)}"
    names = {**bindings, "server": word, "database": word, "item": word, "attached_storage": ""}
    return bind(step["title"], names).replace(f" (on {word})", "")


def _items(step: dict, bindings: dict) -> list[str]:
    if step.get("for_each") == "server":
        return list(bindings["servers"]) or [""]
    if step.get("for_each") == "database":
        return list(bindings.get("databases", {})) or [""]
    if step.get("for_each") == "customer":
        return list(bindings.get("customers", [])) or [""]
    return [""]


def item_names(step: dict, bindings: dict, item: str) -> dict[str, Any]:
    """The names a step's title and params are bound from, for one item of a fan-out."""
    names = {**bindings, "item": item}
    if step.get("for_each") == "database":
        database = bindings.get("databases", {}).get(item, {})
        return {**names, "database": item, "server": database.get("server", ""),
                "attached_storage": database.get("attached_storage", "")}
    if step.get("for_each") == "customer":
        return {**names, "customer": item}
    return {**names, "server": item}


def _row_title(step: dict, bindings: dict, item: str) -> str:
    """A row's title; a fan-out with nothing to fan out over reads as the step, not "Provision  in ..."."""
    if step.get("for_each") and not item:
        return plain_title(step, bindings)
    return bind(step["title"], item_names(step, bindings, item))


def start_run(incident: Incident, scenario: Scenario, actor, *, drill: bool = False) -> tuple[Run, bool]:
    """Start `scenario` for `incident`, or return the run that already exists. (run, created)."""
    if not incident.is_open and not drill:
        raise EngineError(f"incident #{incident.pk} is {incident.status}; a run needs an open incident")
    existing = Run.objects.filter(incident=incident).first()
    if existing:
        return existing, False
    bindings = incident_bindings(incident, scenario)
    now = clock.now()
    try:
        with transaction.atomic():
            run = Run.objects.create(
                incident=incident, scenario_id=scenario.id, scenario_title=scenario.title, digest=scenario.digest,
                spec=scenario.data, bindings=bindings, drill=drill or incident.is_drill, started_by=actor,
                started_at=now,
            )
            rows = []
            for position, step in enumerate(scenario.steps):
                for item in _items(step, bindings):
                    names = item_names(step, bindings, item)
                    params = bind(step.get("params", {}), names)
                    if step["kind"] == StepKind.AUTOMATED and item and step.get("for_each") == "server":
                        params.setdefault("server", item)
                    rows.append({
                        "run_id": run.pk, "step_id": step["id"], "item": item, "position": position,
                        "kind": step["kind"], "title": _row_title(step, bindings, item), "params": params,
                        "max_attempts": step.get("max_attempts", 5),
                        "idempotency_key": idempotency_key(run.pk, step["id"], item),
                    })
            insert_step_runs(rows)
            audit.record(actor, "scenario_run.started", run, after={
                "scenario": scenario.id, "digest": scenario.digest, "incident": incident.pk, "drill": run.drill,
                "steps": len(rows)})
            lifecycle.run_started(run, actor)
            advance(run.pk, actor)
    except IntegrityError:
        # Someone else's Execute won the race on the unique incident: theirs is the run.
        return Run.objects.get(incident=incident), False
    return run, True


def insert_step_runs(rows: list[dict[str, Any]]) -> None:
    """Insert new StepRun rows (column name -> value; every other field takes its model default) in one INSERT
    from one JSON document. Django's bulk_create of a fan-out of 1,000 built 1,000 models and prepared 22 fields
    of each, most of start_run's CPU, spent before the first worker may start."""
    fields = [f for f in StepRun._meta.concrete_fields if not f.primary_key]
    defaults = {f.column: f.get_default() for f in fields}
    document = [{**defaults, **row} for row in rows]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    types = ", ".join(f"{connection.ops.quote_name(f.column)} {_recordset_type(f)}" for f in fields)
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {StepRun._meta.db_table} ({columns}) SELECT {columns} "  # noqa: S608 - names
                       f"FROM json_to_recordset(%s::json) AS v({types})",  # from the model, no outside input
                       [json.dumps(document, cls=DjangoJSONEncoder)])


def _recordset_type(field) -> str:
    """A column's type as read from the JSON document: text for strings (the INSERT's assignment cast checks a
    varchar's length, as Django's insert would fail on it), jsonb for JSON, the column's own type otherwise."""
    if field.get_internal_type() in ("CharField", "TextField"):
        return "text"
    return field.rel_db_type(connection) if field.is_relation else field.db_type(connection)


# -------------------------------------------------------------------------------------------- advance


def lock_run(run_id: int) -> Run:
    """The run, locked FOR UPDATE until the surrounding transaction ends (the engine and its jobs both use it)."""
    return Run.objects.select_for_update().get(pk=run_id)


def hold_run(run_id: int) -> None:
    """Lock the run as lock_run does without loading it: its bindings list every server of the incident, and a
    job writing a batch's results only needs the lock's order (advance() loads what it reads)."""
    Run.objects.select_for_update().filter(pk=run_id).values_list("pk", flat=True).get()


def advance(run_id: int, actor="engine") -> Run:
    """Move pending steps whose predecessors are done to ready (or skip them when their branch was not
    taken), and finish the run when every step is. Call inside a transaction; it locks the run."""
    with transaction.atomic():
        # Bindings (every server of the incident) are read only when a step becomes ready: most calls of a fan-out's
        # batches change nothing and return below.
        run = Run.objects.select_for_update().defer("bindings").get(pk=run_id)
        if run.state not in ACTIVE_RUN_STATES:
            return run
        now = clock.now()
        # The distinct pairs only (a handful), not one per row: PostgreSQL folds a fan-out's 1,000 rows.
        if not _may_change(run, list(run.steps.order_by().values_list("step_id", "state").distinct())):
            return run
        # Not the rows' logs and action states: nothing below reads them (read, Django would load them row by row),
        # and they are the JSON documents that grow with each attempt, decoded for every row of a fan-out.
        rows = list(run.steps.defer("log", "action_state"))
        by_step: dict[str, list[StepRun]] = {}
        for row in rows:
            by_step.setdefault(row.step_id, []).append(row)
        specs = {s["id"]: s for s in run.spec["steps"]}
        to_enqueue: list[int] = []
        changed = True
        while changed:
            changed = False
            for step_id, step_rows in by_step.items():
                pending = [r for r in step_rows if r.state == StepState.PENDING]
                if not pending:
                    continue
                verdict = _verdict(specs[step_id], by_step, specs)
                if verdict is None:
                    continue
                for row in pending:
                    why = verdict if verdict != "ready" else not_handed_over(specs[step_id], row, by_step)
                    if why:
                        _skip(row, why, now, not_taken=True)
                    else:
                        bind_inputs(run, row, specs[step_id], by_step)
                        _make_ready(run, row, specs[step_id], now, to_enqueue)
                    changed = True
        _settle(run, rows, now, actor)
        if to_enqueue:
            StepRun.objects.filter(pk__in=to_enqueue).update(state=StepState.READY, ready_at=now, enqueued_at=now)
            transaction.on_commit(lambda: dispatch(to_enqueue))
        return run


def _may_change(run: Run, states: list[tuple[str, str]]) -> bool:
    """Whether advance() can change anything, read from the rows' (step, state) pairs alone: a pending step whose
    predecessors are all done, every row over (the run ends), or a run state that no longer matches the rows
    (a first failure, a failed row retried). A batch of a fan-out finishing while the rest still runs changes
    none of these, and reading every row of the run (logs, params, outputs) for each batch was most of the CPU
    of a fan-out of 1,000 (20 batches x 1,000 rows)."""
    by_step: dict[str, set[str]] = {}
    for step_id, state in states:
        by_step.setdefault(step_id, set()).add(state)
    for spec in run.spec["steps"]:
        if StepState.PENDING in by_step.get(spec["id"], ()) and all(
                by_step.get(dep, set()) <= set(DONE_STATES) for dep in spec.get("after", [])):
            return True
    every = set().union(*by_step.values())
    if every <= set(TERMINAL_STATES):
        return True
    return (RunState.FAILED if StepState.FAILED in every else RunState.RUNNING) != run.state


def _verdict(spec: dict, by_step: dict[str, list[StepRun]], specs: dict[str, dict]) -> str | None:
    """None while a predecessor is unfinished; "ready"; or the reason the step is skipped."""
    deps = spec.get("after", [])
    for dep in deps:
        if any(r.state not in DONE_STATES for r in by_step[dep]):
            return None
    # A step several decisions lead to (e.g. "recover in Kansas City" after "longer than 8 hours?" or
    # after "still down?") runs if any decision that was asked chose it.
    asked: list[tuple[str, bool]] = []
    for dep in deps:
        dep_spec = specs[dep]
        if dep_spec["kind"] == StepKind.DECISION and by_step[dep][0].state == StepState.SUCCEEDED:
            gated = {o["value"] for o in dep_spec["options"] if spec["id"] in o["next"]}
            if gated:
                choice = by_step[dep][0].outputs.get("choice")
                asked.append((f"{dep} was answered {choice!r}", choice in gated))
    if asked and not any(chosen for _, chosen in asked):
        return "branch not taken: " + "; ".join(why for why, _ in asked)
    if deps and all(all(r.outputs.get("not_taken") for r in by_step[d]) for d in deps):
        return "branch not taken"
    return "ready"


def handed_over(source_rows: list[StepRun], item: str) -> StepRun | None:
    """The row of an on_handover_from step's source that handed `item` over: the source's row for the same
    item (a per-database restore hands over database by database), or, for a follow-up that does not fan out,
    any row that handed over."""
    return next((r for r in source_rows if r.state == StepState.SUCCEEDED and r.outputs.get("handover")
                 and (not item or r.item == item)), None)


def not_handed_over(spec: dict, row: StepRun, by_step: dict[str, list[StepRun]]) -> str:
    """Why a row of a step that follows a handover (on_handover_from) is not needed ("" when it is): per item,
    so a database the earlier step recovered from its volume is never restored over from cloud storage."""
    source = spec.get("on_handover_from")
    if not source or handed_over(by_step.get(source, []), row.item):
        return ""
    # Said as a branch not taken (and counted as one): the handover is the branch, and it was not taken.
    if row.item:
        return f"branch not taken: {source} recovered {row.item} without handing over"
    return f"branch not taken: {source} completed without handing over"


def bind_inputs(run: Run, row: StepRun, spec: dict, by_step: dict[str, list[StepRun]]) -> None:
    """Params a step takes from a predecessor's outputs (`inputs: {host: provision-kc.private_ips}`): known only
    once that step has run (the address of a server provisioned in this run), so bound when this step becomes
    ready, from the predecessor's durable row for the same server, and written on this row before any worker
    sees it. A predecessor that did not succeed or has no such output binds nothing: the action then falls back
    to the inventory (a person who provisioned by hand records the new address there)."""
    inputs = spec.get("inputs") or {}
    if not inputs:
        return
    server = _server_of(spec, run.bindings, row.item)
    bound = {}
    for name, source in inputs.items():
        step_id, _, key = source.partition(".")
        rows = by_step.get(step_id, [])
        source_row = next((r for r in rows if r.item == server), None) if any(r.item for r in rows) \
            else next(iter(rows), None)
        value = source_row.outputs.get(key) if source_row and source_row.state == StepState.SUCCEEDED else None
        if value not in (None, "", [], {}):
            bound[name] = value
    if bound:
        row.params = {**row.params, **bound}
        row.save(update_fields=["params"])


def _server_of(spec: dict, bindings: dict, item: str) -> str:
    """The server a fan-out row acts on: the item itself, or the server a database is restored on."""
    if spec.get("for_each") == "database":
        database = bindings.get("databases", {}).get(item, {})
        return database.get("restore_on") or database.get("server", "")
    return item


def _skip(row: StepRun, reason: str, now: datetime, *, not_taken: bool = False) -> None:
    row.state = StepState.SKIPPED
    row.skip_reason = reason
    row.finished_at = now
    if not_taken:
        row.outputs = {**row.outputs, "not_taken": True}
    row.save(update_fields=["state", "skip_reason", "finished_at", "outputs"])


def _make_ready(run: Run, row: StepRun, spec: dict, now: datetime, to_enqueue: list[int]) -> None:
    row.ready_at = now
    fields = ["state", "ready_at"]
    gap = target_gap(spec, run.bindings, row.item)
    if gap:
        row.state = StepState.NOT_APPLICABLE
        row.skip_reason = gap
        row.finished_at = now
        if nothing_to_do(spec, run.bindings, row.item):
            row.outputs = {**row.outputs, "nothing_to_do": True}
        row.save(update_fields=["state", "skip_reason", "finished_at", "ready_at", "outputs"])
        return
    if row.kind in JOB_KINDS:
        row.state = StepState.READY
        row.enqueued_at = now
        fields.append("enqueued_at")
        to_enqueue.append(row.pk)
        return  # written in one UPDATE for all of them by advance()
    elif row.kind == StepKind.WAIT:
        row.state = StepState.WAITING
        row.due_at = next_wait_due(spec, row, now)
        fields.append("due_at")
        transaction.on_commit(wake)
    else:
        row.state = StepState.READY
        if row.kind == StepKind.APPROVAL:
            role = spec.get("approver_role", Role.MANAGER)
            _page_approvers_later(role, f"Approval needed: {row.title}", spec.get("reason", ""), row)
    row.save(update_fields=fields)


def next_wait_due(spec: dict, row: StepRun, now: datetime) -> datetime | None:
    """When a wait step next needs attention (its end or its next reminder); jobs.py's reminders use it too."""
    ends = row.ready_at + timedelta(minutes=spec["duration_minutes"]) if "duration_minutes" in spec else None
    remind = spec.get("remind_every_minutes")
    reminder = row.ready_at + timedelta(minutes=remind * (row.reminders_sent + 1)) if remind else None
    candidates = [t for t in (ends, reminder) if t is not None]
    return min(candidates) if candidates else None


def not_recovered(rows: list[StepRun], steps: list[dict]) -> list[StepRun]:
    """The recovery steps the run was meant to do and did not. A manual step marked `recovers: true` (recovery
    work a person does, such as re-creating the changes made since the image) skipped by a person; other manual
    steps are informational (asking the provider, the review) and their skip leaves nothing unrecovered.
    An automated step: nothing to act on (a step with
    nothing to do, such as restoring the databases of servers that hold none, is not among them), skipped by a
    person, or handed over to a step the run (`steps`, its spec's) does not have. A person's skip says the run
    should go on without the step, not that the step was done: what was done by hand instead is the skip's
    reason, which no row proves. A handover ("the volume is gone: restore from cloud storage instead") ends
    the action's part, and nothing is recovered until a step that follows it (on_handover_from) does it."""
    by_hand = {s["id"] for s in steps if s["kind"] == StepKind.MANUAL and s.get("recovers")}
    return [r for r in rows if (r.kind == StepKind.AUTOMATED
            and ((r.state == StepState.NOT_APPLICABLE and not r.outputs.get("nothing_to_do"))
                 or step_outcome(r) == StepOutcome.SKIPPED
                 or (step_outcome(r) == StepOutcome.HANDED_OVER and not taken_up(r, rows, steps))))
            or (r.step_id in by_hand and step_outcome(r) == StepOutcome.SKIPPED)]


def taken_up(row: StepRun, rows: list[StepRun], steps: list[dict]) -> bool:
    """Did a step that follows `row`'s handover (on_handover_from) do the work for `row`'s item? Its row for
    the same item (or its one row, when it does not fan out) succeeded without handing over again."""
    followers = {s["id"] for s in steps if s.get("on_handover_from") == row.step_id}
    return any(r.step_id in followers and r.state == StepState.SUCCEEDED and not r.outputs.get("handover")
               and r.item in (row.item, "") for r in rows)


def why_not_recovered(row: StepRun) -> str:
    """The reason a row of not_recovered() names: the missing target, who skipped it and why, or the
    handover no step took up."""
    if row.state == StepState.SKIPPED:
        return f"skipped by {row.actor_label or 'a person'}: {row.skip_reason}"
    if row.state == StepState.SUCCEEDED:
        followers = [s["id"] for s in row.run.spec["steps"] if s.get("on_handover_from") == row.step_id]
        if followers:
            return f"handed over to {row.outputs['handover']}, which {', '.join(followers)} did not do"
        return f"handed over to {row.outputs['handover']}, which no step of this run does"
    return row.skip_reason


def _settle(run: Run, rows: list[StepRun], now: datetime, actor) -> None:
    states = {r.state for r in rows}
    before = run.state
    if states <= set(TERMINAL_STATES):
        missing = not_recovered(rows, run.spec["steps"])
        run.state = RunState.INCOMPLETE if missing else RunState.SUCCEEDED
        run.finished_at = now
        if missing:
            run.note = "Not recovered: " + "; ".join(f"{r.title} ({why_not_recovered(r)})" for r in missing)
    elif StepState.FAILED in states:
        run.state = RunState.FAILED
    else:
        run.state = RunState.RUNNING
    if run.state != before:
        run.save(update_fields=["state", "finished_at", "note"])
        audit.record(actor, f"scenario_run.{run.state}", run, before={"state": before},
                     after={"state": run.state, **({"note": run.note} if run.state == RunState.INCOMPLETE else {})})
        if run.state in (RunState.SUCCEEDED, RunState.INCOMPLETE):
            _finish_drill(run, rows)
        lifecycle.run_ended(run, actor)


def _finish_drill(run: Run, rows: list[StepRun]) -> None:
    from scenarios.models import Drill

    Drill.objects.filter(run=run, finished_at__isnull=True).update(finished_at=run.finished_at,
                                                                   not_exercised=not_exercised(rows))


def not_exercised(rows: list[StepRun]) -> list[str]:
    """The automated steps of a drill that did not really recover anything, "title: why" each: a step whose
    real action was only planned (the simulated cloud stood in), or that was not applicable, skipped by a
    person or cancelled. A branch not taken is not part of the drill's path and is not counted."""
    out = []
    for row in rows:
        if row.kind != StepKind.AUTOMATED:
            continue
        outcome = step_outcome(row)
        if outcome in (StepOutcome.DONE, StepOutcome.HANDED_OVER) and row.outputs.get("exercised") is False:
            out.append(f"{row.title}: {row.outputs.get('not_exercised', 'only planned')}")
        elif outcome in (StepOutcome.NOT_APPLICABLE, StepOutcome.SKIPPED, StepOutcome.CANCELLED):
            out.append(f"{row.title}: {row.skip_reason or StepOutcome(outcome).label}")
    return out


def notify_staff_later(role: str, subject: str, body: str, run: Run, row: StepRun) -> None:
    """Page `role` about `row` once the surrounding transaction commits (jobs.py's failures and reminders too)."""
    link = reverse("scenarios:run", args=[run.pk])
    key = f"{row.idempotency_key}:{subject[:40]}"

    def send() -> None:
        from notifications.api import notify_staff

        notify_staff(role=role, subject=subject, body=body, link=link, dedupe_key=key)

    transaction.on_commit(send)


def _page_approvers_later(role: str, subject: str, reason: str, row: StepRun) -> None:
    # Each approver's message carries a link of their own (approve from the message, on a phone at 3 a.m.).
    def send() -> None:
        from scenarios.approval_links import page_approvers

        page_approvers(row.pk, role, subject, reason)

    transaction.on_commit(send)


# -------------------------------------------------------------------------------------------- dispatch


def dispatch(step_ids: list[int]) -> None:
    """Enqueue jobs for ready steps, in batches: one job per server would cost a worker fork each."""
    queueing.enqueue_steps(step_ids)


def wake() -> None:
    queueing.wake_poller()


# --------------------------------------------------------------------------------- people's actions


def _open_row(step_run_id: int) -> tuple[Run, StepRun]:
    row = StepRun.objects.select_related("run").get(pk=step_run_id)
    run = lock_run(row.run_id)
    row.refresh_from_db()
    if row.state == StepState.SUCCEEDED or (row.state == StepState.SKIPPED and row.actor_id):
        raise _already(row)
    if run.state in FINAL_RUN_STATES:
        raise EngineError(f"the run is {run.state}; nothing more can change")
    return run, row


def _already(row: StepRun) -> EngineError:
    who = row.actor.username if row.actor_id else (row.actor_label or "someone")
    when = timefmt.moment(row.finished_at, "%Y-%m-%d %H:%M:%S %Z") if row.finished_at else ""
    return EngineError(f"step “{row.title}” is already {row.state}" + (f" (by {who} at {when})" if when else ""))


def _finish_by_person(row: StepRun, actor, expected: tuple[str, ...], **fields) -> None:
    now = clock.now()
    changed = StepRun.objects.filter(pk=row.pk, state__in=expected).update(
        # A person's step started when it became theirs to do (ready_at), not when they clicked "done": that
        # made every person's step read an elapsed time of zero.
        actor=actor, actor_label=actor.username, finished_at=now, started_at=row.started_at or row.ready_at or now,
        **fields)
    if changed != 1:
        row.refresh_from_db()
        raise _already(row)


def complete_step(step_run_id: int, actor, *, notes: str = "", evidence: str = "") -> StepRun:
    with transaction.atomic():
        run, row = _open_row(step_run_id)
        spec = row.spec
        handover = row.kind == StepKind.NOTIFY and row.outputs.get("handover")
        if row.kind != StepKind.MANUAL and not handover:
            raise EngineError(f"step “{row.title}” is a {row.kind} step and is not completed by hand")
        if row.state != (StepState.WAITING if handover else StepState.READY):
            raise _already(row) if row.state in TERMINAL_STATES else EngineError(
                f"step “{row.title}” is {row.state}, not ready")
        required = spec.get("requires", "nothing")
        if required == "notes" and not notes.strip():
            raise EngineError({"notes": "this step needs notes saying what was done"})
        if required == "evidence" and not evidence.strip():
            raise EngineError({"evidence": "this step needs evidence (a link, ticket or reference)"})
        _finish_by_person(row, actor, (row.state,), state=StepState.SUCCEEDED, notes=notes, evidence=evidence)
        audit.record(actor, "scenario_step.completed", row, before={"state": row.state},
                     after={"state": StepState.SUCCEEDED, "notes": notes, "evidence": evidence})
        advance(run.pk, actor)
    row.refresh_from_db()
    return row


def decide(step_run_id: int, actor, choice: str, *, notes: str = "") -> StepRun:
    with transaction.atomic():
        run, row = _open_row(step_run_id)
        if row.kind != StepKind.DECISION:
            raise EngineError(f"step “{row.title}” is not a decision")
        options = {o["value"]: o for o in row.spec["options"]}
        if choice not in options:
            raise EngineError({"choice": f"choose one of: {', '.join(options)}"})
        if row.state != StepState.READY:
            raise _already(row) if row.state in TERMINAL_STATES else EngineError(f"step “{row.title}” is not ready")
        _finish_by_person(row, actor, (StepState.READY,), state=StepState.SUCCEEDED, notes=notes,
                          outputs={"choice": choice, "label": options[choice]["label"]})
        audit.record(actor, "scenario_step.decided", row, before={"state": row.state},
                     after={"state": StepState.SUCCEEDED, "choice": choice})
        advance(run.pk, actor)
    row.refresh_from_db()
    return row


def approve(step_run_id: int, actor, *, approved: bool, notes: str = "") -> StepRun:
    with transaction.atomic():
        run, row = _open_row(step_run_id)
        if row.kind != StepKind.APPROVAL:
            raise EngineError(f"step “{row.title}” is not an approval")
        role = row.spec.get("approver_role", Role.MANAGER)
        if not has_role(actor, role):
            raise EngineError(f"only a {role} can approve “{row.title}”")
        if row.state != StepState.READY:
            raise _already(row) if row.state in TERMINAL_STATES else EngineError(f"step “{row.title}” is not ready")
        if not approved and not notes.strip():
            raise EngineError({"notes": "say why the step is refused"})
        state = StepState.SUCCEEDED if approved else StepState.FAILED
        _finish_by_person(row, actor, (StepState.READY,), state=state, notes=notes,
                          outputs={"approved": approved}, error="" if approved else f"refused: {notes}")
        audit.record(actor, "scenario_step.approved" if approved else "scenario_step.refused", row,
                     before={"state": row.state}, after={"state": state, "notes": notes})
        advance(run.pk, actor)
    row.refresh_from_db()
    return row


def end_wait(step_run_id: int, actor, *, notes: str) -> StepRun:
    """A person says the wait's condition is met (or its time no longer matters)."""
    with transaction.atomic():
        run, row = _open_row(step_run_id)
        if row.kind != StepKind.WAIT:
            raise EngineError(f"step “{row.title}” is not a wait")
        if not notes.strip():
            raise EngineError({"notes": "say why the wait is over"})
        _finish_by_person(row, actor, (StepState.WAITING,), state=StepState.SUCCEEDED, notes=notes, due_at=None,
                          outputs={"ended": "by hand"})
        audit.record(actor, "scenario_step.wait_ended", row, before={"state": row.state},
                     after={"state": StepState.SUCCEEDED, "notes": notes})
        advance(run.pk, actor)
    row.refresh_from_db()
    return row


def retry_step(step_run_id: int, actor) -> StepRun:
    with transaction.atomic():
        run, row = _open_row(step_run_id)
        if row.state != StepState.FAILED:
            raise EngineError(f"only a failed step can be retried; “{row.title}” is {row.state}")
        now = clock.now()
        new_state = StepState.READY
        fields: dict[str, Any] = {"state": new_state, "error": "", "finished_at": None, "ready_at": now,
                                  "due_at": None, "enqueued_at": now, "actor": None, "actor_label": ""}
        if row.kind not in JOB_KINDS:
            fields.pop("enqueued_at")
        if row.attempts >= row.max_attempts:
            fields["max_attempts"] = row.attempts + row.spec.get("max_attempts", 5)
        StepRun.objects.filter(pk=row.pk, state=StepState.FAILED).update(**fields)
        if run.state == RunState.FAILED:
            Run.objects.filter(pk=run.pk).update(state=RunState.RUNNING)
        audit.record(actor, "scenario_step.retried", row, before={"state": StepState.FAILED, "error": row.error},
                     after={"state": new_state})
        if row.kind in JOB_KINDS:
            transaction.on_commit(lambda: dispatch([row.pk]))
        advance(run.pk, actor)
    row.refresh_from_db()
    return row


def skip_step(step_run_id: int, actor, *, reason: str) -> StepRun:
    if not reason.strip():
        raise EngineError({"reason": "a skipped step needs a reason"})
    with transaction.atomic():
        run, row = _open_row(step_run_id)
        allowed = (StepState.PENDING, StepState.READY, StepState.WAITING, StepState.FAILED)
        if row.state not in allowed:
            raise EngineError(f"step “{row.title}” is {row.state} and cannot be skipped")
        _finish_by_person(row, actor, allowed, state=StepState.SKIPPED, skip_reason=reason, due_at=None)
        audit.record(actor, "scenario_step.skipped", row, before={"state": row.state},
                     after={"state": StepState.SKIPPED, "reason": reason})
        advance(run.pk, actor)
    row.refresh_from_db()
    return row


def pause(run_id: int, actor) -> Run:
    with transaction.atomic():
        run = lock_run(run_id)
        if run.state not in ACTIVE_RUN_STATES:
            raise EngineError(f"the run is {run.state} and cannot be paused")
        before = run.state
        run.state = RunState.PAUSED
        run.save(update_fields=["state"])
        audit.record(actor, "scenario_run.paused", run, before={"state": before}, after={"state": run.state})
    return run


def resume(run_id: int, actor) -> Run:
    with transaction.atomic():
        run = lock_run(run_id)
        if run.state != RunState.PAUSED:
            raise EngineError(f"the run is {run.state}, not paused")
        run.state = RunState.RUNNING
        run.save(update_fields=["state"])
        audit.record(actor, "scenario_run.resumed", run, before={"state": RunState.PAUSED}, after={"state": run.state})
        now = clock.now()
        # Steps that became ready while paused were not claimed: hand them to the workers again.
        ready = list(run.steps.filter(state=StepState.READY, kind__in=JOB_KINDS).values_list("pk", flat=True))
        run.steps.filter(pk__in=ready).update(enqueued_at=now)
        if ready:
            transaction.on_commit(lambda: dispatch(ready))
        transaction.on_commit(wake)
        advance(run.pk, actor)
    run.refresh_from_db()
    return run


def abort(run_id: int, actor, *, reason: str) -> Run:
    if not reason.strip():
        raise EngineError({"reason": "say why the run is aborted"})
    with transaction.atomic():
        run = lock_run(run_id)
        if run.state in FINAL_RUN_STATES:
            raise EngineError(f"the run is already {run.state}")
        before = run.state
        now = clock.now()
        open_states = (StepState.PENDING, StepState.READY, StepState.RUNNING, StepState.WAITING, StepState.FAILED)
        cancelled = run.steps.filter(state__in=open_states).update(
            state=StepState.CANCELLED, finished_at=now, due_at=None, skip_reason=reason)
        run.state = RunState.ABORTED
        run.finished_at = now
        run.note = reason
        run.save(update_fields=["state", "finished_at", "note"])
        audit.record(actor, "scenario_run.aborted", run, before={"state": before},
                     after={"state": run.state, "reason": reason, "cancelled_steps": cancelled})
        lifecycle.run_ended(run, actor)
    return run


# ------------------------------------------------------------------------------------ derived status


def run_summary(run: Run, rows: list[StepRun], now: datetime) -> dict[str, Any]:
    """What the run page shows at the top, derived from the rows and `now`."""
    counts: dict[str, int] = {}
    outcomes = {o: 0 for o in StepOutcome}
    for r in rows:
        counts[r.state] = counts.get(r.state, 0) + 1
        outcomes[step_outcome(r)] += 1
    elapsed = run.elapsed(now)
    rto = timedelta(minutes=run.rto_minutes)
    return {
        "counts": counts,
        # Steps by outcome, in StepOutcome's order, only those with any: "12 done, 3 branch not taken, ...".
        "outcomes": [(StepOutcome(o).label, n) for o, n in outcomes.items() if n],
        "not_recovered": [(r, why_not_recovered(r)) for r in not_recovered(rows, run.spec["steps"])],
        "total": len(rows),
        "done": sum(counts.get(s, 0) for s in TERMINAL_STATES),
        "elapsed": elapsed,
        "rto": rto,
        "rto_breached": elapsed > rto,
        "rto_left": rto - elapsed,
        "failed": [r for r in rows if r.state == StepState.FAILED],
        "on_people": [r for r in rows if r.state == StepState.READY and r.kind not in JOB_KINDS],
    }


def step_outcome(row: StepRun) -> str:
    """How a row counts in the run's summary: done, handed over, branch not taken, not applicable, skipped by a
    person, failed, cancelled, or still open."""
    if row.state == StepState.SUCCEEDED:
        # An action's handover is the action saying "I could not; this is for another step": not done. The step
        # that takes it up counts as done for that item (its own row), so nothing is counted twice. (A notice
        # handed to a person and sent by hand was done, by that person.)
        handed = row.kind == StepKind.AUTOMATED and row.outputs.get("handover")
        return StepOutcome.HANDED_OVER if handed else StepOutcome.DONE
    if row.state == StepState.NOT_APPLICABLE:
        return StepOutcome.NOT_APPLICABLE
    if row.state == StepState.SKIPPED:
        return StepOutcome.BRANCH_NOT_TAKEN if row.outputs.get("not_taken") or not row.actor_id \
            else StepOutcome.SKIPPED
    if row.state == StepState.FAILED:
        return StepOutcome.FAILED
    if row.state == StepState.CANCELLED:
        return StepOutcome.CANCELLED
    return StepOutcome.OPEN


def due_waiting(now: datetime):
    return StepRun.objects.filter(state=StepState.WAITING, due_at__lte=now).filter(
        Q(run__state__in=ACTIVE_RUN_STATES))


def bump_reminder(row: StepRun) -> None:
    StepRun.objects.filter(pk=row.pk).update(reminders_sent=F("reminders_sent") + 1)


# ---------------------------------------------------------------------------------------- widen scope


def widen(incident_id: int, actor) -> list[str]:
    """Bring a run's per-server and per-database steps up to its incident's scope after the scope grew (a
    second zone failed). A step takes the new items while no step after it has started; otherwise, or when
    the run is over, the new items are named as not added, with why. Returns the sentences, also kept in
    the run's note and the audit log."""
    from scenarios.loader import Scenario as Spec

    run = Run.objects.filter(incident_id=incident_id).select_related("incident").first()
    if run is None:
        return []
    with transaction.atomic():
        run = lock_run(run.pk)
        incident = Incident.objects.get(pk=incident_id)
        bindings = incident_bindings(incident, Spec(id=run.scenario_id, path="", data=run.spec, digest=run.digest))
        rows = list(run.steps.all())
        by_step: dict[str, list[StepRun]] = {}
        for row in rows:
            by_step.setdefault(row.step_id, []).append(row)
        said: list[str] = []
        added: list[StepRun] = []
        for position, step in enumerate(run.spec["steps"]):
            if not step.get("for_each"):
                continue
            have = {r.item for r in by_step.get(step["id"], [])}
            new = [item for item in _items(step, bindings) if item and item not in have]
            if not new:
                continue
            started = _started_after(step["id"], run.spec, by_step)
            if run.state in FINAL_RUN_STATES or started:
                why = f"the run is {run.state}" if run.state in FINAL_RUN_STATES else f"“{started}” has started"
                said.append(f"Not added to “{plain_title(step, bindings)}”: {', '.join(new)} ({why}; do it by "
                            "hand)")
                continue
            for row in by_step.get(step["id"], []):
                if not row.item and row.state in (StepState.PENDING, StepState.NOT_APPLICABLE):
                    # The placeholder for "nothing to act on" never acted: the real items replace it.
                    audit.record(actor, "scenario_step.replaced", row, before={"state": row.state},
                                 after={"items": new})
                    row.delete()
            for item in new:
                names = item_names(step, bindings, item)
                params = bind(step.get("params", {}), names)
                if step["kind"] == StepKind.AUTOMATED and step.get("for_each") == "server":
                    params.setdefault("server", item)
                added.append(StepRun(run=run, step_id=step["id"], item=item, position=position, kind=step["kind"],
                                     title=_row_title(step, bindings, item), params=params,
                                     max_attempts=step.get("max_attempts", 5),
                                     idempotency_key=idempotency_key(run.pk, step["id"], item)))
            said.append(f"Added to “{plain_title(step, bindings)}”: {', '.join(new)}")
        if not said:
            return []
        StepRun.objects.bulk_create(added)
        run.bindings = bindings
        run.note = "\n".join(filter(None, [run.note, *said]))
        run.save(update_fields=["bindings", "note"])
        audit.record(actor, "scenario_run.scope_widened", run, after={"changes": said, "steps_added": len(added)})
        if added:
            advance(run.pk, actor)
    return said


def _started_after(step_id: str, spec: dict, by_step: dict[str, list[StepRun]]) -> str:
    """The title of a step after `step_id` (directly or not) that has left pending, or ""."""
    todo, seen = [step_id], set()
    while todo:
        current = todo.pop()
        for step in spec["steps"]:
            if current in step.get("after", []) and step["id"] not in seen:
                seen.add(step["id"])
                todo.append(step["id"])
                moved = [r for r in by_step.get(step["id"], []) if r.state != StepState.PENDING]
                if moved:
                    return moved[0].title
    return ""
