"""The contract between the runbook engine (scenarios/) and recovery actions (drportal/cloud/actions/).

An action is idempotent: `execute` first reads the provider's real state and only then acts, so a retry
or a second worker never provisions twice. Long waits are not held in a worker: `execute` returns
`Outcome(done=False, poll_after=seconds)` and the engine calls it again later with the same
`StepContext` (including `state`, which the action may update to remember what it already did).

An action may also act on a batch: `execute_many(ctxs) -> list[Outcome | AdapterError]`, optional, answers
each context as `execute` would have (its Outcome, or the AdapterError it would have raised), in order, so a
fan-out's batch costs one round trip to the provider instead of one per server. The engine hands it the rows
of one job that use the action; if it raises, the engine executes that batch one by one with `execute`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass
class StepContext:
    idempotency_key: str            # stable for the step run: use it in provider-side names/tokens
    params: dict[str, Any]          # parameters bound from the scenario and the incident
    state: dict[str, Any]           # persisted between calls by the engine (JSON); the action may mutate it
    incident_id: int | None = None
    drill: bool = False             # drills run against the simulated cloud only
    log: list[str] = field(default_factory=list)  # lines shown on the step's page

    def say(self, line: str) -> None:
        self.log.append(line)


@dataclass
class Outcome:
    done: bool
    output: dict[str, Any] = field(default_factory=dict)
    poll_after: float = 0.0          # seconds before the engine calls execute again (when not done)
    handover: str = ""               # e.g. "dns_cutover": the provider cannot do this, hand over


class Action(Protocol):
    name: str
    title: str

    def plan(self, ctx: StepContext) -> list[str]:
        """What execute would do, in sentences, without doing it."""

    def execute(self, ctx: StepContext) -> Outcome:
        """Do (or continue) the work. Raises drportal.cloud.adapters.errors.AdapterError on failure."""


REGISTRY: dict[str, Action] = {}


def register(action: Action) -> Action:
    REGISTRY[action.name] = action
    return action
