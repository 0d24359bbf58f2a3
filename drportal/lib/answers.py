"""Answers every layer may give without the pages app: the Content-Security-Policy and the "database is down"
page. In drportal.lib (it knows no app) so that the accounts' token middleware, which answers before the rest of
the middleware runs, sets them too without importing drportal.front (issue 15)."""

from __future__ import annotations

from django.http import HttpResponse
from django.template import loader

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def database_down() -> HttpResponse:
    # Rendered without context processors or the session: the database is what failed.
    response = HttpResponse(loader.get_template("503.html").render({"part": "database"}), status=503)
    response["Retry-After"] = "10"
    return response
