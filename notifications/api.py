"""What other apps call to reach people: notify_staff (any app), and on_incident_declared (the incidents
declare flow calls it after the incident is committed). Both write durable StaffPage and Delivery rows and
send them from an RQ job."""

from __future__ import annotations

import logging
import uuid

from django.db import IntegrityError, transaction

from drportal.lib import clock
from notifications.choices import Channel
from notifications.models import Delivery, StaffPage, WebhookTarget

logger = logging.getLogger(__name__)


def notify_staff(*, role: str, subject: str, body: str, link: str = "", dedupe_key: str = "") -> None:
    """Tell everyone holding `role` (ops, manager, support, admin) by e-mail, and the role's webhooks.
    `dedupe_key` makes repeated calls with the same key send once."""
    from django.contrib.auth.models import User

    emails = User.objects.filter(groups__name=role, is_active=True).exclude(email="").values_list("email", flat=True)
    recipients = [(Channel.EMAIL, e) for e in emails]
    recipients += [(Channel.WEBHOOK, w.url) for w in WebhookTarget.objects.filter(active=True, role__in=[role, ""])]
    page(dedupe_key=dedupe_key or f"adhoc:{uuid.uuid4()}", role=role, subject=subject, body=body, link=link,
         recipients=recipients)
    logger.info("staff notice to %s: %s", role, subject)


def page(*, dedupe_key: str, subject: str, body: str, recipients: list[tuple[str, str]], role: str = "",
         link: str = "", incident=None, bodies: dict[str, str] | None = None) -> StaffPage | None:
    """Write the page and one delivery per (channel, address); None when dedupe_key was used before.
    `bodies` gives a personal body per address (check-in links)."""
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
                          body_text=(bodies or {}).get(addr, text), created_at=now)
                 for ch, addr in dict.fromkeys(recipients)],
                ignore_conflicts=True,
            )
            jobs.enqueue_on_commit(jobs.send_page, staff_page.pk)
    except IntegrityError:
        return None  # this dedupe_key was paged before
    return staff_page


def on_incident_declared(incident_id: int) -> None:
    """Hook for the incidents declare flow (call it in transaction.on_commit): page key personnel and ops,
    and for office disasters send every employee of the impacted offices a check-in link."""
    from notifications import staff

    staff.page_key_personnel(incident_id)
    staff.send_checkin_links(incident_id)
