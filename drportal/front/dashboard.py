"""What the dashboard shows: "are we safe right now?" at a glance, then the detail.

Each feature app contributes panels through a function named in PANELS; each returns a list of
{"template": ..., "data": ...} and must run a fixed number of queries. The summary tiles and the history
charts read the feature apps' models directly when the app is installed, and are left out when it is not,
so the dashboard works whichever feature branches have landed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.apps import apps
from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.module_loading import import_string

from drportal.incidents.models import Incident
from drportal.lib import clock
from drportal.lib.problems import Problem

PANELS = [
    "backups.panels.dashboard_panels",
    "scenarios.panels.dashboard_panels",
    "notifications.panels.dashboard_panels",
    "drportal.opsapi.panels.dashboard_panels",
]
OPEN = ["declared", "responding"]
HISTORY_DAYS = 30


@dataclass
class Tile:
    """One answer on the dashboard's first row: a number, what it counts, and whether it is bad."""

    label: str
    value: int | str
    bad: bool
    url: str = ""
    detail: str = ""


def feature_panels(request: HttpRequest, now: datetime) -> list[dict]:
    panels: list[dict] = []
    for dotted in PANELS:
        try:
            provider = import_string(dotted)
        except ImportError:
            continue  # that app has no dashboard panels (yet)
        panels.extend(provider(request, now))
    return panels


def backup_counts() -> dict[str, int] | None:
    """One query: the pairs in each bad state the dashboard names, as the last backups sweep counted them
    (counted here only before a sweep stored them)."""
    if not apps.is_installed("backups"):
        return None
    from backups.models import PolicyAssetStatus
    from backups.sweep import problem_counts

    stored = problem_counts()
    if stored is not None:
        return stored
    return PolicyAssetStatus.objects.aggregate(
        rpo_breached=Count("id", filter=Q(rpo_status="breached")),
        late=Count("id", filter=Q(freshness="late")),
        failed=Count("id", filter=Q(freshness="failed")),
        co_located=Count("id", filter=Q(offsite="co_located")),
    )


def scenario_facts(now: datetime) -> dict | None:
    """Readiness of the whole library, summarised, and the last drill.

    Assessing every scenario loads every server and image location (seconds on 5,000 servers), and its
    answer moves with inventory, drills and mitigations, not with each page view: the dashboard reads the
    stored assessment the scenarios pages read too (scenarios.readiness.current: recomputed by a job once it
    is a minute old)."""
    if not apps.is_installed("scenarios"):
        return None
    try:
        from scenarios import loader, readiness
        from scenarios.models import Drill
    except ImportError:
        return None
    lib = loader.library()
    assessed = readiness.current(list(lib.scenarios.values()), now)
    rows, problems = [], []
    for r in assessed.rows:
        failing = {c.name for c in r.checks if not c.ok}
        rows.append({"scenario": {"id": r.scenario.id, "title": r.scenario.title}, "ready": r.ready,
                     "reasons": r.reasons, "past_review": "Plan reviewed" in failing,
                     "not_drilled": "Drilled" in failing})
        problems += [Problem(c.problem, datetime.fromisoformat(c.since) if c.since else None, c.todo,
                             reverse("scenarios:detail", args=[r.scenario.id]))
                     for c in r.checks if not c.ok and c.problem]
    return {
        "last_drill": Drill.objects.select_related("run").order_by("-started_at").first(),
        "rows": rows,
        "errors": len(lib.errors),
        "assessed_at": assessed.computed_at,
        "refreshing": assessed.refreshing,
        "not_ready": [r for r in rows if not r["ready"]],
        "past_review": [r for r in rows if r["past_review"]],
        "not_drilled": [r for r in rows if r["not_drilled"]],
        "problems": problems,
    }


def problems(now: datetime, scenarios: dict | None) -> tuple[list[Problem], bool]:
    """Each thing in a bad state, in one sentence (what, since when, what to do), from the rows the feature
    apps' own status functions wrote: the backups in a bad state (backups.problems, three queries) and the
    plans whose promise losing their servers would break (the stored readiness, no query). With whether
    there are more backups in a bad state than are shown."""
    found: list[Problem] = []
    more = False
    if apps.is_installed("backups"):
        from backups.problems import dashboard_problems

        found, more = dashboard_problems(now)
    return found + (scenarios["problems"] if scenarios else []), more


def compliance_history(now: datetime, days: int = HISTORY_DAYS) -> list[tuple[date, float | None]]:
    """Percent of observed time compliant per UTC day, as the compliance report computes it (kept with its
    stored summary: compliance.summary)."""
    found = compliance_summary(now, days)
    return list(found.per_day) if found is not None else []


def compliance_summary(now: datetime, days: int = HISTORY_DAYS):
    """The compliance report's own figures for the last `days` days (its stored summary, one query), so the
    dashboard never says "no data" while the report shows some, nor a percentage the report calls provisional
    as a fact."""
    if not apps.is_installed("backups"):
        return None
    from backups import compliance

    return compliance.summary(days, now, customers=0, violations=0)


