from __future__ import annotations

import logging

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, HttpResponseBadRequest, JsonResponse
from django.template import loader

from drportal.lib.answers import CSP, database_down

logger = logging.getLogger(__name__)



class ContentSecurityPolicyMiddleware:
    """No inline scripts or styles anywhere: htmx and our own JS load from /static/."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", policy())
        return response


def policy() -> str:
    """CSP, plus the identity provider's origin in form-action when single sign-on ends the provider's session
    too: "Sign out" posts here and is redirected there, and browsers check form-action on that redirect."""
    from urllib.parse import urlsplit

    from django.conf import settings

    end = urlsplit(getattr(settings, "OIDC_OP_END_SESSION_ENDPOINT", ""))
    if not end.scheme or not end.netloc:
        return CSP
    return CSP.replace("form-action 'self'", f"form-action 'self' {end.scheme}://{end.netloc}")


class DatabaseDownMiddleware:
    """When PostgreSQL is unreachable, answer 503 with a page that says so, instead of a stack trace.
    Django reconnects on the next request (CONN_HEALTH_CHECKS), so recovery needs nothing from us."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, OperationalError | InterfaceError):
            logger.warning("database unavailable: %s", type(exception).__name__)
            return database_down()
        return None


class InputBoundaryMiddleware:
    """Query strings and form fields pass the input boundary (drportal/lib/inputs.py) before any view: a NUL
    in `?q=` used to reach PostgreSQL and fail as a server error on every list page that filters. The refusal
    is a 400 naming the parameter. JSON bodies are checked field by field by the views that read them."""

    FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from drportal.lib import inputs

        problem = inputs.params_problem(request.GET)
        if problem is None and request.method == "POST" and request.content_type in self.FORMS:
            from django.http.multipartparser import MultiPartParserError

            try:
                problem = inputs.params_problem(request.POST)
            except MultiPartParserError as exc:
                # A form body that cannot be parsed (no boundary): a 400 naming it, not a logged traceback.
                problem = inputs.InputError("(body)", f"is not a valid form: {exc}")
        if problem is None:
            return self.get_response(request)
        return bad_input(request, problem)


def bad_input(request, problem) -> HttpResponse:
    if request.path_info.startswith("/api/"):
        return JsonResponse({"error": f"The parameter {problem.field!r} {problem.message}.",
                             "errors": [problem.as_dict()]}, status=400)
    page = loader.get_template("400.html").render({"field": problem.field, "message": problem.message})
    return HttpResponseBadRequest(page)
