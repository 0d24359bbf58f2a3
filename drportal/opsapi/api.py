"""The incident and run API under /api/v1/: read incidents and runs with their steps; declare an incident;
start a scenario; complete, decide, approve or refuse a step. Each operation asks for the roles its page asks
for (the token acts as its user, or as its role's service user) and changes state through the same functions
as the pages, so it is audited the same way. Bodies are JSON; errors are {"error": sentence, "errors":
[{"field", "message"}]} with 400, 401, 403, 404, 405 or 409. The operations' OpenAPI description is in
drportal/opsapi/openapi.py."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest, JsonResponse
from django.http.request import QueryDict
from django.views.decorators.csrf import csrf_exempt

from drportal.accounts.access import ALL_STAFF, Role, has_role
from drportal.incidents.models import Incident
from drportal.lib import inputs
from drportal.lib.inputs import text_problem
from drportal.opsapi import tokens
from drportal.opsapi.choices import INCIDENT_FILTERS
from drportal.opsapi.views import UNAUTHORIZED, error
from scenarios.choices import RunState

MAX_BODY_BYTES = 256 * 1024
PAGE = 100


def endpoint(methods: dict[str, tuple[str, ...]]) -> Callable:
    """Token authentication and the roles of each method (admins pass every check, as on the pages)."""

    def wrap(view: Callable) -> Callable:
        @csrf_exempt
        @wraps(view)
        def run(request: HttpRequest, *args, **kwargs) -> JsonResponse:
            if request.method not in methods:
                response = error(405, f"use {' or '.join(methods)}")
                response["Allow"] = ", ".join(methods)
                return response
            user = tokens.user_for(request)
            if user is None:
                return error(401, UNAUTHORIZED)
            if not has_role(user, *methods[request.method]):
                needed = ", ".join(methods[request.method])
                return error(403, f"this token's user or role may not do this (needs {needed})")
            request.user = user
            # An id beyond PostgreSQL's bigint names nothing (and would be a database error, not a 404).
            if any(isinstance(v, int) and not 0 < v < 2**63 for v in kwargs.values()):
                return error(404, "no such id")
            try:
                return view(request, *args, **kwargs)
            except ValidationError as exc:
                return _invalid(exc)
            except BadRequest as exc:
                return error(400, exc.message, exc.field)

        return run

    return wrap


class BadRequest(Exception):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field, self.message = field, message


def _body(request: HttpRequest) -> dict:
    try:
        # The shared input boundary: size and nesting are refused before the (recursive) parser sees the text.
        data = inputs.load_json(request.body or b"{}", max_bytes=MAX_BODY_BYTES)
    except inputs.InputError as exc:
        raise BadRequest(exc.field, f"the body {exc.message}") from None
    if not isinstance(data, dict):
        raise BadRequest("(body)", "the body must be a JSON object")
    return data


def _text(data: dict, key: str, limit: int = 10_000) -> str:
    value = data.get(key, "")
    if not isinstance(value, str) or text_problem(value) or len(value) > limit:
        raise BadRequest(key, f"must be text without NUL or lone surrogates, at most {limit} characters")
    return value


def _invalid(exc: ValidationError) -> JsonResponse:
    if hasattr(exc, "error_dict"):
        errors = [{"field": f, "message": " ".join(m)} for f, m in exc.message_dict.items()]
    else:
        errors = [{"field": "", "message": " ".join(exc.messages)}]
    status = 409 if not hasattr(exc, "error_dict") else 400
    return JsonResponse({"error": "; ".join(e["message"] for e in errors), "errors": errors}, status=status)


def _choice(request: HttpRequest, name: str, allowed) -> str:
    """A query filter's value: one of `allowed`, or "" when absent. An unknown value is a 400 rather than an empty
    list, which would read as "there are none"."""
    values = request.GET.getlist(name)
    if not values:
        return ""
    if len(values) > 1 or values[0] not in allowed:
        raise BadRequest(name, f"must be one of {', '.join(allowed)}")
    return values[0]


def _time(value) -> str | None:
    return value.isoformat() if value else None


# ------------------------------------------------------------------------------------------ incidents


def incident_json(incident: Incident, *, detail: bool = False) -> dict[str, Any]:
    out = {"id": incident.pk, "title": incident.title, "status": incident.status, "severity": incident.severity,
           "disaster_class": incident.disaster_class, "is_drill": incident.is_drill,
           "declared_at": _time(incident.declared_at), "declared_by": incident.declared_by.username,
           "responding_at": _time(incident.responding_at), "recovered_at": _time(incident.recovered_at),
           "closed_at": _time(incident.closed_at)}
    if detail:
        from drportal.incidents import scope as incident_scope

        out |= {"summary": incident.summary, "public_summary": incident.public_summary,
                "impacted": {"regions": [str(r) for r in incident.impacted_regions.select_related("provider")],
                             "zones": [str(z) for z in incident.impacted_zones.select_related("region__provider")],
                             "servers": sorted(incident.impacted_servers.values_list("name", flat=True)),
                             "offices": sorted(incident.impacted_offices.values_list("slug", flat=True)),
                             "services": sorted(incident.impacted_services.values_list("slug", flat=True))},
                "scope_counts": incident_scope.of(incident).counts(),
                "run": getattr(getattr(incident, "scenario_run", None), "pk", None)}
    return out


def _impacted_ids(data: dict) -> dict[str, list[int]]:
    """Names (as the pages show them) to ids: regions "provider/region", zones "provider/region/zone", servers
    by name, offices and services by slug. An unknown name is a 400 naming it."""
    from drportal.inventory.models import Office, Region, Server, Service, Zone

    impacted = data.get("impacted", {})
    if not isinstance(impacted, dict):
        raise BadRequest("impacted", "must be an object of lists of names")
    lookups = {
        "regions": lambda n: Region.objects.filter(provider__slug=n.partition("/")[0], slug=n.partition("/")[2]),
        "zones": lambda n: Zone.objects.filter(region__provider__slug=n.split("/")[0],
                                               region__slug=[*n.split("/"), ""][1],
                                               slug=[*n.split("/"), "", ""][2]),
        "servers": lambda n: Server.objects.filter(name=n),
        "offices": lambda n: Office.objects.filter(slug=n),
        "services": lambda n: Service.objects.filter(slug=n),
    }
    out: dict[str, list[int]] = {}
    for key, names in impacted.items():
        if key not in lookups:
            raise BadRequest(f"impacted.{key}", f"unknown; use {', '.join(lookups)}")
        if not isinstance(names, list) or len(names) > 5000 or not all(isinstance(n, str) for n in names):
            raise BadRequest(f"impacted.{key}", "must be a list of at most 5,000 names")
        for name in names:
            if text_problem(name) or len(name) > 300:
                raise BadRequest(f"impacted.{key}", "names must be text without NUL or lone surrogates")
            found = list(lookups[key](name).values_list("pk", flat=True)[:1])
            if not found:
                raise BadRequest(f"impacted.{key}", f"{name!r} is not in the inventory")
            out.setdefault(key, []).append(found[0])
    return out


@endpoint({"GET": ALL_STAFF, "POST": (Role.OPS,)})
def incidents(request: HttpRequest) -> JsonResponse:
    if request.method == "POST":
        return _declare(request)
    rows = Incident.objects.select_related("declared_by").order_by("-declared_at")
    status = _choice(request, "status", INCIDENT_FILTERS)
    if status == "open":
        rows = rows.filter(status__in=["declared", "responding"])
    elif status:
        rows = rows.filter(status=status)
    return JsonResponse({"incidents": [incident_json(i) for i in rows[:PAGE]]})


def _declare(request: HttpRequest) -> JsonResponse:
    """The declare page's own form validates the fields, so the API accepts exactly what the page accepts."""
    from drportal.incidents import services
    from drportal.incidents.forms import DeclareForm

    data = _body(request)
    form_data = QueryDict(mutable=True)
    for key in ("title", "severity", "disaster_class", "summary", "public_summary"):
        form_data[key] = _text(data, key)
    if not isinstance(data.get("is_drill", False), bool):
        raise BadRequest("is_drill", "must be true or false")
    if data.get("is_drill") is True:
        form_data["is_drill"] = "on"
    for key, ids in _impacted_ids(data).items():
        form_data.setlist(f"impacted_{key}", [str(i) for i in ids])
    form = DeclareForm(form_data)
    if not form.is_valid():
        errors = [{"field": f.removeprefix("impacted_"), "message": " ".join(m)} for f, m in form.errors.items()]
        return JsonResponse({"error": "the incident was not declared", "errors": errors}, status=400)
    incident = services.declare(request.user, impacted=form.impacted(), **form.incident_fields())
    return JsonResponse(incident_json(Incident.objects.select_related("declared_by").get(pk=incident.pk),
                                      detail=True), status=201)


