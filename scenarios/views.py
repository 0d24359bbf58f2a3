from __future__ import annotations

import csv

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from drportal.accounts.access import ALL_STAFF, Role, has_role, roles
from drportal.audit import log as audit
from drportal.cloud.adapters.errors import AdapterError
from drportal.incidents.models import Incident
from drportal.lib import clock
from scenarios import drills, engine, loader, loss, plandoc, promise, readiness, recovery_points, run_rows, waiting
from scenarios.choices import FINAL_RUN_STATES, JOB_KINDS
from scenarios.forms import FollowUpFormSet, MitigationForm, ReviewForm
from scenarios.models import Drill, Mitigation, Review, Run, StepRun


def _scenario(scenario_id: str) -> loader.Scenario:
    scenario = loader.library().get(scenario_id)
    if scenario is None:
        raise Http404("no valid scenario with that id")
    return scenario


def _error_text(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items())
    return " ".join(exc.messages)


@roles(*ALL_STAFF)
def index(request: HttpRequest) -> HttpResponse:
    lib = loader.library()
    snapshot = readiness.current(list(lib.scenarios.values()), clock.now())
    return render(request, "scenarios/index.html", {"library": lib, "rows": snapshot.rows, "snapshot": snapshot})


@roles(*ALL_STAFF)
def detail(request: HttpRequest, scenario_id: str) -> HttpResponse:
    scenario = _scenario(scenario_id)
    now = clock.now()
    snapshot = readiness.current(list(loader.library().scenarios.values()), now)
    result = next(r for r in snapshot.rows if r.scenario.id == scenario.id)
    result.exposure = readiness.exposure(scenario, now)
    ctx = {
        "scenario": scenario,
        "objective": promise.objective(scenario),
        "readiness": result,
        "snapshot": snapshot,
        "drills": Drill.objects.filter(scenario_id=scenario.id).select_related("run")[:20],
        "runs": Run.objects.filter(scenario_id=scenario.id, drill=False).select_related("incident")[:20],
        "drill_scope": drills.describe(drills.default_scope(scenario)),
    }
    return render(request, "scenarios/detail.html", ctx)


@require_POST
@roles(Role.OPS)
def execute(request: HttpRequest, incident_id: int) -> HttpResponse:
    incident = get_object_or_404(Incident, pk=incident_id)
    scenario_id = request.POST.get("scenario", "")
    scenario = loader.library().get(scenario_id)
    if scenario is None:
        messages.error(request, f"scenario: {scenario_id or '(none)'} is not a valid scenario; see the scenarios page")
        return redirect("incidents:detail", pk=incident.pk)
    try:
        run, created = engine.start_run(incident, scenario, request.user)
    except ValidationError as exc:
        messages.error(request, _error_text(exc))
        return redirect("incidents:detail", pk=incident.pk)
    if created:
        messages.success(request, f"Started “{scenario.title}”.")
    else:
        messages.info(request, f"A run was already started for this incident by {run.started_by}; here it is.")
    return redirect("scenarios:run", pk=run.pk)


def _run_context(run: Run, show: str = "") -> dict:
    rows = list(run.steps.select_related("actor").order_by("position", "item"))
    now = clock.now()
    for row in rows:
        row.elapsed_now = row.elapsed(now)
    waiting_rows = waiting.for_rows(rows)
    names = waiting.who_may_act(waiting_rows)
    asks = [{"step": w.row, "role": w.role, "what": w.what, "verb": w.verb, "waited": w.waited(now),
             "people": names.get(w.role, []), "admins": names.get("admin", [])} for w in waiting_rows]
    show = run_rows.shown_step(run, show)
    summary = engine.run_summary(run, rows, now)
    return {"run": run, "rows": run_rows.table(run, rows, show), "show": show, "summary": summary, "now": now,
            "job_kinds": JOB_KINDS, "waiting": asks, "named_at_top": run_rows.NAMED_AT_TOP,
            "failed_more": max(0, len(summary["failed"]) - run_rows.NAMED_AT_TOP),
            "not_recovered_more": max(0, len(summary["not_recovered"]) - run_rows.NAMED_AT_TOP)}


@roles(*ALL_STAFF)
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(Run.objects.select_related("incident", "started_by"), pk=pk)
    ctx = _run_context(run, request.GET.get("show", ""))
    ctx["loss"] = loss.for_run(run, ctx["now"])
    ctx["promise"] = run_promise(run, ctx["loss"])
    return render(request, "scenarios/run.html", ctx)


