from __future__ import annotations

from drportal.accounts.access import Role, user_roles


def roles(request) -> dict:
    held = user_roles(request.user) if hasattr(request, "user") else frozenset()
    is_admin = Role.ADMIN in held
    return {
        "user_roles": held,
        "is_ops": is_admin or Role.OPS in held,
        "is_manager": is_admin or Role.MANAGER in held,
        "is_support": is_admin or Role.SUPPORT in held,
        "is_admin": is_admin,
    }
