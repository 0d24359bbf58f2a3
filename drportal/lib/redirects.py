"""The one way to follow a redirect target that came from a request (`next=` in a form or a query string).

A target is followed only when Django's url_has_allowed_host_and_scheme accepts it for this site (same host,
http(s) only, no `//evil.example`, no `javascript:`); anything else goes to the fallback, a URL name. Never
pass a request's value to redirect() directly: redirect() also reads a bare word as a URL name and raises
NoReverseMatch (a server error) when there is none.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import resolve_url
from django.utils.http import url_has_allowed_host_and_scheme


def is_safe(request: HttpRequest, target: str | None) -> bool:
    if not target or not isinstance(target, str) or "\x00" in target:
        return False
    return url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure())


def safe_target(request: HttpRequest, target: str | None, fallback: str, *args: Any, **kwargs: Any) -> str:
    """`target` when it is a safe URL on this site, else the URL of `fallback` (a URL name)."""
    return target if is_safe(request, target) else resolve_url(fallback, *args, **kwargs)


def redirect_back(request: HttpRequest, fallback: str, *args: Any, **kwargs: Any) -> HttpResponseRedirect:
    """Redirect to the request's `next` (POST, then GET) when safe, else to `fallback` (a URL name)."""
    target = request.POST.get("next") or request.GET.get("next")
    return HttpResponseRedirect(safe_target(request, target, fallback, *args, **kwargs))
