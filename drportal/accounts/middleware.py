from __future__ import annotations

import zoneinfo

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import render
from django.utils import timezone

from drportal.accounts.access import NAMESPACE_RULES, PUBLIC_ENDPOINTS, user_roles


def forbidden(request, reason: str):
    response = render(request, "403.html", {"reason": reason}, status=403)
    # Tells the role-matrix test that the access layer refused, not the view (e.g. the audit admin).
    response.drportal_denied = True
    return response


class AccessMiddleware:
    """Deny by default; see drportal/accounts/access.py for the rules."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        match = request.resolver_match
        name = match.view_name if match else ""
        if name in PUBLIC_ENDPOINTS:
            return None
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        held = user_roles(request.user)
        namespace = match.namespaces[0] if match and match.namespaces else ""
        if namespace in NAMESPACE_RULES:
            allowed = NAMESPACE_RULES[namespace]
        else:
            allowed = getattr(view_func, "drportal_roles", None)
            if allowed is None:
                return forbidden(request, "This page has no access rule.")
        if held & allowed:
            return None
        return forbidden(request, "Your role does not allow this page.")


class UserTimezoneMiddleware:
    """Show times in the user's zone (profile), else the installation's display zone."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        name = settings.DISPLAY_TIME_ZONE
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            profile = getattr(user, "profile", None)
            if profile is not None and profile.time_zone:
                name = profile.time_zone
        try:
            timezone.activate(zoneinfo.ZoneInfo(name))
        except zoneinfo.ZoneInfoNotFoundError:
            timezone.activate(zoneinfo.ZoneInfo("UTC"))
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


# The URL names authenticated by a bearer token alone, each a PUBLIC_ENDPOINTS name. Value: True when the
# endpoint also accepts a staff session, so only requests carrying an Authorization header skip the chain.
TOKEN_ENDPOINTS: dict[str, bool] = {"api:backups": False, "api:rpo": True, "metrics": False}


class TokenApiMiddleware:
    """Token API requests go straight to their view. Sessions, CSRF, users, axes, messages, the user's time
    zone and the access layer do nothing for a request that carries its own bearer token, yet they cost
    more than the view (issue 3: ingestion at 500 events/s on two cores). Keyed by URL name: the paths are
    reversed from TOKEN_ENDPOINTS once. Placed after SecurityMiddleware (HTTPS redirect, HSTS) and
    DatabaseDownMiddleware, whose 503 it reproduces since a view called from here is outside its hook."""

    def __init__(self, get_response):
        from django.core.exceptions import ImproperlyConfigured

        missing = set(TOKEN_ENDPOINTS) - set(PUBLIC_ENDPOINTS)
        if missing:
            raise ImproperlyConfigured(f"token endpoints must be listed in PUBLIC_ENDPOINTS: {sorted(missing)}")
        self.get_response = get_response
        self.paths: dict[str, str] | None = None

    def _paths(self) -> dict[str, str]:
        if self.paths is None:
            from django.urls import get_script_prefix, reverse

            prefix = get_script_prefix()
            # reverse() includes the script prefix, path_info does not.
            self.paths = {"/" + reverse(name)[len(prefix):]: name for name in TOKEN_ENDPOINTS}
        return self.paths

    def __call__(self, request):
        name = self._paths().get(request.path_info)
        if name is None or (TOKEN_ENDPOINTS[name] and "HTTP_AUTHORIZATION" not in request.META):
            return self.get_response(request)
        from django.db import InterfaceError, OperationalError
        from django.urls import resolve

        from drportal.lib.answers import CSP, database_down

        match = resolve(request.path_info)
        request.resolver_match = match
        try:
            response = match.func(request, *match.args, **match.kwargs)
        except (OperationalError, InterfaceError) as exc:
            import logging

            logging.getLogger("drportal.front.middleware").warning("database unavailable: %s", type(exc).__name__)
            response = database_down()
        # The headers the skipped middleware would have set (CommonMiddleware's Content-Length spares the
        # client a chunked answer).
        if not response.streaming:
            response.headers.setdefault("Content-Length", str(len(response.content)))
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Frame-Options", settings.X_FRAME_OPTIONS)
        return response