def incident_history(today: date, days: int = HISTORY_DAYS) -> list[tuple[date, int]]:
    """Incidents declared per day in the user's zone (one query)."""
    start = today - timedelta(days=days - 1)
    tz = timezone.get_current_timezone()
    since = datetime.combine(start, datetime.min.time(), tzinfo=tz)  # a range the declared_at index can use
    counts = {
        row["day"]: row["n"]
        # A drill declares an incident of its own: a rehearsal, not an incident that happened.
        for row in Incident.objects.filter(declared_at__gte=since, is_drill=False)
        .annotate(day=TruncDate("declared_at", tzinfo=tz)).values("day").annotate(n=Count("id"))
    }
    return [(start + timedelta(days=i), counts.get(start + timedelta(days=i), 0)) for i in range(days)]


def line_chart(series: list[tuple[date, float | None]], width: int = 300, height: int = 80,
               top: float = 100.0) -> dict:
    """SVG polyline coordinates for a 0..top series; days without data break the line into segments."""
    if not series:
        return {"segments": [], "width": width, "height": height, "latest": None}
    step = width / max(len(series) - 1, 1)
    segments: list[str] = []
    current: list[str] = []
    for i, (_, value) in enumerate(series):
        if value is None:
            if current:
                segments.append(" ".join(current))
            current = []
            continue
        y = height - (min(max(value, 0.0), top) / top) * (height - 4) - 2
        current.append(f"{i * step:.1f},{y:.1f}")
    if current:
        segments.append(" ".join(current))
    known = [(d, v) for d, v in series if v is not None]
    return {"segments": segments, "width": width, "height": height,
            "latest": known[-1] if known else None, "first": series[0][0], "last": series[-1][0]}


def bar_chart(series: list[tuple[date, int]], width: int = 300, height: int = 80) -> dict:
    most = max((n for _, n in series), default=0)
    slot = width / max(len(series), 1)
    bars = []
    for i, (day, n) in enumerate(series):
        h = 0 if not most else max((n / most) * (height - 4), 2 if n else 0)
        bars.append({"x": f"{i * slot + 1:.1f}", "y": f"{height - h:.1f}", "w": f"{max(slot - 2, 1):.1f}",
                     "h": f"{h:.1f}", "day": day, "n": n})
    return {"bars": bars, "width": width, "height": height, "total": sum(n for _, n in series),
            "first": series[0][0] if series else None, "last": series[-1][0] if series else None}


def tiles(open_count: int, backups: dict | None, scenarios: dict | None) -> list[Tile]:
    out = [Tile("Open incidents", open_count, open_count > 0, reverse("incidents:list"))]
    if backups is not None:
        index = reverse("backups:index")
        out += [
            Tile("RPO breaches", backups["rpo_breached"], backups["rpo_breached"] > 0, f"{index}?status=breached"),
            Tile("Late or failed backups", backups["late"] + backups["failed"],
                 backups["late"] + backups["failed"] > 0, f"{index}?status=late",
                 f"{backups['late']} late, {backups['failed']} failed"),
            Tile("Co-located backups", backups["co_located"], backups["co_located"] > 0,
                 f"{index}?status=co_located"),
        ]
    if scenarios is not None:
        index = reverse("scenarios:index")
        out += [
            Tile("Plans not ready", len(scenarios["not_ready"]), bool(scenarios["not_ready"]), index),
            Tile("Past review or not drilled",
                 len({r["scenario"]["id"] for r in scenarios["past_review"] + scenarios["not_drilled"]}),
                 bool(scenarios["past_review"] or scenarios["not_drilled"]), index,
                 f"{len(scenarios['past_review'])} past review, {len(scenarios['not_drilled'])} not drilled"),
        ]
    return out


def dashboard_context(request: HttpRequest) -> dict:
    now = clock.now()
    today = timezone.localdate(now)
    # With each one's run (a join, not a query per incident): an incomplete run shows as such, never green.
    # A drill is a rehearsal, never an open incident.
    open_incidents = list(Incident.objects.filter(status__in=OPEN, is_drill=False).select_related("scenario_run")
                          .order_by("-declared_at")[:20])
    backups = backup_counts()
    scenarios = scenario_facts(now)
    summary = tiles(len(open_incidents), backups, scenarios)
    found, more = problems(now, scenarios)
    # The compliance figures and their chart from the report's stored summary (one query for both).
    compliance = compliance_summary(now) if backups is not None else None
    return {
        "problems": found,
        "more_problems": more,
        "now": now,
        "open_incidents": open_incidents,
        "tiles": summary,
        "safe": not any(t.bad for t in summary),
        "scenarios": scenarios,
        "compliance_chart": line_chart(list(compliance.per_day)) if compliance is not None else None,
        "compliance": compliance,
        "incident_chart": bar_chart(incident_history(today)),
        "panels": feature_panels(request, now),
    }
