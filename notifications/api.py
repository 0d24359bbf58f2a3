"""What other apps call to reach people: notify_staff (any app); the incidents declare flow's hook is
staff.on_incident_declared. Both write durable StaffPage and Delivery rows and send them from an RQ job."""

from __future__ import annotations

import logging
import re
import uuid

from django.db import IntegrityError, transaction

from drportal.audit import log as audit_log
from drportal.lib import clock
from notifications.choices import Channel
from notifications.models import AppriseChannel, Delivery, StaffPage, WebhookTarget
from notifications.notices import LOSS_LINES, RESTORE_LINES

logger = logging.getLogger(__name__)


def notify_staff(*, role: str, subject: str, body: str, link: str = "", dedupe_key: str = "") -> None:
    """Tell everyone holding `role` (ops, manager, support, admin) by e-mail, and the role's webhooks and
    Apprise channels.
    `dedupe_key` makes repeated calls with the same key send once."""
    from django.contrib.auth.models import User

    emails = User.objects.filter(groups__name=role, is_active=True).exclude(email="").values_list("email", flat=True)
    recipients = [(Channel.EMAIL, e) for e in emails]
    recipients += [(Channel.WEBHOOK, w.url) for w in WebhookTarget.objects.filter(active=True, role__in=[role, ""])]
    channels = AppriseChannel.objects.filter(active=True, role__in=[role, ""])
    recipients += [(Channel.APPRISE, c.address) for c in channels]
    page(dedupe_key=dedupe_key or f"adhoc:{uuid.uuid4()}", role=role, subject=subject, body=body, link=link,
         recipients=recipients)
    logger.info("staff notice to %s: %s", role, subject)


def page(*, dedupe_key: str, subject: str, body: str, recipients: list[tuple[str, str]], role: str = "",
         link: str = "", incident=None, bodies: dict[str, str] | None = None,
         actions: dict[str, str] | None = None, unsubscribes: dict[str, str] | None = None) -> StaffPage | None:
    """Write the page and one delivery per (channel, address); None when dedupe_key was used before.
    `bodies` gives a personal body per address (check-in links), `actions` a link per address that the
    receiver can act on (an approval link posted to an Apprise channel), `unsubscribes` the address's own
    one-click unsubscribe link (status page subscribers)."""
    from notifications import jobs

    now = clock.now()
    text = f"{body}\n\n{link}".strip()
    try:
        with transaction.atomic():
            staff_page = StaffPage.objects.create(
                dedupe_key=dedupe_key[:200], role=role, incident=incident, subject=subject[:300], body=body,
                link=link, created_at=now,
            )
            Delivery.objects.bulk_create(
                [Delivery(page=staff_page, channel=ch, address=addr, subject=subject[:300],
                          body_text=(bodies or {}).get(addr, text), action_url=(actions or {}).get(addr, ""),
                          unsubscribe_url=(unsubscribes or {}).get(addr, ""), created_at=now)
                 for ch, addr in dict.fromkeys(recipients)],
                ignore_conflicts=True,
            )
            jobs.enqueue_on_commit(jobs.send_page, staff_page.pk)
    except IntegrityError:
        return None  # this dedupe_key was paged before
    return staff_page


# A runbook step's text is plain text; around it each customer's own data-loss window is rendered, and what
# the run's restore steps really did for their databases.
RUNBOOK_HEAD = "Dear {{ customer.name }},\n\n"
RUNBOOK_TAIL = (
    "{% if restores %}\n\n" + RESTORE_LINES + "{% else %}\n{% endif %}"
    "\n{{ loss.summary }}\n" + LOSS_LINES + "\nFollow updates at {{ status_url }}\n\n{{ company }}"
)


def literal(text: str) -> str:
    """Template source that renders as exactly `text`: a runbook's "{" never opens a tag or a variable."""
    return text.replace("{", "{{ '{' }}")


# A step's text that says data was restored: sent as written only to a customer whose restores all succeeded.
RESTORE_CLAIM = re.compile(r"\brestored\b", re.IGNORECASE)
# A step's text that says the service is back: not sent to a customer one of whose restores is missing.
SERVICE_CLAIM = re.compile(r"\b(?:service|platform) (?:is |was )?restored\b|\bavailable again\b", re.IGNORECASE)
NOT_YET_RESTORED = ("We are still recovering your data: not all of your databases are restored yet (see below). "
                    "We will write again when they are.")
