from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from drportal.accounts.access import ALL_STAFF, Role, roles
from drportal.incidents import scope as incident_scope
from drportal.incidents import services
from drportal.incidents.choices import IncidentStatus
from drportal.incidents.forms import SERVER_OPTIONS, DeclareForm, WidenForm, server_choices
from drportal.incidents.models import Incident


@roles(*ALL_STAFF)
def incident_list(request: HttpRequest) -> HttpResponse:
    # With each one's run (a join): a recovered incident whose run did not recover everything says so.
    incidents = Incident.objects.select_related("declared_by", "scenario_run").order_by("-declared_at")[:200]
    return render(request, "incidents/list.html", {"incidents": incidents})


@roles(Role.OPS)
def declare(request: HttpRequest) -> HttpResponse:
    form = DeclareForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        incident = services.declare(request.user, impacted=form.impacted(), **form.incident_fields())
        messages.success(request, f"Incident #{incident.pk} declared.")
        return redirect("incidents:detail", pk=incident.pk)
    return render(request, "incidents/declare.html", {"form": form})


@roles(Role.OPS)
def declare_servers(request: HttpRequest) -> HttpResponse:
    """The declare form's server options for its current zones, regions, search and choices (htmx)."""
    options, more = server_choices(search=request.GET.get("find_servers", ""),
                                   zones=request.GET.getlist("impacted_zones"),
                                   regions=request.GET.getlist("impacted_regions"),
                                   selected=request.GET.getlist("impacted_servers"))
    chosen = set(request.GET.getlist("impacted_servers"))
    return render(request, "incidents/_server_options.html",
                  {"options": [(pk, label, str(pk) in chosen) for pk, label in options], "more": more,
                   "limit": SERVER_OPTIONS})


@roles(Role.OPS)
def declare_preview(request: HttpRequest) -> HttpResponse:
    """What the declare form's current choices take down, before anyone confirms (htmx)."""
    from drportal.inventory.models import Server

    chosen = {name: request.GET.getlist(f"impacted_{name}") for name in incident_scope.CHOSEN}
    disaster_class = request.GET.get("disaster_class", "")
    scope = incident_scope.resolve(disaster_class, **chosen)
    servers = [s.name for s in Server.objects.filter(pk__in=scope.servers[:NAMES_SHOWN]).order_by("name")]
    return render(request, "incidents/_declare_preview.html", {
        "scope": scope, "counts": scope.counts(), "servers": servers, "disaster_class": disaster_class,
        "chosen": [name for name, ids in chosen.items() if ids]})


@roles(*ALL_STAFF)
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    incident = get_object_or_404(Incident.objects.select_related("declared_by", "commander"), pk=pk)
    ctx = {
        "incident": incident,
        # A zone's and a region's names include their provider's: loaded with them, not one query per server.
        "servers": incident.impacted_servers.select_related("zone__region__provider"),
        "zones": incident.impacted_zones.select_related("region__provider"),
        "regions": incident.impacted_regions.select_related("provider"),
        "offices": incident.impacted_offices.all(),
        "services": incident.impacted_services.all(),
        "next_states": [s for s in IncidentStatus if s in _next(incident)],
        "resolved": resolved_summary(incident_scope.of(incident)),
        "widen_form": WidenForm() if incident.is_open else None,
    }
    return render(request, "incidents/detail.html", ctx)


# Names listed on the page; beyond this a count says how many more.
NAMES_SHOWN = 25


def resolved_summary(scope: incident_scope.Scope) -> list[tuple[str, int, list[str]]]:
    """(what, how many, the first names) for each kind of thing the scope hits: one query per kind."""
    from drportal.inventory.models import Asset, Customer, Person, Server, Zone

    kinds = [(("zone", "zones"), Zone.objects.select_related("region__provider"), scope.zones),
             (("server", "servers"), Server.objects.all(), scope.servers),
             (("customer database", "customer databases"), Asset.objects.all(), scope.databases),
             (("customer", "customers"), Customer.objects.all(), scope.customers),
             (("person", "people"), Person.objects.all(), scope.people)]
    out = []
    for (one, many), qs, ids in kinds:
        if ids:
            names = [str(o) for o in qs.filter(pk__in=ids[:NAMES_SHOWN])]
            out.append((one if len(ids) == 1 else many, len(ids), names))
    return out


def _next(incident: Incident) -> tuple[str, ...]:
    from drportal.incidents.choices import TRANSITIONS

    return TRANSITIONS.get(incident.status, ())


@require_POST
@roles(Role.OPS, Role.MANAGER)
def transition(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        services.transition(request.user, pk, request.POST.get("to", ""))
    except ValidationError as exc:
        messages.error(request, exc.messages[0])
    return redirect("incidents:detail", pk=pk)


@require_POST
@roles(Role.OPS)
def widen(request: HttpRequest, pk: int) -> HttpResponse:
    """Add what else is down; a running run's pending steps follow (or its note says why they cannot)."""
    form = WidenForm(request.POST)
    if not form.is_valid():
        messages.error(request, "; ".join(e for errors in form.errors.values() for e in errors))
        return redirect("incidents:detail", pk=pk)
    try:
        scope = services.widen(request.user, pk, impacted=form.impacted())
    except ValidationError as exc:
        messages.error(request, exc.messages[0])
    else:
        counts = scope.counts()
        messages.success(request, f"Scope widened: {counts['servers']} servers, {counts['databases']} customer "
                                  f"databases and {counts['customers']} customers are now down.")
    return redirect("incidents:detail", pk=pk)