def run_promise(run: Run, exposure) -> dict:
    """The run's recovery-point target in words: the plan's promise frozen at the start, the scenario's looser
    figure if it has one, and whether the loss window so far breaks the promise."""
    bindings = run.bindings
    target = promise.Objective(bindings.get("rpo_accepts_minutes", run.spec["objectives"].get("rpo_minutes")),
                               bindings.get("rpo_promise_minutes"), tuple(bindings.get("rpo_promise_policies", ())))
    worst = None
    if exposure:
        seconds = [row["seconds_lost"] for row in exposure]
        worst = None if None in seconds else max(seconds)
    broken = promise.loss_sentence(target.target_minutes, worst, "the worst-off customer") if exposure else ""
    return {"objective": target, "looser": target.sentence, "broken": broken}


@roles(*ALL_STAFF)
def run_live(request: HttpRequest, pk: int) -> HttpResponse:
    """The part of the run page htmx polls: 3 queries (run, steps with their actors, nothing else)."""
    run = get_object_or_404(Run.objects.select_related("incident", "started_by"), pk=pk)
    return render(request, "scenarios/_run_live.html", _run_context(run, request.GET.get("show", "")))


@roles(*ALL_STAFF)
def step_detail(request: HttpRequest, pk: int) -> HttpResponse:
    row = get_object_or_404(StepRun.objects.select_related("run__incident", "actor"), pk=pk)
    now = clock.now()
    points = recovery_points.candidates(row, now) if recovery_points.is_choosable(row) else None
    images = recovery_points.image_candidates(row, now) if recovery_points.is_image_choice(row) else None
    return render(request, "scenarios/step.html", {"row": row, "spec": row.spec, "run": row.run, "now": now,
                                                   "points": points, "images": images,
                                                   "choosable": row.state in recovery_points.CHOOSABLE})


