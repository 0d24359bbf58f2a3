"""What the public status page may say about an incident. Only three sources are public: the incident's
public_summary, the public names of affected services, and StatusUpdate texts. Titles, internal summaries,
server names, addresses and DNS names never reach these dictionaries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Prefetch, QuerySet

from drportal.incidents.choices import IncidentStatus, Severity
from drportal.incidents.models import Incident
from drportal.inventory.models import Service
from notifications.models import StatusUpdate

PAST_DAYS = 90


@dataclass
class PublicUpdate:
    at: datetime
    body: str


@dataclass
class PublicIncident:
    pk: int
    headline: str
    status: str
    status_label: str
    started_at: datetime
    resolved_at: datetime | None
    services: list[str]
    updates: list[PublicUpdate]

    @property
    def is_current(self) -> bool:
        return self.resolved_at is None


def visible() -> QuerySet[Incident]:
    # Drills and internal-only incidents (offices, staff) are not the customers' business.
    return Incident.objects.filter(is_drill=False).exclude(severity=Severity.SEV3)


def current_and_past(now: datetime) -> tuple[list[PublicIncident], list[PublicIncident]]:
    open_states = [IncidentStatus.DECLARED, IncidentStatus.RESPONDING]
    current = visible().filter(status__in=open_states).order_by("-declared_at")
    past = (
        visible().exclude(status__in=open_states).filter(declared_at__gte=now - timedelta(days=PAST_DAYS))
        .order_by("-declared_at")[:50]
    )
    current, past = list(with_updates(current)), list(with_updates(past))
    services = public_services(current + past)
    return [to_public(i, services[i.pk]) for i in current], [to_public(i, services[i.pk]) for i in past]


def with_updates(qs: QuerySet[Incident]) -> QuerySet[Incident]:
    return qs.prefetch_related(
        Prefetch("status_updates", queryset=StatusUpdate.objects.order_by("-posted_at")),
    )


def public_services(incidents: list[Incident]) -> dict[int, list[str]]:
    """Public names of the services each incident touches, from each incident's resolved scope
    (drportal.incidents.scope): one query for any number of incidents."""
    from drportal.incidents import scope as incident_scope

    scopes = {i.pk: set(incident_scope.of(i).services) for i in incidents}
    wanted = set().union(*scopes.values()) if scopes else set()
    names = dict(Service.objects.filter(pk__in=wanted).exclude(public_name="").values_list("pk", "public_name")) \
        if wanted else {}
    return {pk: sorted({names[s] for s in ids if s in names}) for pk, ids in scopes.items()}


def to_public(incident: Incident, services: list[str] | None = None) -> PublicIncident:
    resolved = incident.recovered_at or incident.closed_at
    if incident.status in (IncidentStatus.DECLARED, IncidentStatus.RESPONDING):
        resolved = None
    label = {IncidentStatus.DECLARED: "Investigating", IncidentStatus.RESPONDING: "Recovering"}.get(
        incident.status, "Resolved")
    return PublicIncident(
        pk=incident.pk,
        headline=(incident.public_summary.strip().splitlines() or ["Service disruption"])[0],
        status=incident.status,
        status_label=label,
        started_at=incident.declared_at,
        resolved_at=resolved,
        services=public_services([incident])[incident.pk] if services is None else services,
        updates=[PublicUpdate(u.posted_at, u.body) for u in incident.status_updates.all()],
    )


@dataclass
class PublicMaintenance:
    pk: int
    title: str
    body: str
    starts_at: datetime
    ends_at: datetime
    services: list[str]
    created_at: datetime

    def in_progress(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at


def maintenance_windows(now: datetime) -> list[PublicMaintenance]:
    """Windows not yet over and not cancelled, soonest first: two queries (windows, their public services)."""
    from notifications.models import Maintenance

    rows = (Maintenance.objects.filter(ends_at__gt=now, cancelled_at__isnull=True).order_by("starts_at")
            .prefetch_related(Prefetch("services", queryset=Service.objects.exclude(public_name="")))[:50])
    return [PublicMaintenance(m.pk, m.title, m.body, m.starts_at, m.ends_at,
                              sorted(s.public_name for s in m.services.all()), m.created_at) for m in rows]
