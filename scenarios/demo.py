"""Demo data of the scenarios app (run by `manage.py load_demo`, idempotent): the plans' standing mitigations in
the register, each checked by its owner three weeks before the demo began, as a company using drportal would
have done. Without them every office scenario says "not in the register" on a fresh demo."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core.management import call_command

from drportal.audit import log as audit

ACTOR = "command:load_demo"
CHECKED_AGO = timedelta(days=21)


def load(now: datetime, stdout=None) -> None:
    from io import StringIO

    from scenarios.models import Mitigation

    call_command("load_mitigations", stdout=StringIO())
    checked = 0
    for item in Mitigation.objects.filter(last_checked_on__isnull=True).order_by("slug"):
        item.last_checked_on = (now - CHECKED_AGO).date()
        item.save(update_fields=["last_checked_on"])
        audit.record(ACTOR, "mitigation.checked", item, before={"last_checked_on": None},
                     after={"last_checked_on": item.last_checked_on.isoformat(), "demo": True})
        checked += 1
    if stdout is not None:
        stdout.write(f"scenarios: {Mitigation.objects.count()} standing mitigations in the register "
                     f"({checked} marked checked {CHECKED_AGO.days} days ago for the demo)")
