"""Scheduled compliance reports: each subscription gets the compliance report (the same content as
/backups/compliance/, narrowed to its policies or customers) by e-mail once per period, with the CSV and a PDF
attached, saying what changed since its last report.

Exactly once, with any number of schedulers and workers:
- the scheduler runs `send_due` (a ScheduledRun row per tick); it writes one ReportSend row per
  (subscription, period) with INSERT ... ON CONFLICT DO NOTHING, so a second scheduler finds it written;
- a row is claimed queued -> sending with a conditional update before anything leaves, and its outcome is
  recorded after; a worker that dies in between leaves it "sending", which the next run marks in doubt for a
  person instead of sending a second copy.
Periods are in UTC: a daily report covers the day before, a weekly one Monday to Sunday, a monthly one the
calendar month before.
"""

from __future__ import annotations

import dataclasses
import logging
import smtplib
from datetime import UTC, datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import connection, transaction
from django.utils import timezone

from backups import compliance, compliance_files
from backups.choices import ReportFrequency, ReportSendState
from backups.models import ReportSend, ReportSubscription
from drportal.audit import log as audit
from drportal.lib import clock

logger = logging.getLogger(__name__)

# A "sending" row older than this lost its worker (a send takes seconds).
STALE = timedelta(minutes=10)
MAX_ATTEMPTS = 5
# Changes listed in an e-mail per section (policies, customers); beyond that, counted.
MAX_CHANGE_LINES = 50

_CLAIM = """
INSERT INTO backups_reportsend (subscription_id, period_start, period_end, state, address, summary, attempts,
                                error, created_at)
VALUES (%s, %s, %s, 'queued', '', '{}', 0, '', %s) ON CONFLICT (subscription_id, period_start) DO NOTHING
"""


def period_of(frequency: str, now: datetime) -> tuple[datetime, datetime]:
    """(start, end) of the last complete period before `now`: the one a report sent now covers."""
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if frequency == ReportFrequency.DAILY:
        end = today
        return end - timedelta(days=1), end
    if frequency == ReportFrequency.WEEKLY:
        end = today - timedelta(days=today.weekday())
        return end - timedelta(days=7), end
    end = today.replace(day=1)
    return (end - timedelta(days=1)).replace(day=1), end


def report_for(subscription: ReportSubscription, start: datetime, end: datetime) -> compliance.Report:
    # The report's "now" is the last instant of the period: its rollup days are those of the period only.
    full = compliance.report((end - start).days, end - timedelta(microseconds=1))
    policies = {p.name for p in subscription.policies.all()}
    customers = {c.name for c in subscription.customers.all()}
    if not policies and not customers:
        return full

    def chosen(v) -> bool:
        return v.pair.policy.name in policies or (v.pair.customer is not None and v.pair.customer.name in customers)

    # The period and its observed time stay the full report's; only the lines and violations are narrowed.
    narrowed = [line for line in full.customers if not customers or line.name in customers]
    return dataclasses.replace(
        full,
        policies=[line for line in full.policies if not policies or line.name in policies],
        customers=narrowed, customer_count=len(narrowed),
        violations=[v for v in full.violations if chosen(v)],
    )


def summary_of(report: compliance.Report) -> dict:
    return {"policies": {line.name: line.percent for line in report.policies},
            "customers": {line.name: line.percent for line in report.customers},
            "violations": len(report.violations)}


def changes(before: dict | None, after: dict) -> list[str]:
    """What changed since the subscription's last report, in sentences (the e-mail's first lines)."""
    if before is None:
        return ["This is the first report of this subscription: nothing to compare with yet."]
    lines = []
    for section, word in (("policies", "Policy"), ("customers", "Customer")):
        old, new = before.get(section, {}), after[section]
        found = []
        for name in sorted(set(old) | set(new)):
            if name not in old:
                found.append(f"{word} {name}: new in this report ({_pct(new[name])}).")
            elif name not in new:
                found.append(f"{word} {name}: not observed this period (was {_pct(old[name])}).")
            elif old[name] != new[name]:
                found.append(f"{word} {name}: {_pct(old[name])} → {_pct(new[name])}.")
        # A report of every customer at 50,000 customers would otherwise mail one line per customer (issue 17).
        if len(found) > MAX_CHANGE_LINES:
            more = len(found) - MAX_CHANGE_LINES
            found = [*found[:MAX_CHANGE_LINES],
                     f"And {more:,} more {section} changed: the CSV attached has every figure."]
        lines += found
    if before.get("violations") != after["violations"]:
        lines.append(f"Violations: {before.get('violations', 0)} → {after['violations']}.")
    return lines or ["Nothing changed since the last report."]


def _pct(value) -> str:
    return "not observed" if value is None else f"{value} %"


def send_due(now: datetime) -> int:
    """Scheduled task: write this period's row for every active subscription, then send what is queued.
    Returns how many reports were sent by this call."""
    mark_orphans_in_doubt(now)
    with connection.cursor() as cur:
        for sub_id, frequency, created_at in ReportSubscription.objects.filter(active=True).values_list(
                "pk", "frequency", "created_at"):
            start, end = period_of(frequency, now)
            # A subscription's first report is the first period that ends after it was made.
            if end > created_at:
                cur.execute(_CLAIM, [sub_id, start, end, now])
    sent = 0
    for pk in ReportSend.objects.filter(state=ReportSendState.QUEUED).order_by("pk").values_list("pk", flat=True):
        sent += send_one(pk)
    return sent


