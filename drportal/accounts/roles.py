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


def set_roles(user: User, roles: set[str], actor=None) -> bool:
    """Make the user's roles exactly `roles` (single sign-on applies the provider's groups at each sign-in).
    Admin also means Django's admin site; losing it takes that away. Returns whether anything changed; a
    change is audited with the roles before and after."""
    unknown = set(roles) - set(Role.values)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}; expected some of {', '.join(Role.values)}")
    held = set(user.groups.filter(name__in=Role.values).values_list("name", flat=True))
    if held == set(roles) and user.is_superuser == (Role.ADMIN in roles):
        return False
    user.groups.remove(*Group.objects.filter(name__in=held - set(roles)))
    user.groups.add(*[Group.objects.get_or_create(name=r)[0] for r in sorted(set(roles) - held)])
    admin = Role.ADMIN in roles
    if (user.is_staff, user.is_superuser) != (admin, admin):
        user.is_staff = user.is_superuser = admin
        user.save(update_fields=["is_staff", "is_superuser"])
    user.__dict__.pop("_drportal_roles", None)
    audit.record(actor or "system", "user.roles_changed", user, before={"roles": sorted(held)},
                 after={"roles": sorted(roles)})
    return True
