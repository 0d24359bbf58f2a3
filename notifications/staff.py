"""Staff side of an incident: paging key personnel, the call-forwarding list, employee check-ins."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.db.models import Q, QuerySet
from django.urls import reverse

from drportal.incidents.choices import DisasterClass
from drportal.incidents.models import Incident
from drportal.inventory.models import Person
from notifications.api import notify_staff, page
from notifications.choices import Channel
from notifications.models import CheckIn

OFFICE_CLASSES = frozenset({DisasterClass.OFFICE_POWER_INTERNET, DisasterClass.OFFICE_DESTROYED})
CHECKIN_SALT = "notifications.checkin"
CHECKIN_MAX_AGE = timedelta(days=getattr(settings, "CHECKIN_LINK_DAYS", 7))


def on_incident_declared(incident_id: int) -> None:
    """Hook for the incidents declare flow (call it in transaction.on_commit): page key personnel and ops,
    and for office disasters send every employee of the impacted offices a check-in link."""
    page_key_personnel(incident_id)
    send_checkin_links(incident_id)


def page_key_personnel(incident_id: int):

    incident = Incident.objects.get(pk=incident_id)
    people = Person.objects.filter(is_key_personnel=True).order_by("call_forwarding_order", "name")
    recipients: list[tuple[str, str]] = []
    for person in people:
        recipients.append((Channel.EMAIL, person.email))
        if person.phone:
            recipients.append((Channel.SMS, _digits(person.phone)))
    link = settings.SITE_URL.rstrip("/") + reverse("incidents:detail", args=[incident.pk])
    subject = f"[{incident.get_severity_display()[:4]}] Incident #{incident.pk} declared: {incident.title}"
    body = f"{incident.get_disaster_class_display()}. Declared by {incident.declared_by}."
    notify_staff(role="ops", subject=subject, body=body, link=link, dedupe_key=f"incident:{incident.pk}:ops")
    return page(dedupe_key=f"incident:{incident.pk}:key-personnel", subject=subject, body=body, link=link,
                recipients=recipients, incident=incident)


def call_forwarding_list(incident: Incident | None = None) -> QuerySet[Person]:
    """People office calls forward to, in order; for an incident, those of its offices first-hand (people
    with no office are included: they are reachable wherever the office is)."""
    people = Person.objects.filter(call_forwarding_order__isnull=False)
    if incident is not None and incident.impacted_offices.exists():
        people = people.filter(Q(office__in=incident.impacted_offices.all()) | Q(office__isnull=True))
    return people.select_related("office").order_by("call_forwarding_order", "name")


def is_office_incident(incident: Incident) -> bool:
    return incident.disaster_class in OFFICE_CLASSES or incident.impacted_offices.exists()


def employees(incident: Incident) -> QuerySet[Person]:
    offices = incident.impacted_offices.all()
    people = Person.objects.filter(office__in=offices) if offices.exists() else Person.objects.all()
    return people.select_related("office").order_by("name")


def checkin_token(incident_id: int, person_id: int) -> str:
    return signing.dumps({"i": incident_id, "p": person_id}, salt=CHECKIN_SALT, compress=True)


def read_checkin_token(token: str) -> tuple[int, int]:
    """(incident id, person id); raises signing.SignatureExpired or signing.BadSignature."""
    data = signing.loads(token, salt=CHECKIN_SALT, max_age=CHECKIN_MAX_AGE)
    return int(data["i"]), int(data["p"])


def checkin_url(incident_id: int, person_id: int) -> str:
    path = reverse("notifications:checkin", args=[checkin_token(incident_id, person_id)])
    return settings.SITE_URL.rstrip("/") + path


def send_checkin_links(incident_id: int):
    incident = Incident.objects.get(pk=incident_id)
    if not is_office_incident(incident):
        return None
    people = list(employees(incident))
    bodies = {
        p.email: (f"Hello {p.name},\n\nPlease tell us where you can work from and whether you have power and "
                  f"Internet there:\n{checkin_url(incident.pk, p.pk)}\n\nThe link is personal; it expires in "
                  f"{CHECKIN_MAX_AGE.days} days.")
        for p in people
    }
    return page(dedupe_key=f"incident:{incident.pk}:checkin", subject=f"Check in: {incident.title}", body="",
                recipients=[(Channel.EMAIL, p.email) for p in people], incident=incident, bodies=bodies)


@dataclass
class Roll:
    accounted: list[tuple[Person, CheckIn]]
    missing: list[Person]


def roll_call(incident: Incident) -> Roll:
    """Who has checked in (and from where) and who has not: two queries."""
    checkins = {c.person_id: c for c in CheckIn.objects.filter(incident=incident)}
    accounted, missing = [], []
    for person in employees(incident):
        if person.pk in checkins:
            accounted.append((person, checkins[person.pk]))
        else:
            missing.append(person)
    return Roll(accounted, missing)


def _digits(phone: str) -> str:
    return "".join(ch for ch in phone if ch.isdigit() or ch == "+")
