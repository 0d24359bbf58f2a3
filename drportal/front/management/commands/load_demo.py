"""Demo data of both seed companies: inventories, users for each role, and each app's own demo history.

Idempotent: run it again and nothing is duplicated. Each feature app may provide `<app>/demo.py` with a
`load(now, stdout)` function; they run in order after the inventories.
"""

from __future__ import annotations

import importlib
import secrets
from pathlib import Path

import yaml
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand

from drportal.accounts.access import Role
from drportal.accounts.roles import grant
from drportal.lib import clock

INVENTORIES = Path(settings.BASE_DIR) / "inventories"
DEMO_APPS = ["backups", "drportal.cloud", "scenarios", "notifications"]
# Provider accounts the simulated cloud can stand in for: compute accounts (storage and DNS accounts are not).
STAND_IN_DRIVERS = ("rackspace", "aws", "ec2", "openstack")
SIM_LATENCY_S = 20  # long enough to watch "provisioning" on the run page, short enough for a demo
DEMO_USERS = {"ops": Role.OPS, "manager": Role.MANAGER, "support": Role.SUPPORT, "admin": Role.ADMIN}


def demo_password() -> str:
    path = Path(settings.VAR_DIR) / "demo_password"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(12))
        path.chmod(0o600)
    return path.read_text().strip()


def on_simulated_cloud(text: str) -> str:
    """The seed inventory as the demo runs it. We hold no Rackspace or AWS account here, so every compute
    account is served by the simulated cloud (drportal/cloud/adapters/simulated.py), with what it stands in for
    kept in its options: Rackspace cannot move an IP to a new server (the plan's words), AWS can. Without this
    the demo's readiness could only say that a real provider refused or could not be reached."""
    data = yaml.safe_load(text)
    providers = {p["slug"]: p for p in data.get("providers", [])}
    for account in data.get("accounts", []):
        if account.get("driver") not in STAND_IN_DRIVERS:
            continue
        provider = providers.get(account.get("provider"), {})
        zones = [z["slug"] for r in provider.get("regions", []) for z in r.get("zones", [])]
        sizes = sorted({s["size"] for s in data.get("servers", []) if s.get("account") == account["name"]
                        and s.get("size")})
        account.pop("credentials_env", None)
        account["options"] = {**(account.get("options") or {}), "stands_in_for": account["driver"],
                              "latency_s": SIM_LATENCY_S, "locations": ",".join(zones), "sizes": ",".join(sizes),
                              "floating_ips": provider.get("kind") != "rackspace"}
        account["driver"] = "simulated"
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


class Command(BaseCommand):
    help = "Load the demo data of both seed companies (idempotent) and print the demo logins."

    def handle(self, *args, **options):
        from drportal.inventory.importer import import_inventory

        for path in sorted(INVENTORIES.glob("*.yaml")):
            summary = import_inventory(on_simulated_cloud(path.read_text()), actor="command:load_demo",
                                       source=f"{path.name} (demo: on the simulated cloud)")
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
