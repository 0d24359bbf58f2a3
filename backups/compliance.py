"""The manager's compliance report: share of observed time each policy and each customer was compliant,
from the daily rollups, and the violations (changes into an alerting state) in the period."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import F, Sum

from backups.models import DailyRollup, StatusChange

PERIODS = (7, 30, 90)


@dataclass(frozen=True)
class Line:
    name: str
    observed_seconds: float
    compliant_seconds: float

    @property
    def percent(self) -> float | None:
        if not self.observed_seconds:
            return None
        return round(100.0 * self.compliant_seconds / self.observed_seconds, 2)


@dataclass(frozen=True)
class Report:
    days: int
    since: datetime
    until: datetime
    policies: list[Line]
    customers: list[Line]
    violations: list[StatusChange]


def report(days: int, now: datetime, *, violations_limit: int = 500) -> Report:
    since = now - timedelta(days=days)
    rollups = DailyRollup.objects.filter(day__gt=since.date(), day__lte=now.date())
    policies = [
        Line(r["policy__name"], r["observed"] or 0.0, r["compliant"] or 0.0)
        for r in rollups.values("policy__name").annotate(observed=Sum("observed_seconds"),
                                                        compliant=Sum("compliant_seconds")).order_by("policy__name")
    ]
    customers = [
        Line(r["customer__name"], r["observed"] or 0.0, r["compliant"] or 0.0)
        for r in rollups.filter(customer__isnull=False).values("customer__name")
        .annotate(observed=Sum("observed_seconds"), compliant=Sum("compliant_seconds"))
        .order_by(F("compliant") / F("observed"), "customer__name")
    ]
    violations = list(
        StatusChange.objects.filter(alert=True, at__gt=since, at__lte=now)
        .select_related("pair__policy", "pair__asset", "pair__customer").order_by("-at")[:violations_limit]
    )
    return Report(days, since, now, policies, customers, violations)
