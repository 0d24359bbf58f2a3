"""API tokens: issued once (only the digest is kept), bound to a user or to a role."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction
from django.http import HttpRequest
from django.utils.text import slugify

from drportal.accounts.roles import grant
from drportal.audit import log as audit
from drportal.lib import clock
from drportal.opsapi.models import ApiToken


def issue(name: str, *, created_by, user: User | None = None, role: str = "") -> tuple[ApiToken, str]:
    """(row, raw token); `created_by` is a user, or a label for the audit log (a command). A role token gets a
    service user of its own holding the role (never able to sign in), so what it does is recorded under a name
    that says which token did it."""
    if (user is None) == (not role):
        raise ValueError("a token is bound to a user or to a role, not both and not neither")
    raw = ApiToken.new_raw()
    with transaction.atomic():
        if role:
            user = User.objects.create_user(f"token-{slugify(name)[:40]}-{raw[4:10].lower()}", email="")
            user.set_unusable_password()
            user.save(update_fields=["password"])
            grant(user, role)
        token = ApiToken.objects.create(name=name, digest=ApiToken.digest_of(raw), prefix=raw[:10], user=user,
                                        role=role, created_by=created_by if isinstance(created_by, User) else None,
                                        created_at=clock.now())
        audit.record(created_by, "api_token.issued", token,
                     after={"name": name, "prefix": token.prefix, "user": user.username, "role": role})
    return token, raw


def revoke(token: ApiToken, actor) -> bool:
    if ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=clock.now()):
        audit.record(actor, "api_token.revoked", token, before={"revoked_at": None})
        return True
    return False


def user_for(request: HttpRequest) -> User | None:
    """The user a request's bearer token acts as, or None (no, unknown, revoked token, or an inactive user)."""
    header = request.headers.get("Authorization", "")
    scheme, _, raw = header.partition(" ")
    if scheme.lower() != "bearer" or not raw.strip().startswith("dra_") or len(raw) > 200:
        return None
    token = (ApiToken.objects.select_related("user").filter(digest=ApiToken.digest_of(raw.strip()),
                                                            revoked_at__isnull=True).first())
    if token is None or not token.user.is_active:
        return None
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=clock.now())
    return token.user
