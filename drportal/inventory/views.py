from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from drportal.accounts.access import ALL_STAFF, Role, roles
from drportal.inventory.forms import ImportForm
from drportal.inventory.importer import InventoryError, import_inventory
from drportal.inventory.models import Asset, Customer, Office, Server

PAGE = 100


def _paged(request: HttpRequest, rows, **keep: str) -> dict:
    """One page of rows and the query string that keeps the filters on the other pages."""
    page = Paginator(rows, PAGE).get_page(request.GET.get("page"))
    return {"page": page, "query": urlencode({k: v for k, v in keep.items() if v})}


@roles(*ALL_STAFF)
def server_list(request: HttpRequest) -> HttpResponse:
    servers = Server.objects.select_related("zone__region__provider").order_by("name", "pk")
    region, text = request.GET.get("region", ""), request.GET.get("q", "").strip()
    if region:
        servers = servers.filter(zone__region__slug=region)
    if text:
        servers = servers.filter(name__icontains=text)
    ctx = _paged(request, servers, region=region, q=text)
    return render(request, "inventory/server_list.html", {**ctx, "servers": ctx["page"], "q": text})


@roles(*ALL_STAFF)
def server_detail(request: HttpRequest, pk: int) -> HttpResponse:
    server = get_object_or_404(Server.objects.select_related("zone__region__provider", "account"), pk=pk)
    ctx = {"server": server, "assets": server.assets.select_related("customer"), "services": server.services.all()}
    return render(request, "inventory/server_detail.html", ctx)


@roles(*ALL_STAFF)
def customer_list(request: HttpRequest) -> HttpResponse:
    text = request.GET.get("q", "").strip()
    customers = Customer.objects.order_by("name", "pk")
    if text:
        customers = customers.filter(Q(name__icontains=text) | Q(slug__icontains=text))
    ctx = _paged(request, customers, q=text)
    # Counted for the page's customers only: counting every customer's assets grows with the inventory.
    counts = dict(Asset.objects.filter(customer__in=[c.pk for c in ctx["page"]]).values_list("customer")
                  .annotate(n=Count("pk")))
    for customer in ctx["page"]:
        customer.n_assets = counts.get(customer.pk, 0)
    return render(request, "inventory/customer_list.html", {**ctx, "customers": ctx["page"], "q": text})


CUSTOMER_OPTIONS = 20


@roles(*ALL_STAFF)
def customer_options(request: HttpRequest) -> HttpResponse:
    """Suggestions for a customer field (a <datalist>, filled by htmx): customers whose name or identifier
    contains the text, sent as `q` or as the field's own value (`customer`)."""
    text = (request.GET.get("q") or request.GET.get("customer") or "").strip()
    found = Customer.objects.none()
    if text:
        found = Customer.objects.filter(Q(name__icontains=text) | Q(slug__icontains=text)).order_by("name")
    return render(request, "inventory/_customer_options.html",
                  {"customers": found.only("slug", "name")[:CUSTOMER_OPTIONS]})


@roles(*ALL_STAFF)
def customer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    customer = get_object_or_404(Customer, pk=pk)
    ctx = {
        "customer": customer,
        "contacts": customer.contacts.all(),
        "assets": customer.assets.select_related("server__zone__region", "zone__region"),
        "services": customer.services.all(),
    }
    return render(request, "inventory/customer_detail.html", ctx)


@roles(*ALL_STAFF)
def office_list(request: HttpRequest) -> HttpResponse:
    offices = Office.objects.prefetch_related("people")
    return render(request, "inventory/office_list.html", {"offices": offices})


@roles(Role.ADMIN)
def import_upload(request: HttpRequest) -> HttpResponse:
    form = ImportForm(request.POST or None, request.FILES or None)
    errors: list[str] = []
    if request.method == "POST" and form.is_valid():
        text = form.cleaned_data["document"].read().decode("utf-8", errors="replace")
        try:
            summary = import_inventory(text, actor=request.user, source=form.cleaned_data["document"].name,
                                       adopt=form.cleaned_data["adopt"])
        except InventoryError as exc:
            errors = exc.errors
        else:
            messages.success(request, f"Imported: {summary}")
            return redirect("inventory:import")
    return render(request, "inventory/import.html", {"form": form, "errors": errors})
