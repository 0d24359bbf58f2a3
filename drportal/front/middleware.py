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
        response.headers.setdefault("Content-Security-Policy", CSP)
        return response


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
