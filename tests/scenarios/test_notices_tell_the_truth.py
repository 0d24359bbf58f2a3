"""Every notice a customer can receive, rendered with real facts: each seed scenario's customer notify step and
each default notice template, for every customer the incident hits, while the run's restore steps have
succeeded, failed, been skipped, been not applicable, left the run incomplete, or wait. None of them leaves an
empty placeholder, prints "None" or doubles a word; none says a database was restored, or that the service is
back, unless the rows say so; and every data-loss window it states is the one the backup records give, worked
out here from those records on their own: from the copy the restore used (or else the newest viable copy made
before the loss that survives it) to the moment the loss began."""

from __future__ import annotations

import re
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.db.models import Q

from backups.models import BackupRecord
from drportal.incidents import scope as incident_scope
from drportal.incidents import services as incidents
from drportal.inventory.models import Asset, Customer, Server, Zone
from drportal.lib import timefmt
from notifications import api, audience, notices
from notifications.choices import NoticeKind
from notifications.models import Notice
from scenarios import engine, loader
from scenarios.choices import RunState, StepState
from scenarios.notice_facts import RESTORE_ACTIONS
from tests.scenarios.test_incident_scope import DECLARED, named
from tests.scenarios.test_no_empty_placeholders import EMPTY

OUTCOMES = ("succeeded", "failed", "skipped", "not_applicable", "incomplete", "waiting")
# The return home names its way back by region: what it leaves is Kansas City, what it goes back to is home.
SCOPES = {**DECLARED, "jivosoft-return-home": {"regions": ["rackspace/dfw"]},
          "cybernance-return-home": {"regions": ["aws/us-east-1"]}}
WITH_CUSTOMER_NOTICES = sorted(
    s.id for s in loader.library().scenarios.values()
    if any(step["kind"] == "notify" and step.get("audience") == "customers" for step in s.steps))
DOUBLED = re.compile(r"\b([a-z]+)\s+\1\b", re.IGNORECASE)
LOSS_LINE = re.compile(r"^- (\S+): recoverable up to (\d{4}-\d\d-\d\d \d\d:\d\d) \w+; anything entered after that "
                       r"\(about ([^)]+)\)", re.MULTILINE)
RESTORED_LINE = re.compile(r"^- (\S+): restored from the copy of (\d{4}-\d\d-\d\d \d\d:\d\d) \w+\.", re.MULTILINE)


def test_every_seed_scenario_with_customer_notices_is_checked():
    assert set(WITH_CUSTOMER_NOTICES) <= set(SCOPES)
    assert {s.split("-")[0] for s in WITH_CUSTOMER_NOTICES} == {"jivosoft", "cybernance"}


@pytest.mark.django_db
@pytest.mark.parametrize("scenario_id", WITH_CUSTOMER_NOTICES)
def test_every_notice_states_only_what_the_rows_back(demo, alice, scenario_id):
    scenario = loader.library().get(scenario_id)
    impacted = {kind: named(kind, names) for kind, names in SCOPES[scenario_id].items()}
    # No public summary: the texts must read well on their own defaults too.
    incident = incidents.declare(alice, title=scenario.title, disaster_class=scenario.disaster_class,
                                 severity="sev1", public_summary="", impacted=impacted)
    run, _ = engine.start_run(incident, scenario, alice)
    customers = list(audience.affected_customers(incident))
    assert customers, "the incident hits customers, so there is something to tell"
    checked = 0
    for outcome in OUTCOMES:
        restores = set_restores(run, incident, outcome)
        for subject, body in texts(run):
            notice = Notice(incident=incident, kind=NoticeKind.RUNBOOK, subject=subject, body_text=body)
            renderer = notices.Renderer(notice, incident.loss_began_at)
            for customer in customers:
                rendered = renderer.render(customer)
                check(f"{outcome}/{customer.name}", rendered.subject, rendered.text, customer, incident, restores)
                checked += 1
    assert checked >= len(OUTCOMES) * len(customers) * 5


def texts(run) -> list[tuple[str, str]]:
    """Template sources, as a notice holds them: each customer notify step of the run, bound as the job binds
    it, then each default template."""
    out = []
    for row in run.steps.filter(kind="notify").order_by("position", "item"):
        if row.spec.get("audience") != "customers":
            continue
        names = {**run.bindings, "server": row.item}
        out.append(api.runbook_texts(engine.bind(row.spec["subject"], names), engine.bind(row.spec["body"], names)))
    return out + list(notices.DEFAULT_TEMPLATES.values())


