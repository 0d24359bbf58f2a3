from __future__ import annotations

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "drportal.settings")
django_application = get_wsgi_application()


class IngestRoute:
    """POST /api/v1/backups/ tries backups.lean first: a well-formed single report is stored and answered
    there without Django's request cycle (issue 17: that cycle cost more CPU than storing the report).
    Everything else, and anything the lean path does not settle, goes to Django unchanged. The answer carries
    the headers Django's path gives a 201 of this route (SecurityMiddleware's, and what TokenApiMiddleware
    sets), taken once from Django itself so that a setting changes both alike."""

    def __init__(self, app) -> None:
        from django.core.signals import setting_changed

        self.app = app
        self.path: str | None = None
        self.headers: dict[bool, list[tuple[str, str]]] = {}
        setting_changed.connect(self.forget)

    def forget(self, **kwargs) -> None:
        self.path, self.headers = None, {}

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") == "POST" and environ.get("PATH_INFO") == self._path():
            from django.conf import settings

            from backups import lean

            secure = is_secure(environ)
            # SecurityMiddleware redirects plain HTTP when told to: Django answers that.
            if settings.INGEST_LEAN_PATH and (secure or not settings.SECURE_SSL_REDIRECT):
                body = lean.answer(environ)
                if body is not None:
                    start_response("201 Created", [*self._headers(environ, secure),
                                                   ("Content-Length", str(len(body)))])
                    return [body]
        return self.app(environ, start_response)

    def _path(self) -> str:
        if self.path is None:
            from django.urls import get_script_prefix, reverse

            # reverse() includes the script prefix, PATH_INFO does not.
            self.path = "/" + reverse("api:backups")[len(get_script_prefix()):]
        return self.path

    def _headers(self, environ, secure: bool) -> list[tuple[str, str]]:
        if secure not in self.headers:
            from django.conf import settings
            from django.core.handlers.wsgi import WSGIRequest
            from django.http import JsonResponse
            from django.middleware.security import SecurityMiddleware

            from drportal.front.middleware import CSP

            response = JsonResponse({}, status=201)
            SecurityMiddleware(lambda request: response).process_response(WSGIRequest(dict(environ)), response)
            response.headers.setdefault("Content-Security-Policy", CSP)
            response.headers.setdefault("X-Frame-Options", settings.X_FRAME_OPTIONS)
            self.headers[secure] = [(k, v) for k, v in response.items() if k.lower() != "content-length"]
        return self.headers[secure]


def is_secure(environ) -> bool:
    """HttpRequest.is_secure() for a WSGI environ, without building the request: the proxy's header when
    SECURE_PROXY_SSL_HEADER names one and it is present, else the WSGI scheme."""
    from django.conf import settings

    if settings.SECURE_PROXY_SSL_HEADER:
        header, secure_value = settings.SECURE_PROXY_SSL_HEADER
        value = environ.get(header)
        if value is not None:
            return value.split(",", 1)[0].strip() == secure_value
    return environ.get("wsgi.url_scheme") == "https"


application = IngestRoute(django_application)

# What start-up built (modules, URL patterns, models, settings) lives as long as the worker. Frozen, it is no
# longer walked by every full collection: those took 100-130 ms on a page view and were the pages' p95
# (bench/pages.py: /scenarios/runs/N/ median 35 ms, p95 170 ms before; no spike after).
gc.freeze()
