from __future__ import annotations

import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, HttpResponseServerError
from django.shortcuts import render
from django.template import loader


def forbidden(request, exception=None):
    return render(request, "403.html", {"reason": "You do not have access to this page."}, status=403)


def not_found(request, exception=None):
    return render(request, "404.html", status=404)


def database_down() -> HttpResponse:
    # Rendered without context processors or the session: the database is what failed.
    response = HttpResponse(loader.get_template("503.html").render({"part": "database"}), status=503)
    response["Retry-After"] = "10"
    return response


def server_error(request):
    # Middleware (sessions, auth) may be what hit the unreachable database; Django calls this handler
    # inside its except block, so the cause is still in sys.exc_info().
    if isinstance(sys.exc_info()[1], OperationalError | InterfaceError):
        return database_down()
    return HttpResponseServerError(loader.get_template("500.html").render({}))