SUBJECT_NOT_YET = "Recovery still in progress"


def guarded(body: str) -> str:
    """Template source for a runbook step's text: a claim of restored data is rendered only where the run's
    rows back it (the sentence for what is still missing where a restore did not succeed, nothing where the
    customer had no database to restore); a claim that the service is back only where none is missing."""
    if RESTORE_CLAIM.search(SERVICE_CLAIM.sub("", body)):
        return ("{% if all_restored %}" + literal(body) + "{% elif restores %}" + NOT_YET_RESTORED
                + "{% endif %}")
    if SERVICE_CLAIM.search(body):
        return "{% if restores_missing %}" + NOT_YET_RESTORED + "{% else %}" + literal(body) + "{% endif %}"
    return literal(body)


def guarded_subject(subject: str) -> str:
    """The same for a subject: "[INC-7] Service restored" reads "[INC-7] Recovery still in progress" to a
    customer one of whose restores is missing."""
    if not (RESTORE_CLAIM.search(subject) or SERVICE_CLAIM.search(subject)):
        return literal(subject)
    prefix = re.match(r"\[[^\]]*\]\s*", subject)
    instead = (prefix.group() if prefix else "") + SUBJECT_NOT_YET
    return "{% if restores_missing %}" + literal(instead) + "{% else %}" + literal(subject) + "{% endif %}"


def runbook_texts(subject: str, body: str) -> tuple[str, str]:
    """The template sources of a runbook step's notice: its subject and text, guarded, around each customer's
    own restores and data-loss window."""
    return guarded_subject(subject), RUNBOOK_HEAD + guarded(body.strip()) + RUNBOOK_TAIL


def notify_customers(*, incident_id: int, subject: str, body: str, dedupe_key: str,
                     channels: list[str] | None = None, actor: str = "job:notify_customers") -> dict:
    """Tell every customer the incident hits (notifications.audience), each with their own data-loss window,
    through the notice machinery: one Notice (kind "runbook") holding the text, one Delivery per customer
    contact and channel, sent by the send_notice job. `dedupe_key` makes a repeated call (a retried or
    re-run step) return the first call's notice instead of writing a second one: nothing is sent twice.
    Returns a small JSON-safe summary."""
    from drportal.incidents.models import Incident
    from notifications import notices
    from notifications.choices import NoticeKind
    from notifications.models import Notice

    key = dedupe_key[:200]
    existing = Notice.objects.filter(dedupe_key=key).first()
    if existing is not None:
        return _runbook_summary(existing, already=True)
    incident = Incident.objects.select_related("declared_by").get(pk=incident_id)
    run = getattr(incident, "scenario_run", None)  # a reverse one-to-one: None when no runbook runs
    # The notice's person fields name who set it in motion: the one who started the runbook (or declared).
    user = run.started_by if run is not None else incident.declared_by
    try:
        with transaction.atomic():
            subject_source, body_source = runbook_texts(subject, body)
            notice = Notice(
                incident=incident, kind=NoticeKind.RUNBOOK, dedupe_key=key, subject=subject_source,
                body_text=body_source, channels=channels or [Channel.EMAIL], created_by=user, created_at=clock.now(),
            )
            notice.full_clean(exclude=["dedupe_key"])  # its uniqueness is the insert's to decide
            notice.save()
            notices.recompute_audience(actor, notice)
            audit_log.record(actor, "notice.created", notice,
                             after={"kind": NoticeKind.RUNBOOK, "incident": incident.pk, "dedupe_key": key})
            result = notices.queue_notice(actor, notice.pk, user=user)
    except IntegrityError:
        # Another call with this key won the insert (two workers on one step): theirs is the notice.
        return _runbook_summary(Notice.objects.get(dedupe_key=key), already=True)
    return {**_runbook_summary(notice, already=False), "without_contacts": len(result.without_contacts),
            "invalid_addresses": len(result.invalid)}


def _runbook_summary(notice, *, already: bool) -> dict:
    from django.db.models import Count

    from notifications import jobs

    counts = dict(Delivery.objects.filter(notice=notice).values_list("state").annotate(n=Count("pk")))
    if already and counts.get("queued"):
        # The first call's send job may have died with its worker: another run sends what is left, once.
        jobs.enqueue_on_commit(jobs.send_notice, notice.pk)
    return {"notice": notice.pk, "customers": notice.recipients.filter(excluded=False).count(),
            "deliveries": sum(counts.values()), "states": counts, "already_queued": already}
