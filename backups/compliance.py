"""The manager's compliance report: share of observed time each policy and each customer was compliant,
from the daily rollups, and the violations (changes into an alerting state) in the period.

`report()` is the one computation: the page, the printable page, the CSV, the PDF and the dashboard all read
it, and `table()` turns it into the cells all of them print, so they cannot disagree on a figure or a unit.
Time is counted in asset-hours: one policy-asset pair watched for one hour is one asset-hour.
"""

from __future__ import annotations

import dataclasses
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from django.db import connection
from django.db.models import Sum

from backups.models import DailyRollup, ObservedDay, StatusChange, SweepState

PERIODS = (7, 30, 90)
# Below this share of the period observed by the sweep, a percentage is not a fact about the period: it is
# shown greyed as provisional, with the reason, never as the period's figure.
MIN_COVERAGE = 0.9
UNIT = "asset-hours"
# The PDF is the report's summary: the total, every policy, this many least compliant customers and the
# violations. The CSV lists every customer: at 50,000 customers a PDF of every line is some 1,400 pages that
# nobody reads, took minutes to lay out, and would ride in every e-mailed report (issue 17).
PDF_CUSTOMERS = 100


def hours(seconds: float) -> float:
    """Seconds as hours, rounded as every output prints them."""
    return round(seconds / 3600, 2)


@dataclass(frozen=True)
class Line:
    name: str
    observed_seconds: float
    compliant_seconds: float
    unverified_seconds: float = 0.0

    @property
    def percent(self) -> float | None:
        if not self.observed_seconds:
            return None
        return round(100.0 * self.compliant_seconds / self.observed_seconds, 2)

    @property
    def observed_hours(self) -> float:
        return hours(self.observed_seconds)

    @property
    def compliant_hours(self) -> float:
        return hours(self.compliant_seconds)

    @property
    def unverified_hours(self) -> float:
        return hours(self.unverified_seconds)

    @property
    def why(self) -> str:
        """Why the line is below 100 %, when part of it is only for want of a restore test."""
        missing = self.observed_seconds - self.compliant_seconds
        if missing <= 0 or not self.unverified_seconds:
            return ""
        if self.unverified_seconds >= missing - 1e-6:
            return ("fresh, within the RPO and off-site all the time not counted; not compliant only because "
                    "no restore test passed within the policy's window (unverified)")
        return (f"{hours(self.unverified_seconds)} of the {hours(missing)} non-compliant {UNIT}: no restore test "
                "passed within the policy's window (unverified)")


@dataclass(frozen=True)
class Report:
    days: int
    since: datetime
    until: datetime
    policies: list[Line]
    customers: list[Line]
    violations: Iterable[StatusChange]
    observed_seconds: float = 0.0
    total: Line = field(default_factory=lambda: Line("All policies", 0.0, 0.0))
    # How many customers have a line in the period: more than `customers` holds when the report was asked
    # for the worst few only (the page, the PDF).
    customer_count: int = 0
    # How many violations the period holds: `violations` lists the newest few only.
    violation_count: int = 0
    # Percent compliant per UTC day of the period (daily()), kept with a stored summary for the dashboard's chart.
    per_day: tuple[tuple[date, float | None], ...] = ()

    @property
    def more_customers(self) -> int:
        """Customers left out of `customers`, each more compliant than the last one in it."""
        return max(self.customer_count - len(self.customers), 0)

    @property
    def period_seconds(self) -> float:
        return (self.until - self.since).total_seconds()

    @property
    def coverage(self) -> float:
        """The share of the period the sweep observed (0..1)."""
        return min(self.observed_seconds / self.period_seconds, 1.0) if self.period_seconds > 0 else 0.0

    @property
    def certified(self) -> bool:
        return self.coverage >= MIN_COVERAGE

    @property
    def coverage_text(self) -> str:
        return (f"Observed {hours(self.observed_seconds)} h of the period's {hours(self.period_seconds)} h "
                f"({round(100 * self.coverage, 1)} %).")

    @property
    def withheld_reason(self) -> str:
        if self.certified:
            return ""
        return (f"Percentages are provisional: only {round(100 * self.coverage, 1)} % of the period was observed, "
                f"below the {round(100 * MIN_COVERAGE)} % a report needs to state compliance for the period.")


def period_start(days: int, now: datetime) -> datetime:
    """Rollups are kept per UTC day: a report of `days` days covers today so far and the days - 1 before it,
    from midnight UTC, so the period it names is exactly the time its rows can cover."""
    first = now.astimezone(UTC).date() - timedelta(days=days - 1)
    return datetime.combine(first, time.min, tzinfo=UTC)


def _lines(rows, key: str) -> list[Line]:
    return [Line(r[key], r["observed"] or 0.0, r["compliant"] or 0.0, r["unverified"] or 0.0) for r in rows]


