"""Status page subscribers: sign up by e-mail with double opt-in, one-click unsubscribe in every message, and
the public incident updates and maintenance windows they receive.

Everything leaves through the notification machinery's own rows: one StaffPage per announcement (its
dedupe key makes a repeated call a no-op) and one Delivery per address, sent by the send_page job under the
shared per-channel rate limit. The links carry signed tokens naming the subscriber and their address, so a
link outlives no change of address and needs no secret column.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.urls import reverse

from drportal.audit import log as audit
from drportal.lib import clock
from notifications.choices import Channel
from notifications.models import Maintenance, StatusSubscriber, StatusUpdate

CONFIRM_SALT = "status.subscriber.confirm"
UNSUBSCRIBE_SALT = "status.subscriber.unsubscribe"
CONFIRM_MAX_AGE = timedelta(days=7)
# A sign-up form is a way to make us mail a stranger: one confirmation request per address per hour.
RESEND_AFTER = timedelta(hours=1)
ACTOR = "public:status-subscribe"


def _url(name: str, token: str) -> str:
    return settings.SITE_URL.rstrip("/") + reverse(name, args=[token])


def confirm_url(sub: StatusSubscriber) -> str:
    return _url("status:confirm", signing.dumps({"s": sub.pk, "e": sub.email}, salt=CONFIRM_SALT, compress=True))


def unsubscribe_url(sub: StatusSubscriber) -> str:
    return _url("status:unsubscribe", signing.dumps({"s": sub.pk, "e": sub.email}, salt=UNSUBSCRIBE_SALT,
                                                    compress=True))


def _read(token: str, salt: str, max_age: timedelta | None) -> StatusSubscriber | None:
    try:
        data = signing.loads(token, salt=salt, max_age=max_age)
        return StatusSubscriber.objects.get(pk=int(data["s"]), email=str(data["e"]))
    except (signing.BadSignature, StatusSubscriber.DoesNotExist, KeyError, TypeError, ValueError):
        return None


def subscribe(email: str, now: datetime | None = None) -> None:
    """Ask `email` to confirm. Says nothing about whether the address was known (the page answers the same)."""
    from notifications.api import page

    now = now or clock.now()
    email = email.strip().lower()
    with transaction.atomic():
        try:
            with transaction.atomic():
                sub = StatusSubscriber.objects.create(email=email, created_at=now)
            audit.record(ACTOR, "status_subscriber.signed_up", sub, after={"email": email})
        except IntegrityError:
            sub = StatusSubscriber.objects.select_for_update().get(email=email)
        if sub.is_active:
            return
        if sub.confirmation_sent_at and sub.confirmation_sent_at > now - RESEND_AFTER:
            return
        StatusSubscriber.objects.filter(pk=sub.pk).update(confirmation_sent_at=now)
        body = (f"Someone, hopefully you, asked to receive service status updates at {email}.\n\n"
                f"Confirm within {CONFIRM_MAX_AGE.days} days:\n{confirm_url(sub)}\n\n"
                "If it was not you, ignore this message: nothing more will be sent.")
        page(dedupe_key=f"status:confirm:{sub.pk}:{now.isoformat()}", subject="Confirm your status updates",
             body=body, recipients=[(Channel.EMAIL, email)])


def confirm(token: str, now: datetime | None = None) -> StatusSubscriber | None:
    now = now or clock.now()
    sub = _read(token, CONFIRM_SALT, CONFIRM_MAX_AGE)
    if sub is None:
        return None
    if StatusSubscriber.objects.filter(pk=sub.pk).exclude(confirmed_at__isnull=False, unsubscribed_at=None).update(
            confirmed_at=now, unsubscribed_at=None):
        audit.record(ACTOR, "status_subscriber.confirmed", sub, after={"email": sub.email})
    return sub


def subscriber_for_unsubscribe(token: str) -> StatusSubscriber | None:
    return _read(token, UNSUBSCRIBE_SALT, None)


def unsubscribe(token: str, now: datetime | None = None) -> StatusSubscriber | None:
    now = now or clock.now()
    sub = subscriber_for_unsubscribe(token)
    if sub is None:
        return None
    if StatusSubscriber.objects.filter(pk=sub.pk, unsubscribed_at__isnull=True).update(unsubscribed_at=now):
        audit.record(ACTOR, "status_subscriber.unsubscribed", sub, after={"email": sub.email})
    return sub


def _announce(dedupe_key: str, subject: str, text: str) -> None:
    """One page to every active subscriber, each body ending with their own unsubscribe link."""
    from notifications.api import page

    subs = list(StatusSubscriber.objects.filter(confirmed_at__isnull=False, unsubscribed_at__isnull=True))
    if not subs:
        return
    status_url = settings.SITE_URL.rstrip("/") + reverse("status:index")
    links = {s.email: unsubscribe_url(s) for s in subs}
    bodies = {email: f"{text}\n\nStatus page: {status_url}\n\nUnsubscribe with one click: {url}"
              for email, url in links.items()}
    page(dedupe_key=dedupe_key, subject=subject, body=text, recipients=[(Channel.EMAIL, s.email) for s in subs],
         bodies=bodies, unsubscribes=links)


def announce_update(update_id: int) -> None:
    """A public update on an incident the status page shows (never a drill's or an internal one's)."""
    from notifications import public

    update = StatusUpdate.objects.select_related("incident").get(pk=update_id)
    if not public.visible().filter(pk=update.incident_id).exists():
        return
    item = public.to_public(update.incident)
    services = ", ".join(item.services) or "our services"
    text = (f"{item.headline} ({item.status_label})\nAffected: {services}.\n\n"
            f"Update {update.posted_at:%Y-%m-%d %H:%M} UTC:\n{update.body}")
    _announce(f"status:update:{update.pk}", f"[Status] {item.headline}: {item.status_label}", text)


def announce_maintenance(maintenance_id: int) -> None:
    item = Maintenance.objects.get(pk=maintenance_id)
    services = ", ".join(sorted(s.public_name for s in item.services.exclude(public_name=""))) or "our services"
    text = (f"Scheduled maintenance: {item.title}\n"
            f"From {item.starts_at:%Y-%m-%d %H:%M} to {item.ends_at:%Y-%m-%d %H:%M} UTC.\n"
            f"Affected: {services}.\n\n{item.body}")
    _announce(f"status:maintenance:{item.pk}", f"[Scheduled maintenance] {item.title}", text)
