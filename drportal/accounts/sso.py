"""Single sign-on with OpenID Connect (mozilla-django-oidc), and the local password login beside it.

- Users are matched on the provider's `sub` (Profile.oidc_subject), never on a user name or e-mail address,
  so an account at the provider can never take over a local (break-glass) account of the same name.
- Roles come from the groups claim (OIDC_GROUPS_CLAIM) through OIDC_ROLE_MAP, at every sign-in: roles added
  and removed are written to the audit log. Someone with no mapped group is refused with a sentence, and an
  existing account of theirs loses its roles.
- PASSWORD_LOGIN: "all" (the default without SSO), "admins" (the default with SSO: the break-glass admin
  keeps a password) or "off". It is checked on every request too (get_user), so switching it off ends
  password sessions.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib import auth
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import User
from django.contrib.auth.views import LoginView
from django.db import IntegrityError, transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_POST
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from drportal.accounts.access import Role, user_roles
from drportal.accounts.models import Profile
from drportal.accounts.roles import set_roles
from drportal.audit import log as audit

logger = logging.getLogger(__name__)
REFUSAL_KEY = "sso_refused"


def enabled() -> bool:
    return bool(settings.OIDC_RP_CLIENT_ID)


def password_mode() -> str:
    return settings.PASSWORD_LOGIN or ("admins" if enabled() else "all")


def role_map() -> dict[str, str]:
    """{"dr-ops": "ops", ...} from OIDC_ROLE_MAP="dr-ops=ops,dr-managers=manager"."""
    pairs = (item.split("=", 1) for item in settings.OIDC_ROLE_MAP.split(",") if "=" in item)
    return {group.strip(): role.strip() for group, role in pairs if role.strip() in Role.values}


def roles_from(claims: dict) -> tuple[list[str], set[str]]:
    """(the groups the claim lists, the roles they map to)."""
    groups = claims.get(settings.OIDC_GROUPS_CLAIM) or []
    if isinstance(groups, str):
        groups = [groups]
    if not isinstance(groups, list):
        groups = []  # a provider sending an object here has no group we could map
    names = [g for g in groups if isinstance(g, str)]
    mapping = role_map()
    return names, {mapping[g] for g in names if g in mapping}


class PasswordBackend(ModelBackend):
    def user_can_authenticate(self, user) -> bool:
        mode = password_mode()
        if mode == "off" or not super().user_can_authenticate(user):
            return False
        return mode != "admins" or Role.ADMIN in user_roles(user)


class SsoBackend(OIDCAuthenticationBackend):
    def __init__(self, *args, **kwargs) -> None:
        if enabled():  # the parent reads the provider's endpoints, which exist only when SSO is configured
            super().__init__(*args, **kwargs)

    def authenticate(self, request, **kwargs):
        if not enabled() or request is None or "code" not in request.GET:
            return None
        return super().authenticate(request, **kwargs)

    def get_or_create_user(self, access_token, id_token, payload):
        claims = self.get_userinfo(access_token, id_token, payload)
        subject = str(claims.get("sub") or payload.get("sub") or "")
        if not subject:
            return None
        groups, roles = roles_from(claims)
        user = User.objects.filter(profile__oidc_subject=subject).first()
        actor = f"sso:{subject}"
        if not roles:
            self.refuse(user, claims, groups, actor)
            return None
        with transaction.atomic():
            if user is None:
                user = self.create_from(claims, subject, actor)
            self.refresh(user, claims)
            set_roles(user, roles, actor=actor)
            audit.record(actor, "user.sso_sign_in", user, after={"groups": groups, "roles": sorted(roles)})
        return user

    def create_from(self, claims: dict, subject: str, actor: str) -> User:
        base = str(claims.get("preferred_username") or claims.get("email") or subject)[:140]
        for attempt in range(100):
            name = base if attempt == 0 else f"{base}-{attempt}"
            try:
                with transaction.atomic():
                    user = User.objects.create_user(name, email=str(claims.get("email") or ""))
                    break
            except IntegrityError:
                continue  # a local account has this name: never reuse it
        else:
            raise RuntimeError(f"no free user name for {base!r}")
        user.set_unusable_password()
        user.save(update_fields=["password"])
        Profile.objects.update_or_create(user=user, defaults={"oidc_subject": subject})
        audit.record(actor, "user.created_by_sso", user, after={"username": user.username, "email": user.email})
        return user

    def refresh(self, user: User, claims: dict) -> None:
        fields = {"email": str(claims.get("email") or user.email), "first_name": str(claims.get("given_name") or
                  user.first_name)[:150], "last_name": str(claims.get("family_name") or user.last_name)[:150]}
        changed = {k: v for k, v in fields.items() if getattr(user, k) != v}
        if changed:
            User.objects.filter(pk=user.pk).update(**changed)

    def refuse(self, user: User | None, claims: dict, groups: list[str], actor: str) -> None:
        who = claims.get("email") or claims.get("preferred_username") or claims.get("sub")
        wanted = ", ".join(sorted(role_map())) or "(none configured)"
        listed = ", ".join(groups) if groups else "none"
        self.request.session[REFUSAL_KEY] = (
            f"You signed in as {who} at your identity provider, but none of your groups ({listed}) gives a role "
            f"in drportal. Ask an administrator to add you to one of these groups: {wanted}.")
        if user is not None:
            set_roles(user, set(), actor=actor)
        audit.record(actor, "user.sso_refused", user, after={"who": str(who), "groups": groups})


def login(request: HttpRequest) -> HttpResponse:
    refusal = request.session.pop(REFUSAL_KEY, "") if hasattr(request, "session") else ""
    mode = password_mode()
    if request.method == "POST" and mode == "off":
        return HttpResponse("Password sign-in is switched off here; use single sign-on.", status=403)
    context = {"sso_enabled": enabled(), "sso_name": settings.OIDC_PROVIDER_NAME, "sso_refused": refusal,
               "password_login": mode}
    return LoginView.as_view(redirect_authenticated_user=True, extra_context=context)(request)


def sso_start(request: HttpRequest) -> HttpResponse:
    if not enabled():
        raise Http404("Single sign-on is not configured (OIDC_RP_CLIENT_ID).")
    return OIDCAuthenticationRequestView.as_view()(request)


def sso_callback(request: HttpRequest) -> HttpResponse:
    if not enabled():
        raise Http404("Single sign-on is not configured (OIDC_RP_CLIENT_ID).")
    return OIDCAuthenticationCallbackView.as_view()(request)


@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    """Sign out here; after a single sign-on, also end the provider's session when it has an end-session
    endpoint, so the next "Sign in" asks again."""
    id_token = request.session.get("oidc_id_token")
    by_sso = request.session.get(auth.BACKEND_SESSION_KEY, "").endswith("SsoBackend")
    auth.logout(request)
    back = request.build_absolute_uri(reverse(settings.LOGOUT_REDIRECT_URL))
    if by_sso and settings.OIDC_OP_END_SESSION_ENDPOINT:
        query = {"post_logout_redirect_uri": back, "client_id": settings.OIDC_RP_CLIENT_ID}
        if id_token:
            query["id_token_hint"] = id_token
        return HttpResponseRedirect(f"{settings.OIDC_OP_END_SESSION_ENDPOINT}?{urlencode(query)}")
    return HttpResponseRedirect(back)