SUMS = {"observed": Sum("observed_seconds"), "compliant": Sum("compliant_seconds"),
        "unverified": Sum("unverified_seconds")}


def report(days: int, now: datetime, *, violations_limit: int | None = 500, detail: bool = True,
           customers_limit: int | None = None) -> Report:
    """The period's figures; without `detail` (the dashboard) only the policies, the total and the observed
    time, without the customers and the violations. With `customers_limit` only that many customers, the
    least compliant first, and how many there are in all: PostgreSQL adds up every customer and sorts them,
    and only the rows asked for come back (issue 17: 50,000 customers summed and built in Python took a
    second for a page that lists 100)."""
    since = period_start(days, now)
    rollups = DailyRollup.objects.filter(day__gte=since.date(), day__lte=now.astimezone(UTC).date())
    policies = _lines(rollups.values("policy__name").annotate(**SUMS).order_by("policy__name"), "policy__name")
    customers, customer_count = ([], 0) if not detail else _customers(
        since.date(), now.astimezone(UTC).date(), customers_limit)
    violations = newest_violations(since, now, violations_limit) if detail else []
    violation_count = _violations(since, now).count() if detail else 0
    observed = ObservedDay.objects.filter(day__gte=since.date(), day__lte=now.astimezone(UTC).date()).aggregate(
        s=Sum("seconds"))["s"] or 0.0
    total = Line("All policies", sum(p.observed_seconds for p in policies), sum(p.compliant_seconds for p in policies),
                 sum(p.unverified_seconds for p in policies))
    return Report(days, since, now, policies, customers, violations, observed, total, customer_count,
                  violation_count)


def _violations(since: datetime, until: datetime):
    return StatusChange.objects.filter(alert=True, at__gte=since, at__lte=until)


def newest_violations(since: datetime, until: datetime, limit: int | None) -> list[StatusChange]:
    return list(_printed_violations(since, until)[:limit])


def every_violation(report: Report) -> Iterator[StatusChange]:
    """Every violation of the report's period, newest first, read in chunks (for the streamed CSV)."""
    return _printed_violations(report.since, report.until).iterator(chunk_size=2000)


def _printed_violations(since: datetime, until: datetime):
    # What every output prints of a violation, no more: 500 whole rows of four tables took a third of the
    # page's time at 10x (issue 17).
    return (_violations(since, until).select_related("pair__policy", "pair__asset", "pair__customer")
            .only("at", "dimension", "before", "after", "pair__policy__name", "pair__asset__name",
                  "pair__customer__name").order_by("-at"))


# The customers' lines, least compliant first, and how many customers there are, in one query. PostgreSQL
# adds up each customer's rollups by id and sorts the sums (ties by id); the count is a window over the
# grouped rows, taken before the LIMIT; only the rows kept are joined to their names.
_CUSTOMERS = """
SELECT c.name, w.observed, w.compliant, w.unverified, w.n
FROM (SELECT customer_id, SUM(observed_seconds) AS observed, SUM(compliant_seconds) AS compliant,
             SUM(unverified_seconds) AS unverified, COUNT(*) OVER () AS n
      FROM backups_dailyrollup
      WHERE day >= %(first)s AND day <= %(last)s AND customer_id IS NOT NULL
      GROUP BY customer_id
      ORDER BY SUM(compliant_seconds) / NULLIF(SUM(observed_seconds), 0), customer_id
      LIMIT %(limit)s) AS w
JOIN inventory_customer AS c ON c.id = w.customer_id
ORDER BY w.compliant / NULLIF(w.observed, 0), w.customer_id
"""


def _customers(first: date, last: date, limit: int | None) -> tuple[list[Line], int]:
    with connection.cursor() as cur:
        cur.execute(_CUSTOMERS, {"first": first, "last": last, "limit": limit})
        rows = cur.fetchall()
    return [Line(name, o or 0.0, c or 0.0, u or 0.0) for name, o, c, u, _n in rows], rows[0][4] if rows else 0


# --- the stored summary the pages read -------------------------------------------------------------------

# The page, the printable page, the PDF and the dashboard read the period's figures as report() computed them at
# most SUMMARY_AGE ago, kept on a SweepState row per period, not summed again on every view: report() sums every
# rollup of the period (100,000 a day at 10x), some 2 s for a month on the shared machine, and a second per view
# at 1x with 90 days (issue 17). The sweep computes each period anew every SUMMARY_REFRESH, not every minute
# (three periods each minute would take a third of a core at 10x). A stored summary is read only for the same
# first day of the period and while no rollup row was added since (a new customer, a new day); else the view
# computes it and stores it. Its moment is the report's `until`: the pages print "to" that time. The violations
# are read live up to that moment, the newest first, by the `at` index.
SUMMARY_CUSTOMERS = 100
VIOLATIONS_SHOWN = 500
SUMMARY_REFRESH = timedelta(minutes=10)
SUMMARY_AGE = timedelta(minutes=15)
# Part of every summary's basis: a summary stored by code that wrote other fields is computed again, not read.
SUMMARY_FORMAT = 2
_STORED = """SELECT (SELECT max(id) FROM backups_dailyrollup), (SELECT value FROM backups_sweepstate WHERE name = %s)"""


