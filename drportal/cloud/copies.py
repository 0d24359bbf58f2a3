"""Where the cloud's recovery actions find the copies they restore from: the backups app's records.

provision_from_image chooses a server's system image and restore_database the newest viable dump of a database,
and both are core cloud actions other actions call, so the cloud cannot import backups (it sits above the cloud).
Backups fills this catalogue in its AppConfig.ready(); without it installed the actions say so instead of guessing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import QuerySet


@dataclass(frozen=True)
class Catalogue:
    images: Callable[[str], QuerySet]  # server name -> succeeded system-image records naming a provider image
    dumps: Callable[[object], QuerySet]  # asset -> its viable, succeeded records that name an object (key)
    account_of_container: Callable[[str], str | None]  # container -> name of the cloud account holding it


_catalogue: Catalogue | None = None


def register(catalogue: Catalogue) -> None:
    global _catalogue
    _catalogue = catalogue


def catalogue() -> Catalogue:
    if _catalogue is None:
        raise LookupError("no catalogue of backup copies is registered (is the backups app installed?)")
    return _catalogue
