"""Recovery actions. Each module registers its actions in base.REGISTRY when imported; load_all() imports
them all (CloudConfig.ready calls it, so the registry is full whenever Django is set up)."""

from __future__ import annotations

MODULES = ["provision", "ip", "dns", "database", "deployment", "loadbalancer", "failover", "offsite", "repository",
           "retire"]


def load_all() -> None:
    import importlib

    for module in MODULES:
        importlib.import_module(f"drportal.cloud.actions.{module}")
