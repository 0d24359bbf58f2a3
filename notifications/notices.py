"""Customer notices: create from a template, compute and edit the audience, preview, queue deliveries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.template import Template
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape, linebreaks

from drportal.audit import log as audit
from drportal.incidents.models import Incident
from drportal.inventory.choices import ContactPurpose
from drportal.inventory.models import Customer, CustomerContact
from drportal.lib import clock
from notifications import audience, facts, losswindow, templating
from notifications.choices import AudienceSource, Channel, DeliveryState, NoticeKind
from notifications.models import Delivery, Notice, NoticeRecipient, NoticeTemplate

# What the run's restore steps did for the customer's databases, one line each (notifications.facts).
RESTORE_LINES = (
    "{% for r in restores %}- {{ r.asset }}: {% if r.restored %}restored from the copy of "
    "{{ r.point|date:'Y-m-d H:i T'|default:'an unrecorded time' }}.{% else %}not restored by the recovery "
    "({{ r.why }}).{% endif %}\n{% endfor %}"
)
# Each database's window (notifications.losswindow), one line each; a window of nothing is said so.
LOSS_LINES = (
    "{% for row in loss.rows %}- {{ row.asset }}: {% if not row.known %}no viable backup is known yet; we will "
    "write again.{% elif row.seconds_lost %}recoverable up to {{ row.recovery_point|date:'Y-m-d H:i T' }}; "
    "anything entered after that (about {{ row.lost_for }}) will need to be re-entered.{% else %}nothing is "
    "lost.{% endif %}\n{% endfor %}"
)

DEFAULT_TEMPLATES: dict[str, tuple[str, str]] = {
    NoticeKind.OUTAGE_DECLARED: (
        "[{{ incident.reference }}] Service disruption affecting {{ customer.name }}",
        "Dear {{ customer.name }},\n\nWe are responding to an incident: {{ incident.headline }}.\n"
        "It started at {{ incident.declared_at|date:'Y-m-d H:i T' }}.\n{% if timeline %}Expected timeline: "
        "{{ timeline }}\n{% endif %}\n{{ loss.summary }}\n\nFollow updates at {{ status_url }}\n\n{{ company }}",
    ),
    NoticeKind.UPDATE: (
        "[{{ incident.reference }}] Update: {{ incident.headline }}",
        "Dear {{ customer.name }},\n\nAn update on {{ incident.headline }}.\n\n{% if timeline %}Expected timeline: "
        "{{ timeline }}\n\n{% endif %}Follow updates at {{ status_url }}\n\n{{ company }}",
    ),
    NoticeKind.RESTORED: (
        # "Restored" only once the incident is recovered: until then the same notice says where things stand.
        "[{{ incident.reference }}] {% if incident.recovered_at and not restores_missing %}Service restored"
        "{% else %}Recovery in progress{% endif %}",
        "Dear {{ customer.name }},\n\n{% if incident.recovered_at and not restores_missing %}The service is "
        "available again since {{ incident.recovered_at|date:'Y-m-d H:i T' }}.{% else %}We are still restoring "
        "the service; we will write again when it is available.{% endif %}\n" + RESTORE_LINES
        + "\n{{ loss.summary }}\n\n{{ company }}",
    ),
    NoticeKind.DATA_LOSS: (
        "[{{ incident.reference }}] What data {{ customer.name }} can recover",
        "Dear {{ customer.name }},\n\n{{ loss.summary }}\n\n" + LOSS_LINES + "\n{{ company }}",
    ),
}


def ensure_default_templates() -> None:
    for kind, (subject, body) in DEFAULT_TEMPLATES.items():
        NoticeTemplate.objects.get_or_create(
            kind=kind, is_default=True,
            defaults={"name": f"Default: {NoticeKind(kind).label}", "subject": subject, "body_text": body},
        )


def create_notice(actor, incident: Incident, kind: str, *, template: NoticeTemplate | None = None,
                  timeline: str = "", channels: list[str] | None = None) -> Notice:
    ensure_default_templates()
    template = template or NoticeTemplate.objects.get(kind=kind, is_default=True)
    with transaction.atomic():
        notice = Notice(
            incident=incident, kind=kind, template=template, subject=template.subject,
            body_text=template.body_text, body_html=template.body_html, timeline=timeline,
            channels=channels or [Channel.EMAIL], created_by=actor, created_at=clock.now(),
        )
        notice.full_clean()
        notice.save()
        recompute_audience(actor, notice)
        audit.record(actor, "notice.created", notice, after={"kind": kind, "incident": incident.pk})
    return notice


# One statement whatever the audience: a region of 50,000 customers as 50,000 model instances (and an IN list
# of 50,000 placeholders) took seconds. A customer already listed (support's removal included) conflicts and
# is left as it is; an id the stored scope still names but that is gone joins nothing.
AUDIENCE_SQL = f"""
INSERT INTO {NoticeRecipient._meta.db_table} (notice_id, customer_id, source, excluded)
SELECT %(notice)s, c.id, %(source)s, false FROM {Customer._meta.db_table} c WHERE c.id = ANY(%(customers)s)
ORDER BY c.id
ON CONFLICT (notice_id, customer_id) DO NOTHING
"""  # noqa: S608 - only the models' own table names are formatted in


def recompute_audience(actor, notice: Notice) -> int:
    """Add customers the incident hits now; never re-adds one support removed. Returns how many were added."""
    from django.db import connection

    customers = audience.affected_customer_ids(notice.incident)
    with connection.cursor() as cur:
        cur.execute(AUDIENCE_SQL, {"notice": notice.pk, "source": AudienceSource.COMPUTED, "customers": customers})
        added = cur.rowcount
    if added:
        audit.record(actor, "notice.audience_computed", notice, after={"added": added})
    return added


def set_recipient(actor, notice: Notice, customer: Customer, *, included: bool) -> NoticeRecipient:
    with transaction.atomic():
        row, created = NoticeRecipient.objects.select_for_update().get_or_create(
            notice=notice, customer=customer,
            defaults={"source": AudienceSource.ADDED, "excluded": not included, "changed_by": actor},
        )
        before = None if created else {"excluded": row.excluded}
        if not created:
            row.excluded, row.changed_by = not included, actor
            row.save(update_fields=["excluded", "changed_by"])
        audit.record(actor, "notice.recipient_" + ("added" if included else "removed"), notice,
                     before=before, after={"customer": customer.slug, "excluded": row.excluded})
    return row


@dataclass
class Rendered:
    subject: str
    text: str
    html: str
    loss: losswindow.LossWindow


@dataclass
class Renderer:
    """Compiles the notice's templates once; renders them for many customers."""

    notice: Notice
    now: datetime
    scope: losswindow.Scope = field(init=False)

    def __post_init__(self) -> None:
        self.scope = losswindow.Scope(self.notice.incident)
        self._subject = Template(self.notice.subject, engine=templating.ENGINE)
        self._text = Template(self.notice.body_text, engine=templating.ENGINE)
        self._html = Template(self.notice.body_html, engine=templating.ENGINE) if self.notice.body_html else None
        self._base = base_context(self.notice)
        self._restores = facts.restores(self.notice.incident)

    def render(self, customer: Customer) -> Rendered:
        # Customers read times in the company's zone, named, whether a person previews or a worker sends.
        with timezone.override(settings.NOTIFY_TIME_ZONE):
            return self._render(customer)

    def _render(self, customer: Customer) -> Rendered:
        from django.template import Context

        loss = losswindow.window(customer, self.scope, self.now)
        restores = self._restores.get(customer.pk, [])
        ctx = {**self._base, "customer": {"name": customer.name, "tier": customer.get_tier_display()},
               "loss": loss.as_context(), "restores": [r.as_context() for r in restores],
               # A sentence saying data was restored is true only when every restore of theirs succeeded.
               "all_restored": bool(restores) and all(r.restored for r in restores),
               # ...and that the service is back only when none of theirs is missing.
               "restores_missing": any(not r.restored for r in restores)}
        subject = " ".join(self._subject.render(Context(ctx, autoescape=False)).split())[:300]
        text = self._text.render(Context(ctx, autoescape=False))
        if self._html is not None:
            html = self._html.render(Context(ctx, autoescape=True))
        else:
            html = linebreaks(escape(text))
        return Rendered(subject, text, html, loss)


