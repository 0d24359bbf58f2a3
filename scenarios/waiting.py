"""The steps of a run that wait for a person: named at the top of the run page with who may act, and paged to
that role once a step has waited longer than its scenario allows (`page_waiting_after_minutes`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Q
from django.urls import reverse

from drportal.audit import log as audit
from drportal.lib import timefmt
from scenarios.choices import PERSON_KINDS, RunState, StepKind, StepState
from scenarios.models import StepRun

# When a scenario does not say: a person's step may wait this long before its role is paged.
DEFAULT_PAGE_AFTER_MINUTES = 15
ACTIVE = (RunState.RUNNING, RunState.FAILED, RunState.PAUSED)


@dataclass(frozen=True)
class Waiting:
    row: StepRun
    role: str
    what: str
    verb: str
    since: datetime

    def waited(self, now: datetime) -> timedelta:
        return now - self.since


def role_for(row: StepRun) -> str:
    """The role whose members may act on the step (admins may act on every step too)."""
    spec = row.spec
    if row.kind == StepKind.APPROVAL:
        return spec.get("approver_role", "manager")
    if row.kind == StepKind.MANUAL:
        return spec.get("assignee_role", "ops")
    return "ops"


def of(row: StepRun) -> Waiting | None:
    """What the step waits for, if for a person."""
    since = row.ready_at or row.started_at
    if since is None:
        return None
    if row.state == StepState.READY and row.kind in PERSON_KINDS:
        what, verb = {
            StepKind.MANUAL: ("someone to do it and mark it done", "Do it"),
            StepKind.DECISION: ("a decision", "Decide"),
            StepKind.APPROVAL: ("an approval", "Approve or refuse"),
        }[row.kind]
        return Waiting(row, role_for(row), what, verb, since)
    if row.state == StepState.WAITING and row.kind == StepKind.NOTIFY and row.outputs.get("handover"):
        return Waiting(row, "ops", "the notice to be sent by hand, then marked done", "Send it", since)
    if row.state == StepState.WAITING and row.kind == StepKind.WAIT and row.spec.get("condition"):
        return Waiting(row, "ops", f"someone to confirm: {row.spec['condition']}", "End the wait", since)
    return None


def for_rows(rows: list[StepRun]) -> list[Waiting]:
    """The run's steps waiting for a person, longest-waiting first (no query: the rows are loaded)."""
    found = [w for w in (of(r) for r in rows) if w is not None]
    return sorted(found, key=lambda w: w.since)


def who_may_act(waiting: list[Waiting]) -> dict[str, list[str]]:
    """role -> the active users holding it (admins may act on any step), one query; {} when nothing waits."""
    from django.contrib.auth.models import User

    if not waiting:
        return {}
    roles = {w.role for w in waiting} | {"admin"}
    names: dict[str, list[str]] = {}
    for username, role in (User.objects.filter(is_active=True, groups__name__in=roles)
                           .order_by("username").values_list("username", "groups__name")):
        names.setdefault(role, []).append(username)
    return names


def page_after(row: StepRun) -> timedelta:
    minutes = row.run.spec.get("page_waiting_after_minutes", DEFAULT_PAGE_AFTER_MINUTES)
    return timedelta(minutes=minutes)


def page_key(w: Waiting) -> str:
    # One page per wait: a step that becomes ready again (a retry) is a new wait and may be paged again.
    return f"waiting:{w.row.idempotency_key}:{w.since.isoformat()}"[:200]


def page_waiting(now: datetime) -> int:
    """Scheduler task (every minute): page the role of each step that has waited for a person longer than its
    scenario allows, once per wait. The StaffPage row's unique dedupe key is the claim: a second scheduler,
    or the next minute, pages nobody twice. Returns how many were paged."""
    from notifications.api import notify_staff
    from notifications.models import StaffPage

    candidates = (StepRun.objects.select_related("run")
                  .filter(run__state__in=ACTIVE)
                  .filter(Q(state=StepState.READY, kind__in=PERSON_KINDS)
                          | Q(state=StepState.WAITING, kind__in=(StepKind.NOTIFY, StepKind.WAIT))))
    due = [w for w in (of(r) for r in candidates) if w is not None and w.waited(now) >= page_after(w.row)]
    done = set(StaffPage.objects.filter(dedupe_key__in=[page_key(w) for w in due]).values_list("dedupe_key",
                                                                                              flat=True))
    paged = 0
    for w in due:
        key = page_key(w)
        if key in done:
            continue
        link = reverse("scenarios:run", args=[w.row.run_id])
        notify_staff(role=w.role, dedupe_key=key, link=_url(link),
                     subject=("Drill: " if w.row.run.drill else "")
                     + f"Waiting for {w.role} for {timefmt.duration(w.waited(now))}: {w.row.title}",
                     body=f"Run #{w.row.run_id} ({w.row.run.scenario_title}) waits for {w.what}.")
        audit.record("job:scenarios.page_waiting", "scenario_step.waiting_paged", w.row,
                     after={"role": w.role, "waited_seconds": int(w.waited(now).total_seconds())})
        paged += 1
    return paged


def _url(path: str) -> str:
    from django.conf import settings

    return settings.SITE_URL.rstrip("/") + path
