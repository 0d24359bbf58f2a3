from __future__ import annotations

import django_rq
from django.contrib import messages
from django.db import transaction
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from drportal.accounts.access import Role, roles
from drportal.cloud import connection
from drportal.inventory.models import ProviderAccount


@roles(Role.OPS, Role.MANAGER)
def accounts(request: HttpRequest) -> HttpResponse:
    rows = ProviderAccount.objects.select_related("provider").annotate(n_servers=Count("servers")).order_by("name")
    return render(request, "cloud/accounts.html", {"accounts": rows})


@roles(Role.OPS)
@require_POST
def test_connection(request: HttpRequest, pk: int) -> HttpResponse:
    account = get_object_or_404(ProviderAccount.objects.select_related("provider"), pk=pk)
    result = connection.check_and_record(account, request.user)
    if request.headers.get("HX-Request"):
        return render(request, "cloud/_connection.html", {"account": account, "result": result})
    (messages.success if result.ok else messages.error)(request, f"{account.name}: {result.message}")
    return redirect("cloud:accounts")


@roles(Role.ADMIN)
@require_POST
def sync(request: HttpRequest, pk: int) -> HttpResponse:
    account = get_object_or_404(ProviderAccount, pk=pk)
    from drportal.cloud import jobs

    transaction.on_commit(lambda: django_rq.get_queue("default").enqueue(
        jobs.sync_inventory, account.pk, request.user.username))
    messages.success(request, f"{account.name}: inventory sync queued")
    return redirect("cloud:accounts")
