from __future__ import annotations

import logging
import sys
import uuid

from django.db import InterfaceError, OperationalError
from django.http import HttpResponseServerError, JsonResponse
from django.shortcuts import render
from django.template import loader

from drportal.lib.answers import database_down  # the pages' 503 too

logger = logging.getLogger("drportal.api")


def forbidden(request, exception=None):
    return render(request, "403.html", {"reason": "You do not have access to this page."}, status=403)


def not_found(request, exception=None):
    if request.path.startswith("/api/"):
        # An API client (or a fuzzer) asking for an id that cannot exist gets the API's JSON error, not a page.
        from django.http import JsonResponse

        return JsonResponse({"error": "no such API resource: see /api/v1/openapi.json"}, status=404)
    return render(request, "404.html", status=404)


def server_error(request):
    # Middleware (sessions, auth) may be what hit the unreachable database; Django calls this handler
    # inside its except block, so the cause is still in sys.exc_info().
    if isinstance(sys.exc_info()[1], OperationalError | InterfaceError):
        return database_down()
    if request.path_info.startswith("/api/"):
        return api_server_error(request)
    return HttpResponseServerError(loader.get_template("500.html").render({}))


def api_server_error(request) -> JsonResponse:
    """API clients parse JSON, never an HTML page. The error id is in the answer and in the log line with the
    traceback, so a user's report leads to the cause; the exception's text is not in the answer (it may
    hold data)."""
    error_id = uuid.uuid4().hex[:16]
    logger.error("API error %s on %s %s", error_id, request.method, request.path_info, exc_info=sys.exc_info())
    return JsonResponse({"error": f"An unexpected error happened on the server. Quote error "
                                  f"id {error_id} when reporting it.", "error_id": error_id}, status=500)