def summary(days: int, now: datetime, *, customers: int = SUMMARY_CUSTOMERS,
            violations: int = VIOLATIONS_SHOWN) -> Report:
    """report(days, now) with the `customers` least compliant customers and the `violations` newest violations
    (their count is the period's), from the stored summary while it holds."""
    basis, stored = _stored(days, now)
    if stored is None or now - datetime.fromisoformat(stored["until"]) > SUMMARY_AGE or _too_few(stored, customers):
        found = _computed(days, now, max(customers, SUMMARY_CUSTOMERS))
        _store(f"compliance:{days}", basis, found)
    else:
        found = _from_json(stored)
    shown = newest_violations(found.since, found.until, violations) if violations else []
    return dataclasses.replace(found, customers=found.customers[:customers], violations=shown)


def store_summaries(now: datetime) -> None:
    """The sweep calls this once it has added to the rollups: each period's summary older than SUMMARY_REFRESH
    (or resting on other rollups) computed anew."""
    for days in PERIODS:
        basis, stored = _stored(days, now)
        if stored is None or now - datetime.fromisoformat(stored["until"]) >= SUMMARY_REFRESH:
            _store(f"compliance:{days}", basis, _computed(days, now, SUMMARY_CUSTOMERS))


def _computed(days: int, now: datetime, customers: int) -> Report:
    found = report(days, now, customers_limit=customers, violations_limit=0)
    return dataclasses.replace(found, per_day=tuple(daily(days, now)))


def _stored(days: int, now: datetime) -> tuple[list, dict | None]:
    """The basis a summary for `days` at `now` rests on, and the stored summary if it rests on the same."""
    with connection.cursor() as cur:
        cur.execute(_STORED, [f"compliance:{days}"])
        newest, value = cur.fetchone()
    basis = [SUMMARY_FORMAT, newest, period_start(days, now).isoformat()]
    stored = json.loads(value) if value else None
    return basis, stored if stored is not None and stored["basis"] == basis else None


def _too_few(stored: dict, customers: int) -> bool:
    kept = len(stored["customers"])
    return customers > kept and stored["customer_count"] > kept


def _line_json(line: Line) -> list:
    return [line.name, line.observed_seconds, line.compliant_seconds, line.unverified_seconds]


def _store(name: str, basis: list, found: Report) -> None:
    value = {"basis": basis, "days": found.days, "since": found.since.isoformat(), "until": found.until.isoformat(),
             "policies": [_line_json(x) for x in found.policies], "customers": [_line_json(x) for x in found.customers],
             "observed": found.observed_seconds, "total": _line_json(found.total),
             "customer_count": found.customer_count, "violation_count": found.violation_count,
             "per_day": [[day.isoformat(), percent] for day, percent in found.per_day]}
    # An upsert: a view and the sweep storing at once both write, the later wins; each carries its basis, so
    # one resting on older rollups is computed again by the next reader.
    SweepState.objects.bulk_create([SweepState(name=name, until=found.until, value=json.dumps(value))],
                                   update_conflicts=True, unique_fields=["name"], update_fields=["until", "value"])


def _from_json(stored: dict) -> Report:
    return Report(stored["days"], datetime.fromisoformat(stored["since"]), datetime.fromisoformat(stored["until"]),
                  [Line(*x) for x in stored["policies"]], [Line(*x) for x in stored["customers"]], [],
                  stored["observed"], Line(*stored["total"]), stored["customer_count"], stored["violation_count"],
                  tuple((date.fromisoformat(day), percent) for day, percent in stored["per_day"]))


def daily(days: int, now: datetime) -> list[tuple[date, float | None]]:
    """Percent of observed time compliant per UTC day (the days the rollups are kept in), one query."""
    end = now.astimezone(UTC).date()
    start = end - timedelta(days=days - 1)
    sums = {row["day"]: row for row in
            DailyRollup.objects.filter(day__gte=start, day__lte=end).values("day").annotate(**SUMS).order_by()}
    out: list[tuple[date, float | None]] = []
    for i in range(days):
        day = start + timedelta(days=i)
        row = sums.get(day)
        line = Line("", row["observed"] or 0.0, row["compliant"] or 0.0) if row else None
        out.append((day, line.percent if line else None))
    return out


