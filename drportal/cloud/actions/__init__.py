"""Recovery actions. Each module registers its actions in base.REGISTRY when imported; load_all() imports
them all (CloudConfig.ready calls it, so the registry is full whenever Django is set up)."""

from __future__ import annotations

# reconfigure_offsite and restore_repository act on backups and live there (backups/actions/, registered by
# BackupsConfig.ready), so this layer never imports backups for them.
MODULES = ["provision", "ip", "dns", "database", "deployment", "loadbalancer", "failover", "retire"]


def load_all() -> None:
    import importlib

    for module in MODULES:
        importlib.import_module(f"drportal.cloud.actions.{module}")
