"""Demo data of the scenarios app (run by `manage.py load_demo`): the standing mitigations both seed plans count
on, in the register, so readiness checks them against something real. Idempotent (load_mitigations is)."""

from __future__ import annotations

from datetime import datetime

from django.core.management import call_command


def load(now: datetime, stdout=None) -> None:
    call_command("load_mitigations", stdout=stdout)