def mark_orphans_in_doubt(now: datetime) -> None:
    stale = ReportSend.objects.filter(state=ReportSendState.SENDING, claimed_at__lt=now - STALE)
    for row in stale:
        if ReportSend.objects.filter(pk=row.pk, state=ReportSendState.SENDING).update(
                state=ReportSendState.IN_DOUBT, error="the worker stopped while sending; it may have arrived"):
            audit.record("job:compliance_reports", "compliance_report.in_doubt", row,
                         before={"state": "sending"}, after={"state": "in_doubt"})


def send_one(pk: int) -> int:
    now = clock.now()
    with transaction.atomic():
        if not ReportSend.objects.filter(pk=pk, state=ReportSendState.QUEUED).update(
                state=ReportSendState.SENDING, claimed_at=now):
            return 0  # another worker has it
    row = ReportSend.objects.select_related("subscription__user").get(pk=pk)
    sub = row.subscription
    report = report_for(sub, row.period_start, row.period_end)
    summary = summary_of(report)
    previous = (ReportSend.objects.filter(subscription=sub, state=ReportSendState.SENT,
                                          period_start__lt=row.period_start).order_by("-period_start").first())
    notes = changes(previous.summary if previous else None, summary)
    address = sub.user.email
    ReportSend.objects.filter(pk=pk).update(summary=summary, address=address)
    if not address:
        return _finish(row, ReportSendState.FAILED, f"{sub.user.username} has no e-mail address")
    try:
        _deliver(row, report, notes, address)
    except (ConnectionError, smtplib.SMTPConnectError, smtplib.SMTPServerDisconnected) as exc:
        # Nothing left: try again at the next tick, a few times.
        state = ReportSendState.QUEUED if row.attempts + 1 < MAX_ATTEMPTS else ReportSendState.FAILED
        ReportSend.objects.filter(pk=pk, state=ReportSendState.SENDING).update(state=state, error=str(exc),
                                                                               attempts=row.attempts + 1)
        logger.warning("compliance report %s not sent: %s", pk, exc)
        return 0
    except (smtplib.SMTPException, OSError) as exc:
        return _finish(row, ReportSendState.FAILED, f"refused: {exc}")
    return _finish(row, ReportSendState.SENT, "")


def _finish(row: ReportSend, state: str, error: str) -> int:
    now = clock.now()
    ReportSend.objects.filter(pk=row.pk, state=ReportSendState.SENDING).update(
        state=state, error=error, sent_at=now if state == ReportSendState.SENT else None,
        attempts=row.attempts + 1)
    audit.record("job:compliance_reports", f"compliance_report.{state}", row, before={"state": "sending"},
                 after={"state": state, "period_start": row.period_start.isoformat(), "error": error})
    return 1 if state == ReportSendState.SENT else 0


def _deliver(row: ReportSend, report: compliance.Report, notes: list[str], address: str) -> None:
    from django_rq import get_connection as redis_connection

    from drportal.lib.ratelimit import TokenBucket

    sub = row.subscription
    label = f"{row.period_start:%Y-%m-%d} to {(row.period_end - timedelta(days=1)):%Y-%m-%d}"
    title = f"Backup compliance, {sub.get_frequency_display().split(' ')[0].lower()} report: {label}"
    scope = _scope(sub)
    link = settings.SITE_URL.rstrip("/") + "/backups/compliance/"
    lines = [title, "", f"Covers {scope}.", "", "What changed since the last report:"]
    lines += [f"- {n}" for n in notes]
    lines += ["", "Per policy:"] + [f"- {line.name}: {_pct(line.percent)}" for line in report.policies]
    lines += ["", f"Violations in the period: {len(report.violations)}.", "",
              "The CSV and the PDF attached hold the full report.", f"Live report: {link}"]
    mail = EmailMessage(title, "\n".join(lines), settings.DEFAULT_FROM_EMAIL, [address],
                        headers={"Message-ID": f"<compliance-report-{row.pk}@drportal>"})
    stem = f"backup-compliance-{row.period_start:%Y-%m-%d}-{sub.frequency}"
    # Times in the manager's own zone, as on the page they would open.
    profile = getattr(sub.user, "profile", None)
    zone = (profile.time_zone if profile is not None else "") or settings.DISPLAY_TIME_ZONE
    local = partial(timezone.localtime, timezone=ZoneInfo(zone))
    mail.attach(f"{stem}.csv", compliance_files.csv_text(report, local), "text/csv")
    mail.attach(f"{stem}.pdf", compliance_files.pdf(report, zone, local), "application/pdf")
    # The same shared e-mail rate limit as every notice and page.
    TokenBucket(redis_connection("default"), "email").take(1)
    get_connection("django.core.mail.backends.smtp.EmailBackend", fail_silently=False).send_messages([mail])


def _scope(sub: ReportSubscription) -> str:
    policies = sorted(p.name for p in sub.policies.all())
    customers = sorted(c.name for c in sub.customers.all())
    if not policies and not customers:
        return "every policy and every customer"
    parts = []
    if policies:
        parts.append("policies " + ", ".join(policies))
    if customers:
        parts.append("customers " + ", ".join(customers))
    return " and ".join(parts)