# --- the one table every output prints -------------------------------------------------------------------

LINE_HEADER = ["section", "name", f"observed_{UNIT}", f"compliant_{UNIT}", f"unverified_{UNIT}",
               "percent_compliant", "certified", "why"]


def cells(section: str, line: Line, report: Report) -> list[str]:
    percent = "" if line.percent is None else f"{line.percent:.2f}"
    return [section, line.name, f"{line.observed_hours:.2f}", f"{line.compliant_hours:.2f}",
            f"{line.unverified_hours:.2f}", percent, "yes" if report.certified and percent else "no", line.why]


def table(report: Report) -> list[list[str]]:
    """The report's figures as printed, one row per line: the page, the CSV and the PDF print these cells."""
    rows = [cells("total", report.total, report)] if report.total.observed_seconds else []
    rows += [cells("policy", line, report) for line in report.policies]
    rows += [cells("customer", line, report) for line in report.customers]
    return rows


def violations_heading(report: Report) -> str:
    """How many violations are listed, of how many the period holds (only the newest are listed)."""
    shown = len(report.violations)
    return f"the newest {shown:,} of {report.violation_count:,}" if report.violation_count > shown else f"{shown:,}"


def pdf(report: Report, zone_name: str, local) -> bytes:
    """The report as a PDF (ReportLab, as the plan PDF): the same cells as the page and the CSV. `local`
    turns a UTC datetime into the reader's zone."""
    from xml.sax.saxutils import escape

    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Table, TableStyle

    styles = getSampleStyleSheet()
    body = ParagraphStyle("body", parent=styles["BodyText"], fontSize=9, leading=11)
    grey = ParagraphStyle("grey", parent=body, textColor=colors.HexColor("#666666"))

    def p(text: str, style=body) -> Paragraph:
        return Paragraph(escape(str(text)), style)

    story: list = [
        p("Backup compliance report", styles["Title"]),
        p(f"From {local(report.since):%Y-%m-%d %H:%M} to {local(report.until):%Y-%m-%d %H:%M} ({zone_name}), "
          f"{report.days} days. Compliant: fresh, within the RPO objective, off-site where required and "
          f"restore-tested where required. Time in {UNIT} (one asset watched for one hour)."),
        p(report.coverage_text),
    ]
    if report.withheld_reason:
        story.append(p(report.withheld_reason, grey))
    shown = dataclasses.replace(report, customers=report.customers[:PDF_CUSTOMERS])
    header = ["Section", "Name", "Observed", "Compliant", "Unverified", "%", "Certified", "Why"]
    rows = [header] + [[p(c, grey if not report.certified else body) if i in (1, 7) else c
                        for i, c in enumerate(row)] for row in table(shown)]
    grid = Table(rows, colWidths=[18 * mm, 60 * mm, 22 * mm, 22 * mm, 22 * mm, 16 * mm, 16 * mm, 90 * mm],
                 repeatRows=1)
    style = [("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 8.5), ("FONT", (0, 1), (-1, -1), "Helvetica", 8.5),
             ("GRID", (0, 0), (-1, -1), 0.25, colors.grey), ("VALIGN", (0, 0), (-1, -1), "TOP"),
             ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee"))]
    if not report.certified:
        style.append(("TEXTCOLOR", (5, 1), (5, -1), colors.HexColor("#888888")))
    grid.setStyle(TableStyle(style))
    story.append(grid)
    if shown.more_customers:
        more = shown.more_customers
        story.append(p(f"{more:,} more customer{'s' if more != 1 else ''}, each more compliant than those above: "
                       f"this PDF is the summary (the total, every policy, the {len(shown.customers)} least compliant "
                       "customers and the violations); the CSV lists every customer."))
    story.append(p(f"Violations ({violations_heading(report)})", styles["Heading2"]))
    vrows = [["When", "Asset", "Policy", "Customer", "What"]] + [
        [f"{local(v.at):%Y-%m-%d %H:%M}", p(v.pair.asset.name), p(v.pair.policy.name),
         p(v.pair.customer.name if v.pair.customer else "—"), p(f"{v.dimension}: {v.before} to {v.after}")]
        for v in report.violations] or [["None.", "", "", "", ""]]
    vgrid = Table(vrows, colWidths=[30 * mm, 55 * mm, 65 * mm, 50 * mm, 60 * mm], repeatRows=1)
    vgrid.setStyle(TableStyle(style[:4]))
    story.append(vgrid)
    out = io.BytesIO()
    SimpleDocTemplate(out, pagesize=landscape(A4), title="Backup compliance report", author="drportal",
                      leftMargin=12 * mm, rightMargin=12 * mm, topMargin=12 * mm, bottomMargin=12 * mm).build(story)
    return out.getvalue()
