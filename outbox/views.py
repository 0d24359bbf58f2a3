from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from drportal.accounts.access import ALL_STAFF, roles
from outbox.models import OutboxMessage

PER_PAGE = 100


@roles(*ALL_STAFF)
def index(request: HttpRequest) -> HttpResponse:
    """Development only (not routed in production): what the local sinks received, newest first."""
    shown = OutboxMessage.objects.select_related("delivery")
    filters = {}
    for key, lookup in (("delivery", "delivery_id"), ("notice", "delivery__notice_id"), ("page", "delivery__page_id")):
        value = request.GET.get(key, "")
        if value.isdigit() and len(value) < 12:
            shown, filters[key] = shown.filter(**{lookup: int(value)}), int(value)
    page = Paginator(shown.order_by("-received_at", "-id"), PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "outbox/index.html", {"page": page, "filters": filters})