def set_restores(run, incident, outcome: str) -> dict[str, tuple[str, object]]:
    """Put every restore step of the run in the outcome; returns database -> (state, point restored to)."""
    restore_ids = [s["id"] for s in run.spec["steps"] if s.get("action") in RESTORE_ACTIONS]
    rows = list(run.steps.filter(step_id__in=restore_ids).exclude(item="").order_by("item"))
    facts = {}
    run.state = RunState.INCOMPLETE if outcome == "incomplete" else RunState.RUNNING
    run.save(update_fields=["state"])
    for n, row in enumerate(rows):
        state = {"succeeded": StepState.SUCCEEDED, "failed": StepState.FAILED, "skipped": StepState.SKIPPED,
                 "not_applicable": StepState.NOT_APPLICABLE, "waiting": StepState.WAITING,
                 "incomplete": StepState.SUCCEEDED if n == 0 else StepState.NOT_APPLICABLE}[outcome]
        record = newest_surviving_copy(Asset.objects.get(name=row.item), incident)
        if state == StepState.SUCCEEDED and record is None:
            state = StepState.FAILED  # nothing to restore from: it cannot have succeeded
        row.state, row.outputs, row.action_state = state, {}, {}
        row.error = "no viable copy in the target region" if state == StepState.FAILED else ""
        row.skip_reason = {StepState.SKIPPED: "restored by hand from Cloud Files",
                           StepState.NOT_APPLICABLE: "no copy of it in the target region"}.get(state, "")
        if state == StepState.SUCCEEDED:
            row.outputs = {"backup": {"recovery_point": record.recovery_point.isoformat()}}
            row.action_state = {"record": {"id": record.pk}}
        row.save(update_fields=["state", "outputs", "action_state", "error", "skip_reason"])
        # A database handed over by one restore to another (the server crash's volume, then Cloud Storage) has
        # two rows: it is restored when either did it.
        if facts.get(row.item, (None,))[0] != StepState.SUCCEEDED:
            facts[row.item] = (state, record.recovery_point if state == StepState.SUCCEEDED else None)
    return facts


def newest_surviving_copy(asset, incident):
    """From the records alone: the newest viable copy made by the time the loss began that the loss did not
    take (not in a lost zone, nor at region level in a region with no zone left; not on a crashed server)."""
    scope = incident_scope.of(incident)
    began = incident.loss_began_at
    copies = (BackupRecord.objects.filter(asset=asset, viable=True, recovery_point__lte=began)
              .exclude(checksum_ok=False).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=began)))
    if scope.crashed_servers:
        crashed = Server.objects.filter(pk__in=scope.crashed_servers)
        return copies.exclude(container__in={s.name for s in crashed} | {s.provider_node_id for s in crashed
                                                                          if s.provider_node_id}) \
            .order_by("-recovery_point").first()
    up = Zone.objects.exclude(pk__in=scope.zones)
    return copies.filter(Q(zone__in=up) | Q(zone__isnull=True, region__in=up.values("region"))) \
        .order_by("-recovery_point").first()


def check(where: str, subject: str, text: str, customer: Customer, incident, restores: dict) -> None:
    for part in (subject, text):
        found = EMPTY.search(part) or DOUBLED.search(part) or re.search(r"\{\{|\{%|:\s*$", part, re.MULTILINE)
        assert not found, f"{where}: {found.group()!r} in {part!r}"
    words = re.findall(r"[a-z]+", subject.lower())
    assert len(set(pairwise(words))) == len(words) - 1, f"{where}: the subject repeats itself: {subject!r}"

    theirs = {name: restores[name] for name in customer.assets.values_list("name", flat=True) if name in restores}
    missing = [name for name, (state, _) in theirs.items() if state != StepState.SUCCEEDED]
    said_restored = {m.group(1): m.group(2) for m in RESTORED_LINE.finditer(text)}
    for name, point in said_restored.items():
        assert theirs[name][0] == StepState.SUCCEEDED, f"{where}: {name} said restored, its step is {theirs[name]}"
        assert point == local(theirs[name][1]), f"{where}: {name} restored to {point}, the row says {theirs[name]}"
    if "Your databases were restored" in text:
        assert theirs, f"{where}: databases said restored, but the run restored none of theirs"
        assert not missing, f"{where}: databases said restored, but {missing} were not"
    if re.search(r"Service restored|available again", subject + text):
        assert not missing, f"{where}: the service is said back, but {missing} are not restored"

    for name, point, lost in LOSS_LINE.findall(text):
        expected = (theirs[name][1] if name in theirs and theirs[name][1] else
                    newest_surviving_copy(Asset.objects.get(name=name), incident).recovery_point)
        assert point == local(expected), f"{where}: {name} recoverable up to {point}, the records say {expected}"
        assert lost == timefmt.duration(incident.loss_began_at - expected), f"{where}: {name} loses {lost}"


def local(moment) -> str:
    return moment.astimezone(ZoneInfo(settings.NOTIFY_TIME_ZONE)).strftime("%Y-%m-%d %H:%M")
