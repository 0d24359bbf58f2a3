"""What a recovery really did, as notices may state it: for each customer, each of their databases a run was
to restore, restored (to which point) or not (and why). The notifications app does not know runs: the app
that runs them registers a provider here (scenarios, in its AppConfig.ready), the pattern of a lower layer
speaking upward through a hook."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from drportal.incidents.models import Incident


@dataclass(frozen=True)
class RestoreFact:
    asset: str
    restored: bool
    point: datetime | None  # the recovery point of the copy it was restored from
    why: str = ""  # when not restored: the step's reason, error or state

    def as_context(self) -> dict:
        return {"asset": self.asset, "restored": self.restored, "point": self.point, "why": self.why}


# incident -> {customer id: [RestoreFact]}
PROVIDERS: list[Callable[[Incident], dict[int, list[RestoreFact]]]] = []


def register(provider: Callable[[Incident], dict[int, list[RestoreFact]]]) -> None:
    if provider not in PROVIDERS:
        PROVIDERS.append(provider)


def restores(incident: Incident) -> dict[int, list[RestoreFact]]:
    out: dict[int, list[RestoreFact]] = {}
    for provider in PROVIDERS:
        for customer_id, facts in provider(incident).items():
            out.setdefault(customer_id, []).extend(facts)
    return out
