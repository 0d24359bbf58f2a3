from __future__ import annotations

from django.db import models

from drportal.incidents.choices import IncidentStatus


class ScopeLabel(models.TextChoices):
    """Which alert label names what is down, and what it is looked up as in the inventory."""

    REGION = "region", "Region (slug, or provider/slug)"
    ZONE = "zone", "Zone (slug, or provider/region/slug)"
    SERVER = "server", "Server (name)"
    NONE = "", "Nothing: the incident's scope is chosen by a person"


class ProposalState(models.TextChoices):
    PROPOSED = "proposed", "Proposed"
    DECLARED = "declared", "Declared"
    DISMISSED = "dismissed", "Dismissed"
    # The declared incident is over: a new alert of the same rule and scope proposes a new incident.
    ENDED = "ended", "Incident over"


OPEN_PROPOSAL_STATES = (ProposalState.PROPOSED, ProposalState.DECLARED)


# The incident list's ?status=: "open" (declared or responding), or one status.
INCIDENT_FILTERS = ("open", *IncidentStatus.values)
