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
# The object storage a compute account's key also reads, which the demo stands in for with a local store.
STORAGE_STAND_INS = {"rackspace": "cloudfiles"}
SIM_LATENCY_S = 20  # long enough to watch "provisioning" on the run page, short enough for a demo
DEMO_USERS = {"ops": Role.OPS, "manager": Role.MANAGER, "support": Role.SUPPORT, "admin": Role.ADMIN}


def demo_password() -> str:
    path = Path(settings.VAR_DIR) / "demo_password"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(12))
        path.chmod(0o600)
    return path.read_text().strip()


def on_simulated_cloud(text: str, standin_port: int | None = None, storage: Path | None = None) -> str:
    """The seed inventory as the demo runs it. We hold no Rackspace or AWS account here, so the servers of every
    compute account are moved to a stand-in, "<account>-demo", served by the simulated cloud
    (drportal/cloud/adapters/simulated.py), with what it stands in for kept in its options: Rackspace cannot move
    an IP to a new server (the plan's words), AWS can. New nodes get loopback addresses (127.18.x.y), where a
    replacement database server gets a PostgreSQL of its own (drportal.lib.standin_pg, port `standin_port`).

    With `storage`, the Cloud Files a Rackspace account reads with the same key are stood in for too: a local
    store under that directory ("<account>-files-demo", libcloud's local driver), which every customer database
    names for its dumps (backups/demo.py writes real pg_dump files there). The real account stays as the
    seed has it. Without this the demo's readiness could only say that a real provider refused or could not be
    reached, and a restore could only fail."""
    data = yaml.safe_load(text)
    providers = {p["slug"]: p for p in data.get("providers", [])}
    stand_ins, files = [], {}
    for account in data.get("accounts", []):
        if account.get("driver") not in STAND_IN_DRIVERS:
            continue
        servers = [s for s in data.get("servers", []) if s.get("account") == account["name"]]
        if not servers:
            continue
        provider = providers.get(account.get("provider"), {})
        zones = [z["slug"] for r in provider.get("regions", []) for z in r.get("zones", [])]
        sizes = sorted({s["size"] for s in servers if s.get("size")})
        name = f"{account['name']}-demo"
        stand_ins.append({"name": name, "provider": account["provider"], "driver": "simulated", "options": {
            "stands_in_for": account["driver"], "latency_s": SIM_LATENCY_S, "locations": ",".join(zones),
            "sizes": ",".join(sizes), "floating_ips": provider.get("kind") != "rackspace",
            "private_network": "127.18"}})
        for server in servers:
            server["account"] = name
        if storage is not None and account["driver"] in STORAGE_STAND_INS:
            files[account["name"]] = f"{account['name']}-files-demo"
            stand_ins.append({"name": files[account["name"]], "provider": account["provider"], "driver": "local",
                              "options": {"path": str(storage / account["name"]),
                                          "stands_in_for": STORAGE_STAND_INS[account["driver"]]}})
    databases = [*data.get("assets", []), *(d for c in data.get("customers", []) for d in c.get("databases", []))]
    for database in databases:
        if not any(where.get("account") in files for where in database.get("dumps", [])):
            continue
        database["dumps"] = [{**where, "account": files.get(where["account"], where["account"])}
                             for where in database["dumps"]]
        if standin_port and database.get("restore") and not database["restore"].get("host"):
            database["restore"] = {**database["restore"], "port": standin_port}
    data["accounts"] = [*data.get("accounts", []), *stand_ins]
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


class Command(BaseCommand):
    help = "Load the demo data of both seed companies (idempotent) and print the demo logins."

    def handle(self, *args, **options):
        from drportal.inventory.importer import import_inventory
        from drportal.lib import standin_pg

        # Where a restore finds the replacements' PostgreSQL (manage.py serve_standin_databases starts one per
        # replacement), and the Cloud Files stand-in.
        port = standin_pg.node_port()
        storage = standin_pg.demo_dir() / "demo-storage"
        for path in sorted(INVENTORIES.glob("*.yaml")):
            summary = import_inventory(on_simulated_cloud(path.read_text(), port, storage), actor="command:load_demo",
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
