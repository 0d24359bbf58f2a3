from __future__ import annotations

import logging

from django.db import InterfaceError, OperationalError

from drportal.front.errors import database_down

logger = logging.getLogger(__name__)

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)


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
