"""Demo data of the scenarios app (run by `manage.py load_demo`, idempotent): the plans' standing mitigations in
the register, each checked by its owner three weeks before the demo began, as a company using drportal would
have done. Without them every office scenario says "not in the register" on a fresh demo.

On a fresh demo, a month of drills too (DRILLS), so a manager sees a trend from the first minute: each one run
through the engine at its moment of the replayed month (clock.replaying), its automated steps by the jobs on the
simulated cloud as any drill's, its people's steps done by the demo's ops and manager accounts (PEOPLE_PACE
apart, said in the drill's notes). Nothing is written to the drill rows by hand: what the drills page shows is
what the runs did.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core.management import call_command

from drportal.audit import log as audit

ACTOR = "command:load_demo"
CHECKED_AGO = timedelta(days=21)
# (days before the demo began, scenario): a drill a week over the replayed month, two scenarios drilled twice.
DRILLS = [(27, "jivosoft-server-crash"), (24, "cybernance-redis-failover"), (20, "jivosoft-datacenter-offline"),
          (13, "cybernance-rds-primary-failure"), (9, "jivosoft-server-crash"), (6, "jivosoft-office-power-internet"),
          (2, "jivosoft-datacenter-offline")]
PEOPLE_PACE = timedelta(minutes=4)  # the time the demo's people take for each step that waits on them
DRILL_HOUR = 15  # UTC: mid-morning in Texas
MAX_ROUNDS = 60


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
    load_drills(now, stdout)


# ------------------------------------------------------------------------------------------ a month of drills

def reachable(spec: dict, start: list[str]) -> set[str]:
    """The steps a decision's option leads to, directly or through steps waiting on them."""
    found, todo = set(), list(start)
    while todo:
        step_id = todo.pop()
        if step_id not in found:
            found.add(step_id)
            todo += [s["id"] for s in spec["steps"] if step_id in s.get("after", [])]
    return found


def busiest_option(spec: dict, step_id: str) -> str:
    """The answer that leads to the most automated steps: the branch where the drill does real work."""
    from scenarios.choices import StepKind

    kinds = {s["id"]: s["kind"] for s in spec["steps"]}
    options = next(s for s in spec["steps"] if s["id"] == step_id)["options"]

    def work(option: dict) -> int:
        return sum(kinds[s] == StepKind.AUTOMATED for s in reachable(spec, option["next"]))

    return max(options, key=work)["value"]


def play_people(run, ops, manager) -> bool:
    """Do every step of `run` that waits on a person (ops completes, decides, ends waits and sends by hand what
    no channel sends; the manager approves); True if anything moved."""
    from scenarios import engine
    from scenarios.choices import StepKind, StepState

    moved = False
    for row in run.steps.filter(state__in=(StepState.READY, StepState.WAITING)).order_by("position", "item"):
        if row.kind == StepKind.MANUAL and row.state == StepState.READY:
            engine.complete_step(row.pk, ops, notes="done in the drill", evidence="drill ticket")
        elif row.kind == StepKind.DECISION and row.state == StepState.READY:
            engine.decide(row.pk, ops, busiest_option(run.spec, row.step_id))
        elif row.kind == StepKind.APPROVAL and row.state == StepState.READY:
            engine.approve(row.pk, manager, approved=True, notes="approved for the drill")
        elif row.kind == StepKind.WAIT:
            engine.end_wait(row.pk, ops, notes="the drill does not wait")
        elif row.kind == StepKind.NOTIFY and row.outputs.get("handover"):
            engine.complete_step(row.pk, ops, notes="sent by hand")
        else:
            continue
        moved = True
    return moved


def drain() -> None:
    """Run the engine's queued jobs here, to the end, with a non-forking worker: the drill's steps (and the staff
    notices of the same queue). The other queues wait for make run's worker (connection checks to real providers
    may take a minute to fail)."""
    import django_rq
    from rq import SimpleWorker

    from scenarios import jobs

    class InProcess(SimpleWorker):
        def subscribe(self) -> None:
            """No command channel: nobody sends commands to a worker that lives for one burst, and stopping its
            listener thread waits on the clock (forever when a test has frozen it)."""

    queue = django_rq.get_queue(jobs.QUEUE)
    InProcess([queue], connection=queue.connection).work(burst=True)


def drill_through(scenario, ops, manager):
    """One drill from start to end at the clock's moment: the jobs run the automated steps, the people theirs."""
    from drportal.lib import clock
    from scenarios import drills
    from scenarios.choices import RunState

    drill = drills.start_drill(scenario, ops)
    run = drill.run
    for _ in range(MAX_ROUNDS):
        drain()
        run.refresh_from_db()
        clock.advance(PEOPLE_PACE)
        if run.state != RunState.RUNNING or not play_people(run, ops, manager):
            break
    drain()
    drill.refresh_from_db()
    drill.notes = (f"Demo drill over the replayed month: the people's steps were done by the demo's ops and manager "
                   f"accounts, {PEOPLE_PACE.seconds // 60} minutes each.")
    drill.save(update_fields=["notes"])
    return drill


def load_drills(now: datetime, stdout=None) -> int:
    """On a fresh demo only (no drill yet): DRILLS, each at its moment of the replayed month."""
    from django.contrib.auth.models import User

    from drportal.lib import clock
    from scenarios import loader
    from scenarios.models import Drill

    if Drill.objects.exists():
        return 0
    ops, manager = User.objects.filter(username="ops").first(), User.objects.filter(username="manager").first()
    library = loader.library()
    done = 0
    for days, scenario_id in DRILLS:
        scenario = library.scenarios.get(scenario_id)
        if scenario is None or ops is None or manager is None:
            continue
        moment = (now - timedelta(days=days)).replace(hour=DRILL_HOUR, minute=0, second=0, microsecond=0)
        with clock.replaying(moment):
            drill_through(scenario, ops, manager)
        done += 1
    if stdout is not None:
        stdout.write(f"scenarios: {done} drills run over the replayed month, on the simulated cloud")
    return done