def base_context(notice: Notice) -> dict[str, Any]:
    incident = notice.incident
    return {
        "incident": {
            "reference": f"INC-{incident.pk}",
            # The internal title may name servers; customers see the public summary.
            "headline": incident.public_summary or "a service disruption",
            "declared_at": incident.declared_at,
            "recovered_at": incident.recovered_at,
            "status": incident.get_status_display(),
        },
        "timeline": notice.timeline,
        "status_url": settings.SITE_URL.rstrip("/") + reverse("status:incident", args=[incident.pk]),
        "company": getattr(settings, "NOTIFY_COMPANY_NAME", "The support team"),
    }


def preview(notice: Notice, customer: Customer, now: datetime) -> Rendered:
    return Renderer(notice, now).render(customer)


@dataclass
class QueueResult:
    queued: int = 0
    already: int = 0
    invalid: list[str] = field(default_factory=list)
    without_contacts: list[str] = field(default_factory=list)


def queue_notice(actor, notice_id: int, now: datetime | None = None, *, user=None) -> QueueResult:
    """Write one Delivery per recipient address and channel, then enqueue the sending job after commit.
    Queuing again adds only addresses that were not queued before (the unique constraint). `actor` is who the
    audit names (a person, or a job's label); `user` who is recorded as having queued it (default: actor)."""
    from notifications import jobs

    now = now or clock.now()
    result = QueueResult()
    with transaction.atomic():
        notice = Notice.objects.select_for_update().select_related("incident").get(pk=notice_id)
        notice.full_clean()
        customers = Customer.objects.filter(
            id__in=NoticeRecipient.objects.filter(notice=notice, excluded=False).values("customer_id")
        ).order_by("name")
        contacts: dict[int, list[CustomerContact]] = {}
        for c in CustomerContact.objects.filter(customer__in=customers, purpose=ContactPurpose.OUTAGE):
            contacts.setdefault(c.customer_id, []).append(c)
        renderer = Renderer(notice, now)
        rows = []
        for customer in customers:
            addresses = _addresses(notice, contacts.get(customer.pk, []))
            if not addresses:
                result.without_contacts.append(customer.name)
                continue
            msg = renderer.render(customer)
            for channel, address, problem in addresses:
                if problem:
                    result.invalid.append(f"{customer.name}: {problem}")
                rows.append(Delivery(
                    notice=notice, customer=customer, channel=channel, address=address,
                    state=DeliveryState.FAILED if problem else DeliveryState.QUEUED, error=problem,
                    subject=msg.subject, body_text=msg.text if channel == Channel.EMAIL else _short(msg),
                    body_html=msg.html if channel == Channel.EMAIL else "", created_at=now,
                ))
        before = Delivery.objects.filter(notice=notice).count()
        Delivery.objects.bulk_create(rows, batch_size=2000, ignore_conflicts=True)
        after = Delivery.objects.filter(notice=notice).count()
        result.queued, result.already = after - before, len(rows) - (after - before)
        notice.queued_at, notice.queued_by = notice.queued_at or now, user or actor
        notice.save(update_fields=["queued_at", "queued_by"])
        audit.record(actor, "notice.queued", notice, after={
            "new_deliveries": result.queued, "already_queued": result.already,
            "invalid_addresses": result.invalid, "customers_without_contacts": result.without_contacts,
        })
        jobs.enqueue_on_commit(jobs.send_notice, notice.pk)
    return result


def _addresses(notice: Notice, contacts: list[CustomerContact]) -> list[tuple[str, str, str]]:
    """(channel, address, problem) for each contact and channel of the notice; problem is "" when fine."""
    out: list[tuple[str, str, str]] = []
    for contact in contacts:
        if Channel.EMAIL in notice.channels and contact.email:
            address = contact.email.strip().lower()
            try:
                validate_email(address)
                out.append((Channel.EMAIL, address, ""))
            except ValidationError:
                out.append((Channel.EMAIL, address, f"invalid e-mail address {address!r}"))
        if Channel.SMS in notice.channels and contact.phone:
            number = "".join(ch for ch in contact.phone if ch.isdigit() or ch == "+")
            problem = "" if 8 <= len(number.lstrip("+")) <= 15 else f"invalid phone number {contact.phone!r}"
            out.append((Channel.SMS, number or contact.phone, problem))
    return out


def _short(msg: Rendered) -> str:
    """SMS text: the subject and the loss summary, short enough for two segments."""
    return f"{msg.subject}. {msg.loss.summary}"[:300]
