"""Who may open what: the roles, the one list of public endpoints, and the decorator for staff views.

Access is deny-by-default. AccessMiddleware lets a request through only when
- the URL name is in PUBLIC_ENDPOINTS (each with the reason it is public), or
- its namespace has a rule in NAMESPACE_RULES (Django admin, the RQ dashboard), or
- the view carries `@roles(...)` and the signed-in user holds one of them.
A view with none of these answers 403 to everyone, and tests/accounts/test_role_matrix.py fails.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from django.db import models


class Role(models.TextChoices):
    OPS = "ops", "Operations"
    MANAGER = "manager", "Manager"
    SUPPORT = "support", "Support"
    ADMIN = "admin", "Administrator"


ALL_STAFF = (Role.OPS, Role.MANAGER, Role.SUPPORT, Role.ADMIN)

# The public endpoints, in one place. URL name -> why it needs no login.
PUBLIC_ENDPOINTS: dict[str, str] = {
    "healthz": "load balancers and monitors probe it without credentials",
    "login": "the sign-in page itself",
    "logout": "signing out needs no role",
    "status:index": "public status page for customers",
    "status:incident": "public status page for customers",
    "status:feed": "public status page (Atom) for customers",
    "status:subscribe": "public status page: sign up for e-mail updates (double opt-in)",
    "status:confirm": "status page subscription confirmation, authenticated by its signed, expiring link",
    "status:unsubscribe": "one-click unsubscribe from status e-mails, authenticated by its signed link",
    "notifications:checkin": "employee check-in link, authenticated by its signed token",
    "notifications:export-download": "customer data export, authenticated by its signed, expiring link",
    "api:backups": "token-authenticated ingestion API for backup agents",
    "api:rpo": "token-authenticated RPO API (session users with a staff role also allowed)",
    "api:alertmanager": "Alertmanager's webhook, authenticated by an API token holding the ops role",
    "api:incidents": "incident API: an API token acting as a user or a role, with the pages' roles",
    "api:incident": "incident API: an API token acting as a user or a role, with the pages' roles",
    "api:incident-run": "incident API: an API token acting as a user or a role, with the pages' roles",
    "api:runs": "run API: an API token acting as a user or a role, with the pages' roles",
    "api:run": "run API: an API token acting as a user or a role, with the pages' roles",
    "api:step-action": "run API: an API token acting as a user or a role, with the pages' roles",
    "api:openapi": "the API's contract (OpenAPI), for the agents and monitors that call it",
    "api:docs": "the API's contract as a page, for whoever writes an agent",
    "sso-start": "starts single sign-on at the identity provider (404 when SSO is not configured)",
    "sso-callback": "the identity provider returns here with a code checked by mozilla-django-oidc",
    "metrics": "Prometheus scrapes it with a bearer token of its own (METRICS_TOKEN)",
}

# Whole URL namespaces owned by third-party apps.
NAMESPACE_RULES: dict[str, frozenset[str]] = {
    "admin": frozenset({Role.ADMIN}),
    "django_rq": frozenset({Role.ADMIN}),
}

V = TypeVar("V", bound=Callable)


def roles(*allowed: str) -> Callable[[V], V]:
    """Mark a staff view with the roles that may open it. Admins may open every staff view."""
    granted = frozenset(allowed) | {Role.ADMIN}

    def mark(view: V) -> V:
        view.drportal_roles = granted  # type: ignore[attr-defined]
        return view

    return mark


def user_roles(user) -> frozenset[str]:
    if not user.is_authenticated or not user.is_active:
        return frozenset()
    cached = getattr(user, "_drportal_roles", None)
    if cached is None:
        names = {g.name for g in user.groups.all()}
        if user.is_superuser:
            names.add(Role.ADMIN)
        cached = frozenset(n for n in names if n in Role.values)
        user._drportal_roles = cached
    return cached


def has_role(user, *wanted: str) -> bool:
    held = user_roles(user)
    return Role.ADMIN in held or bool(held & set(wanted))
