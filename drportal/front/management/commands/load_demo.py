"""Demo data of both seed companies: inventories, users for each role, and each app's own demo history.

Idempotent: run it again and nothing is duplicated. Each feature app may provide `<app>/demo.py` with a
`load(now, stdout)` function; they run in order after the inventories.
"""

from __future__ import annotations

import importlib
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand

from drportal.accounts.access import Role
from drportal.accounts.roles import grant
from drportal.lib import clock

INVENTORIES = Path(settings.BASE_DIR) / "inventories"
DEMO_APPS = ["backups", "drportal.cloud", "scenarios", "notifications"]
DEMO_USERS = {"ops": Role.OPS, "manager": Role.MANAGER, "support": Role.SUPPORT, "admin": Role.ADMIN}


def demo_password() -> str:
    path = Path(settings.VAR_DIR) / "demo_password"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(12))
        path.chmod(0o600)
    return path.read_text().strip()


class Command(BaseCommand):
    help = "Load the demo data of both seed companies (idempotent) and print the demo logins."

    def handle(self, *args, **options):
        from drportal.inventory.importer import import_inventory

        for path in sorted(INVENTORIES.glob("*.yaml")):
            summary = import_inventory(path.read_text(), actor="command:load_demo", source=path.name)
            self.stdout.write(f"inventory {path.name}: {summary}")

        password = demo_password()
        for username, role in DEMO_USERS.items():
            user, created = User.objects.get_or_create(
                username=username, defaults={"email": f"{username}@example.test"}
            )
            if created:
                user.set_password(password)
                user.save()
                grant(user, role, actor="command:load_demo")

        now = clock.now()
        for app in DEMO_APPS:
            try:
                module = importlib.import_module(f"{app}.demo")
            except ModuleNotFoundError:
                continue
            module.load(now=now, stdout=self.stdout)

        self.stdout.write(self.style.SUCCESS(
            "\nDemo logins (password for all four): " + password
            + "\n  ops      — declares incidents and runs runbooks"
            + "\n  manager  — compliance, drills, approvals"
            + "\n  support  — customers and notices"
            + "\n  admin    — everything, users and inventory import"
        ))
