from __future__ import annotations

from django.contrib import messages
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from drportal.accounts.access import ALL_STAFF, Role, roles
from drportal.inventory.forms import ImportForm
from drportal.inventory.importer import InventoryError, import_inventory
from drportal.inventory.models import Customer, Office, Server

PAGE = 200


@roles(*ALL_STAFF)
def server_list(request: HttpRequest) -> HttpResponse:
    servers = Server.objects.select_related("zone__region__provider").order_by("name")
    if region := request.GET.get("region"):
        servers = servers.filter(zone__region__slug=region)
    return render(request, "inventory/server_list.html", {"servers": servers[:PAGE]})


@roles(*ALL_STAFF)
def server_detail(request: HttpRequest, pk: int) -> HttpResponse:
    server = get_object_or_404(Server.objects.select_related("zone__region__provider", "account"), pk=pk)
    ctx = {"server": server, "assets": server.assets.select_related("customer"), "services": server.services.all()}
    return render(request, "inventory/server_detail.html", ctx)


@roles(*ALL_STAFF)
def customer_list(request: HttpRequest) -> HttpResponse:
    customers = Customer.objects.annotate(n_assets=Count("assets")).order_by("name")
    return render(request, "inventory/customer_list.html", {"customers": customers[:PAGE]})


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
            summary = import_inventory(text, actor=request.user, source=form.cleaned_data["document"].name)
        except InventoryError as exc:
            errors = exc.errors
        else:
            messages.success(request, f"Imported: {summary}")
            return redirect("inventory:import")
    return render(request, "inventory/import.html", {"form": form, "errors": errors})
