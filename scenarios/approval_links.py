"""Approve from the message: the page asking a manager to approve a step carries a link of their own.

A link is a row (ApprovalLink) and a signed token naming it. The signature stops a forged or altered
token; the row is what makes it single-use (used_at is set by a conditional update in the same transaction
as the approval), bound to the person it was sent to, and short-lived (expires_at, read against the
injectable clock). Opening the link never changes anything: it shows the step, its targets and the
data-loss window and asks for one confirmation by POST. The link dies once used, once the step is no
longer waiting for approval, or at expiry; the approver must still hold the step's role when confirming.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.urls import reverse

from drportal.accounts.access import Role, has_role
from drportal.audit import log as audit
from drportal.lib import clock
from scenarios.choices import FINAL_RUN_STATES, StepKind, StepState
from scenarios.models import ApprovalLink, StepRun

SALT = "scenarios.approval-link"
# Long enough to wake up and read the message, short enough that a forwarded old e-mail is worthless.
LIFETIME = timedelta(minutes=getattr(settings, "APPROVAL_LINK_MINUTES", 60))


class LinkInvalid(Exception):
    """The link cannot be used; the message says why, in a sentence for the person holding it."""


def token_for(link: ApprovalLink) -> str:
    return signing.dumps({"l": link.pk, "n": link.nonce}, salt=SALT, compress=True)


def url_for(link: ApprovalLink) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("scenarios:approve-link", args=[token_for(link)])


def issue(row: StepRun, user=None, now=None, *, channel: str = "") -> ApprovalLink:
    """A link for `user` alone, or (no user) one posted to the shared `channel`."""
    now = now or clock.now()
    link = ApprovalLink.objects.create(step=row, user=user, channel=channel[:100], nonce=secrets.token_urlsafe(12),
                                       created_at=now, expires_at=now + LIFETIME)
    holder = {"user": user.username} if user is not None else {"channel": channel}
    audit.record("engine", "approval_link.issued", link,
                 after={"step": row.pk, **holder, "expires_at": link.expires_at.isoformat()})
    return link


def page_approvers(step_run_id: int, role: str, subject: str, reason: str) -> None:
    """Page everyone holding `role` about an approval step, each e-mail with a link of its own. Each of the
    role's Apprise channels (Slack, Teams, PagerDuty...) gets a link of its own as the message's action:
    anyone may read a shared channel, so that link names no person, and it still asks whoever opens it to
    sign in with the role and confirm. The role's plain webhooks get the run page only. Safe to call twice."""
    from django.contrib.auth.models import User

    from notifications.api import page
    from notifications.choices import Channel
    from notifications.models import AppriseChannel, StaffPage, WebhookTarget

    row = StepRun.objects.select_related("run").get(pk=step_run_id)
    key = f"{row.idempotency_key}:{subject[:40]}"
    if StaffPage.objects.filter(dedupe_key=key).exists():
        return
    site = settings.SITE_URL.rstrip("/")
    run_link = site + reverse("scenarios:run", args=[row.run_id])
    approvers = list(User.objects.filter(groups__name=role, is_active=True).exclude(email="").order_by("pk"))
    now = clock.now()
    channels = list(AppriseChannel.objects.filter(active=True, role__in=[role, ""]))
    now = clock.now()
    head = f"{reason}\n\nRun #{row.run_id}: {row.run.scenario_title}\nStep: {row.title}\n\n"
    bodies, actions = {}, {}
    with transaction.atomic():
        for user in approvers:
            link = issue(row, user, now)
            bodies[user.email] = (
                f"{head}Approve from here (for {user.username} only, once, until {link.expires_at:%Y-%m-%d %H:%M} "
                f"UTC; it shows the targets and the data-loss window and asks you to confirm):\n{url_for(link)}\n\n"
                f"The run: {run_link}")
        for channel in channels:
            link = issue(row, now=now, channel=channel.name)
            actions[channel.address] = url_for(link)
            bodies[channel.address] = (
                f"{head}A {role} can approve it from the link below (once, until {link.expires_at:%Y-%m-%d %H:%M} "
                f"UTC): it asks you to sign in, shows the targets and the data-loss window, and asks you to "
                f"confirm.\n\nThe run: {run_link}")
        recipients = [(Channel.EMAIL, u.email) for u in approvers]
        recipients += [(Channel.WEBHOOK, w.url) for w in WebhookTarget.objects.filter(active=True, role__in=[role, ""])]
        recipients += [(Channel.APPRISE, c.address) for c in channels]
        if page(dedupe_key=key, role=role, subject=subject, body=reason, link=run_link, recipients=recipients,
                bodies=bodies, actions=actions) is None:
            transaction.set_rollback(True)  # another call paged first: its links are the ones sent


def read(token: str, user, now=None) -> ApprovalLink:
    """The link a token names, if `user` may still use it now; LinkInvalid (with the reason) otherwise."""
    now = now or clock.now()
    try:
        data = signing.loads(token, salt=SALT)
        link = ApprovalLink.objects.select_related("step__run__incident", "user").get(pk=int(data["l"]),
                                                                                     nonce=str(data["n"]))
    except (signing.BadSignature, ApprovalLink.DoesNotExist, KeyError, TypeError, ValueError):
        raise LinkInvalid("This approval link is not valid. Open the run from the dashboard instead.") from None
    if link.user_id is not None and link.user_id != user.pk:
        raise LinkInvalid(f"This approval link was sent to {link.user.username}; it does not work for anyone else.")
    if link.used_at is not None:
        raise LinkInvalid(f"This approval link was already used at {link.used_at:%Y-%m-%d %H:%M} UTC.")
    if link.expires_at <= now:
        raise LinkInvalid(f"This approval link expired at {link.expires_at:%Y-%m-%d %H:%M} UTC.")
    step, run = link.step, link.step.run
    if step.kind != StepKind.APPROVAL or step.state != StepState.READY or run.state in FINAL_RUN_STATES:
        raise LinkInvalid(f"“{step.title}” is {step.state} (the run is {run.state}): it no longer waits for an "
                          "approval, so this link has expired.")
    role = step.spec.get("approver_role", Role.MANAGER)
    if not has_role(user, role):
        raise LinkInvalid(f"Only a {role} can approve “{step.title}”.")
    return link


@dataclass
class Targets:
    servers: list[str]
    databases: list[str]
    zones: list[str]
    item: str
    params: dict


def targets(row: StepRun) -> Targets:
    """What the run acts on once this step is approved: the incident's servers, databases and zones, and
    the parameters of the step itself."""
    bindings = row.run.bindings or {}
    return Targets(servers=list(bindings.get("servers", [])), databases=sorted(bindings.get("databases", {})),
                   zones=list(bindings.get("zones", [])), item=row.item, params=row.params or {})
