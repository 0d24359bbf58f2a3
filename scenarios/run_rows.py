"""The run page's table, readable when a zone-wide class fans a step out over hundreds of servers: a step with
more rows than GROUP_AT is one line with its rows counted by state, followed by the rows that need someone
(failed, or waiting for a person) and a link that shows all of them. Built from the rows the page already
read, so grouping costs no query."""

from __future__ import annotations

from dataclasses import dataclass, field

from scenarios import engine
from scenarios.choices import PERSON_KINDS, StepState
from scenarios.models import Run, StepRun

# More rows than this for one step, and the step is shown as one line with counts.
GROUP_AT = 10
# At most this many of a grouped step's rows that need someone are listed under its line.
SHOWN_PER_GROUP = 10
# At most this many failed or unrecovered rows are named in the sentences above the table.
NAMED_AT_TOP = 10


@dataclass
class Group:
    step_id: str
    title: str
    total: int
    states: list[tuple[str, int]]
    shown: list[StepRun] = field(default_factory=list)
    needing: int = 0

    @property
    def hidden(self) -> int:
        return self.needing - len(self.shown)


def needs_someone(row: StepRun) -> bool:
    return row.state == StepState.FAILED or (row.state == StepState.READY and row.kind in PERSON_KINDS) or (
        row.state == StepState.WAITING and bool(row.outputs.get("handover")))


def table(run: Run, rows: list[StepRun], show: str = "") -> list[StepRun | Group]:
    """The rows in order, each step's own rows in place; a step with more than GROUP_AT rows (other than the
    one named by `show`) as a Group."""
    by_step: dict[str, list[StepRun]] = {}
    for row in rows:
        by_step.setdefault(row.step_id, []).append(row)
    specs = {s["id"]: s for s in run.spec["steps"]}
    out: list[StepRun | Group] = []
    for step_id, step_rows in by_step.items():
        if len(step_rows) <= GROUP_AT or step_id == show:
            out += step_rows
            continue
        counts: dict[str, int] = {}
        for row in step_rows:
            counts[row.get_state_display().lower()] = counts.get(row.get_state_display().lower(), 0) + 1
        needing = [r for r in step_rows if needs_someone(r)]
        title = engine.plain_title(specs[step_id], run.bindings) if step_id in specs else step_rows[0].title
        out.append(Group(step_id=step_id, title=title, total=len(step_rows),
                         states=sorted(counts.items(), key=lambda kv: -kv[1]),
                         shown=needing[:SHOWN_PER_GROUP], needing=len(needing)))
    return out


def shown_step(run: Run, requested: str) -> str:
    """The step the page is asked to show in full, if the run has it ("" otherwise)."""
    return requested if any(s["id"] == requested for s in run.spec["steps"]) else ""