@require_POST
@roles(Role.OPS, Role.MANAGER)
def point_suspect(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        recovery_points.mark_suspect(pk, request.user, request.POST.get("reason", ""))
        messages.success(request, f"Backup #{pk} marked suspect: no restore or provision takes it by default.")
    except ValidationError as exc:
        messages.error(request, _error_text(exc))
    back = request.POST.get("step", "")
    return redirect("scenarios:step", pk=int(back)) if back.isdigit() else redirect("scenarios:index")


STEP_OPS = {"complete", "decide", "approve", "refuse", "end-wait", "retry", "skip", "recovery-point", "image",
            "approve-suspect"}
MANAGER_OPS = {"approve", "refuse", "approve-suspect"}


@require_POST
@roles(Role.OPS, Role.MANAGER)
def step_action(request: HttpRequest, pk: int, op: str) -> HttpResponse:
    if op not in STEP_OPS:
        raise Http404("unknown operation")
    if op not in MANAGER_OPS and not has_role(request.user, Role.OPS):
        raise PermissionDenied("only ops run steps")
    row = get_object_or_404(StepRun, pk=pk)
    post = request.POST
    try:
        if op == "complete":
            engine.complete_step(pk, request.user, notes=post.get("notes", ""), evidence=post.get("evidence", ""))
        elif op == "decide":
            engine.decide(pk, request.user, post.get("choice", ""), notes=post.get("notes", ""))
        elif op in ("approve", "refuse"):
            engine.approve(pk, request.user, approved=op == "approve", notes=post.get("notes", ""))
        elif op == "end-wait":
            engine.end_wait(pk, request.user, notes=post.get("notes", ""))
        elif op == "retry":
            engine.retry_step(pk, request.user)
        elif op == "skip":
            engine.skip_step(pk, request.user, reason=post.get("reason", ""))
        elif op in ("recovery-point", "image"):
            record = post.get("record", "")
            if not record.isdigit():
                raise engine.EngineError({"record": f"choose {'an image' if op == 'image' else 'a recovery point'} "
                                                    "from the list"})
            choose = recovery_points.choose_image if op == "image" else recovery_points.choose
            choose(pk, request.user, int(record))
        elif op == "approve-suspect":
            recovery_points.approve_suspect(pk, request.user)
    except ValidationError as exc:
        messages.error(request, _error_text(exc))
        return redirect("scenarios:step", pk=pk)
    messages.success(request, f"“{row.title}”: {op.replace('-', ' ')} done.")
    return redirect("scenarios:run", pk=row.run_id)


@require_POST
@roles(Role.OPS, Role.MANAGER)
def run_action(request: HttpRequest, pk: int, op: str) -> HttpResponse:
    get_object_or_404(Run, pk=pk)
    try:
        if op == "pause":
            engine.pause(pk, request.user)
        elif op == "resume":
            engine.resume(pk, request.user)
        elif op == "abort":
            engine.abort(pk, request.user, reason=request.POST.get("reason", ""))
        else:
            raise Http404("unknown operation")
    except ValidationError as exc:
        messages.error(request, _error_text(exc))
    return redirect("scenarios:run", pk=pk)


@roles(*ALL_STAFF)
def mitigations(request: HttpRequest) -> HttpResponse:
    today = clock.now().date()
    items = list(Mitigation.objects.all())
    can_edit = has_role(request.user, Role.OPS, Role.MANAGER)
    form = MitigationForm(request.POST or None) if can_edit else None
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied("only ops and managers edit the register")
        if form.is_valid():
            item = form.save()
            audit.record(request.user, "mitigation.created", item, after=form.cleaned_data)
            readiness.request_refresh()
            messages.success(request, f"Added “{item.title}”.")
            return redirect("scenarios:mitigations")
    rows = [(m, m.status(today)) for m in items]
    return render(request, "scenarios/mitigations.html", {"rows": rows, "form": form})


@require_POST
@roles(Role.OPS, Role.MANAGER)
def mitigation_checked(request: HttpRequest, pk: int) -> HttpResponse:
    item = get_object_or_404(Mitigation, pk=pk)
    before = audit.snapshot(item, ["last_checked_on"])
    item.last_checked_on = clock.now().date()
    item.save(update_fields=["last_checked_on"])
    after = audit.snapshot(item, ["last_checked_on"])
    audit.record(request.user, "mitigation.checked", item, before=before, after=after)
    readiness.request_refresh()
    messages.success(request, f"“{item.title}” marked checked today.")
    return redirect("scenarios:mitigations")


@roles(*ALL_STAFF)
def drill_report(request: HttpRequest) -> HttpResponse:
    lib = loader.library()
    drilled = readiness.last_drills()
    today = clock.now().date()
    overdue = []
    for scenario in lib.scenarios.values():
        due = readiness.drill_due(scenario, drilled.get(scenario.id))
        if due is None or due < today:
            overdue.append((scenario, due))
    drills_qs = Drill.objects.select_related("run").order_by("-started_at")[:500]
    return render(request, "scenarios/drills.html", {"drills": drills_qs, "overdue": overdue,
                                                     "titles": {s.id: s.title for s in lib.scenarios.values()}})


@roles(Role.OPS, Role.MANAGER)
def drill_csv(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="drills.csv"'
    writer = csv.writer(response)
    writer.writerow(["scenario", "started_at", "finished_at", "measured_rto_seconds", "rto_objective_minutes",
                     "rto_met", "recovery_point", "rpo_objective_minutes", "run_state", "run", "not_exercised"])
    for drill in Drill.objects.select_related("run").order_by("-started_at"):
        rto = drill.measured_rto
        writer.writerow([
            drill.scenario_id, drill.started_at.isoformat(), drill.finished_at.isoformat() if drill.finished_at else "",
            int(rto.total_seconds()) if rto else "", drill.rto_objective_minutes,
            "" if drill.rto_met is None else ("yes" if drill.rto_met else "no"),
            drill.recovery_point.isoformat() if drill.recovery_point else "not available",
            drill.rpo_objective_minutes, drill.run.state, drill.run_id, "; ".join(drill.not_exercised),
        ])
    return response


@require_POST
@roles(Role.OPS)
def drill_start(request: HttpRequest, scenario_id: str) -> HttpResponse:
    scenario = _scenario(scenario_id)
    try:
        chosen = request.POST.getlist("server")
        servers = drills.chosen_scope(scenario, chosen)["servers"] if chosen else None
        drill = drills.start_drill(scenario, request.user, servers=servers)
    except ValidationError as exc:
        messages.error(request, _error_text(exc))
        return redirect("scenarios:detail", scenario_id=scenario.id)
    messages.success(request, f"Drill of “{scenario.title}” started on the simulated cloud.")
    return redirect("scenarios:run", pk=drill.run_id)


@require_POST
@roles(Role.OPS, Role.MANAGER)
def drill_bubble_start(request: HttpRequest, scenario_id: str) -> HttpResponse:
    """A drill in a bubble: the real actions against the sandbox accounts ("<account>-drill"), never production;
    torn down afterwards from the drill's page."""
    scenario = _scenario(scenario_id)
    try:
        drill = drills.start_drill(scenario, request.user, bubble=True)
    except ValidationError as exc:
        messages.error(request, _error_text(exc))
        return redirect("scenarios:detail", scenario_id=scenario.id)
    messages.success(request, f"Drill of “{scenario.title}” started in a bubble: the real actions run against "
                              "the sandbox accounts only.")
    return redirect("scenarios:drill", pk=drill.pk)


@roles(Role.OPS, Role.MANAGER)
def drill_detail(request: HttpRequest, pk: int) -> HttpResponse:
    drill = get_object_or_404(Drill.objects.select_related("run"), pk=pk)
    return render(request, "scenarios/drill.html", {
        "drill": drill, "bubble": bool(drill.run.bindings.get("bubble")),
        "finished": drill.run.state in FINAL_RUN_STATES, "teardown": drills.last_teardown(drill),
        "scenario_title": getattr(loader.library().get(drill.scenario_id), "title", drill.scenario_id)})


@require_POST
@roles(Role.OPS, Role.MANAGER)
def drill_teardown(request: HttpRequest, pk: int) -> HttpResponse:
    drill = get_object_or_404(Drill.objects.select_related("run"), pk=pk)
    if not drill.run.bindings.get("bubble"):
        messages.error(request, "This drill ran on the simulated cloud only: it made nothing to tear down.")
    elif drill.run.state not in FINAL_RUN_STATES:
        messages.error(request, f"The drill's run is {drill.run.state}: finish or abort it before tearing down.")
    else:
        try:
            proof = drills.tear_down(drill, request.user)
        except AdapterError as exc:
            messages.error(request, f"Teardown stopped: {exc}. Nothing is claimed gone; try again.")
        else:
            left = sum(len(v) for v in proof["remaining"].values())
            (messages.success if not left else messages.error)(
                request, "Torn down, and looked again: nothing of the drill remains." if not left
                else f"Torn down, but {left} thing(s) of the drill remain: see below.")
    return redirect("scenarios:drill", pk=drill.pk)


@roles(*ALL_STAFF)
def plan(request: HttpRequest) -> HttpResponse:
    return render(request, "scenarios/plan.html", plandoc.entries(clock.now().date()))


@roles(*ALL_STAFF)
def plan_pdf(request: HttpRequest) -> HttpResponse:
    today = clock.now().date()
    response = HttpResponse(plandoc.pdf(plandoc.entries(today)), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="dr-plan-{today:%Y-%m-%d}.pdf"'
    return response


@roles(Role.OPS, Role.MANAGER)
def review(request: HttpRequest, incident_id: int) -> HttpResponse:
    incident = get_object_or_404(Incident, pk=incident_id)
    existing = Review.objects.filter(incident=incident).first()
    form = ReviewForm(request.POST or None, instance=existing)
    follow_ups = FollowUpFormSet(request.POST or None, instance=existing or Review(incident=incident))
    if request.method == "POST" and form.is_valid() and follow_ups.is_valid():
        from django.db import transaction

        with transaction.atomic():
            item = form.save(commit=False)
            item.incident = incident
            item.author = request.user
            item.updated_at = clock.now()
            item.save()
            follow_ups.instance = item
            follow_ups.save()
            audit.record(request.user, "review.saved", item, after={
                "cause": item.cause, "changes_recreated": item.changes_recreated,
                "follow_ups": [f"{f.text} ({f.owner}, {f.due_on})" for f in item.follow_ups.all()]})
        messages.success(request, "Review saved.")
        return redirect("scenarios:review", incident_id=incident.pk)
    return render(request, "scenarios/review.html", {"incident": incident, "form": form, "follow_ups": follow_ups,
                                                     "review": existing})


@roles(*ALL_STAFF)
def approve_link(request: HttpRequest, token: str) -> HttpResponse:
    """The page a manager's approval message links to: GET shows, only the POST approves. The link's own
    checks (signature, owner, role, single use, expiry, step still waiting) are in approval_links."""
    from scenarios import approval_links, approve_by_link

    try:
        link = approval_links.read(token, request.user)
    except approval_links.LinkInvalid as exc:
        return render(request, "scenarios/approve_link.html", {"invalid": str(exc)}, status=410)
    if request.method == "POST":
        try:
            row = approve_by_link.confirm(token, request.user, notes=request.POST.get("notes", "").strip())
        except approval_links.LinkInvalid as exc:
            return render(request, "scenarios/approve_link.html", {"invalid": str(exc)}, status=410)
        except ValidationError as exc:
            messages.error(request, _error_text(exc))
            return redirect("scenarios:step", pk=link.step_id)
        messages.success(request, f"“{row.title}” approved.")
        return redirect("scenarios:run", pk=row.run_id)
    row = link.step
    ctx = {"link": link, "row": row, "run": row.run, "spec": row.spec,
           "targets": approval_links.targets(row), "loss": loss.for_run(row.run, clock.now())}
    return render(request, "scenarios/approve_link.html", ctx)