@endpoint({"GET": ALL_STAFF})
def incident(request: HttpRequest, pk: int) -> JsonResponse:
    found = Incident.objects.select_related("declared_by").filter(pk=pk).first()
    if found is None:
        return error(404, f"no incident #{pk}")
    return JsonResponse(incident_json(found, detail=True))


@endpoint({"POST": (Role.OPS,)})
def incident_run(request: HttpRequest, pk: int) -> JsonResponse:
    """Start the scenario named in the body for the incident (or answer the run already started, 200)."""
    from scenarios import engine, loader

    found = Incident.objects.filter(pk=pk).first()
    if found is None:
        return error(404, f"no incident #{pk}")
    scenario_id = _text(_body(request), "scenario", 80)
    scenario = loader.library().get(scenario_id)
    if scenario is None:
        return error(400, f"{scenario_id or '(none)'} is not a valid scenario", "scenario")
    run, created = engine.start_run(found, scenario, request.user)
    return JsonResponse(run_json(run, detail=True), status=201 if created else 200)


# ----------------------------------------------------------------------------------------------- runs


def step_json(row) -> dict[str, Any]:
    return {"id": row.pk, "step_id": row.step_id, "item": row.item, "kind": row.kind, "title": row.title,
            "state": row.state, "attempts": row.attempts, "actor": row.actor_label or None,
            "ready_at": _time(row.ready_at), "started_at": _time(row.started_at),
            "finished_at": _time(row.finished_at), "error": row.error, "skip_reason": row.skip_reason,
            "notes": row.notes, "evidence": row.evidence, "outputs": row.outputs}


