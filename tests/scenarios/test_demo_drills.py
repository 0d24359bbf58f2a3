"""A fresh demo has a month of drills to show a trend, and every drill it shows was run: through the engine, on the
simulated cloud, with its incident, its run and its steps, at its moment of the replayed month."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse

from drportal.audit.models import AuditEvent
from scenarios import demo
from scenarios.choices import RunState, StepState
from scenarios.models import Drill

pytestmark = pytest.mark.django_db(transaction=True)

THURSDAY = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)
DONE = {StepState.SUCCEEDED, StepState.SKIPPED}


@pytest.fixture
def fresh_demo(users):
    with time_machine.travel(THURSDAY):
        call_command("load_demo", stdout=StringIO())
        yield


def test_a_fresh_demo_has_a_drill_a_week_over_the_replayed_month(fresh_demo):
    started = sorted(Drill.objects.values_list("started_at", flat=True))

    assert len(started) == len(demo.DRILLS)
    assert started[0] < THURSDAY - timedelta(days=21)  # the first one more than three weeks back
    assert started[-1] < THURSDAY
    assert max(b - a for a, b in itertools.pairwise(started)) <= timedelta(days=7)


def test_every_drill_shown_was_run_through_the_engine_with_its_run_rows(fresh_demo, client_as):
    page = client_as("mona").get(reverse("scenarios:drills")).content.decode()
    shown = [int(pk) for pk in re.findall(r'href="/scenarios/runs/(\d+)/"', page)]

    assert len(shown) == len(demo.DRILLS)
    for drill in Drill.objects.filter(run_id__in=shown).select_related("run__incident"):
        run = drill.run
        steps = list(run.steps.all())
        assert steps, drill
        assert {s.state for s in steps} <= DONE, [(s.step_id, s.state) for s in steps]
        assert run.state == RunState.SUCCEEDED
        assert run.drill
        assert run.incident.is_drill
        assert drill.started_at == run.started_at
        assert run.started_at - run.incident.declared_at < timedelta(seconds=1)  # declared, then started
        assert drill.finished_at == run.finished_at > drill.started_at
        # The automated steps ran as jobs on the simulated cloud, each leaving its log.
        assert all(s.log for s in steps if s.kind == "automated" and s.state == StepState.SUCCEEDED)
        assert AuditEvent.objects.filter(action="scenario_run.started", object_id=str(run.pk)).exists()
        # What could have been restored at the drill's moment, never a copy taken after it.
        assert drill.recovery_point is None or drill.recovery_point <= drill.started_at
        assert "Demo drill over the replayed month" in drill.notes


def test_loading_the_demo_again_runs_no_more_drills(fresh_demo):
    with time_machine.travel(THURSDAY + timedelta(hours=1)):
        call_command("load_demo", stdout=StringIO())

    assert Drill.objects.count() == len(demo.DRILLS)
