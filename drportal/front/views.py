from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from drportal.accounts.access import ALL_STAFF, roles
from drportal.front import health


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    ok, body = health.report()
    return JsonResponse(body, status=200 if ok else 503)


@roles(*ALL_STAFF)
def dashboard(request: HttpRequest) -> HttpResponse:
    from drportal.front.dashboard import dashboard_context

    return render(request, "front/dashboard.html", dashboard_context(request))