def run_json(run, *, detail: bool = False) -> dict[str, Any]:
    out = {"id": run.pk, "incident": run.incident_id, "scenario": run.scenario_id, "title": run.scenario_title,
           "state": run.state, "drill": run.drill, "started_at": _time(run.started_at),
           "finished_at": _time(run.finished_at), "note": run.note}
    if detail:
        out["steps"] = [step_json(r) for r in run.steps.order_by("position", "item")]
    return out


@endpoint({"GET": ALL_STAFF})
def runs(request: HttpRequest) -> JsonResponse:
    from scenarios.models import Run

    rows = Run.objects.order_by("-started_at")
    if state := _choice(request, "state", RunState.values):
        rows = rows.filter(state=state)
    return JsonResponse({"runs": [run_json(r) for r in rows[:PAGE]]})


@endpoint({"GET": ALL_STAFF})
def run(request: HttpRequest, pk: int) -> JsonResponse:
    from scenarios.models import Run

    found = Run.objects.filter(pk=pk).first()
    if found is None:
        return error(404, f"no run #{pk}")
    return JsonResponse(run_json(found, detail=True))


STEP_OPS = ("complete", "decide", "approve", "refuse")


@endpoint({"POST": (Role.OPS, Role.MANAGER)})
def step_action(request: HttpRequest, pk: int, op: str) -> JsonResponse:
    """The run page's step buttons: ops complete and decide; approving or refusing needs the step's approver
    role, checked by the engine as for the page."""
    from scenarios import engine
    from scenarios.models import StepRun

    if op not in STEP_OPS:
        return error(404, f"unknown operation {op!r}; use {', '.join(STEP_OPS)}")
    if op in ("complete", "decide") and not has_role(request.user, Role.OPS):
        return error(403, "only ops complete or decide steps")
    found = StepRun.objects.select_related("run").filter(pk=pk).first()
    if found is None:
        return error(404, f"no step #{pk}")
    if op in ("approve", "refuse") and found.kind == "approval":
        role = found.spec.get("approver_role", Role.MANAGER)
        if not has_role(request.user, role):
            return error(403, f"only a {role} can approve “{found.title}”")
    data = _body(request)
    notes = _text(data, "notes")
    if op == "complete":
        row = engine.complete_step(pk, request.user, notes=notes, evidence=_text(data, "evidence", 2000))
    elif op == "decide":
        row = engine.decide(pk, request.user, _text(data, "choice", 80), notes=notes)
    else:
        row = engine.approve(pk, request.user, approved=op == "approve", notes=notes)
    return JsonResponse(step_json(row))
