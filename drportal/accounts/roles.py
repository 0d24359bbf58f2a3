from __future__ import annotations

from django.contrib.auth.models import Group, User

from drportal.accounts.access import Role
from drportal.audit import log as audit


def grant(user: User, role: str, actor=None) -> None:
    """Give a user a role. Admins also get Django's admin site (is_staff, is_superuser)."""
    if role not in Role.values:
        raise ValueError(f"unknown role {role!r}; expected one of {', '.join(Role.values)}")
    group, _ = Group.objects.get_or_create(name=role)
    user.groups.add(group)
    if role == Role.ADMIN and not (user.is_staff and user.is_superuser):
        user.is_staff = user.is_superuser = True
        user.save(update_fields=["is_staff", "is_superuser"])
    audit.record(actor or "system", "user.role_granted", user, after={"role": role})
