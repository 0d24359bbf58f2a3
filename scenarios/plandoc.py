"""The plan as a document: every scenario with its steps, objectives, owner, mitigations and review dates,
regenerated from live data. `entries()` feeds both the plan page and `pdf()`, so the two never disagree.

The PDF is drawn with ReportLab's platypus (pure-Python wheels, no system libraries such as Cairo or Pango,
which HTML-to-PDF engines like WeasyPrint need), so it builds on any machine `pip install` works on.
"""

from __future__ import annotations

import io
import re
from datetime import date, datetime
from typing import Any

from drportal.lib.timefmt import minutes
from scenarios import loader, promise, readiness
from scenarios.models import Mitigation


def entries(today: date, now: datetime | None = None) -> dict[str, Any]:
    from drportal.lib import clock

    lib = loader.library()
    items = {m.slug: m for m in Mitigation.objects.all()}
    scenarios = list(lib.scenarios.values())
    # The promise and whether the surviving copies keep it, from the readiness snapshot (one query): computing
    # the objectives here took a query per scenario over every customer database (0.6 s at bench scale).
    assessed = {r.scenario.id: r for r in readiness.current(scenarios, now or clock.now()).rows}
    checks = {sid: next((c for c in r.checks if c.name == readiness.PROMISE_CHECK), None)
              for sid, r in assessed.items()}
    rows = []
    for scenario in sorted(scenarios, key=lambda s: (s.data.get("organisation", ""), s.id)):
        due = readiness.review_due(scenario, today)
        # A snapshot stored before it kept objectives has none: computed here until the next refresh.
        target = getattr(assessed.get(scenario.id), "objective", None) or promise.objective(scenario)
        check = checks.get(scenario.id)
        rows.append({"scenario": scenario, "review_due": due, "review_overdue": due < today,
                     "objective": target, "promise_finding": check.detail if check and not check.ok else "",
                     "mitigations": [(slug, items.get(slug)) for slug in scenario.data.get("mitigations", [])]})
    return {"entries": rows, "errors": lib.errors, "today": today,
            "mitigations": [(m, m.status(today)) for m in items.values()]}


# A plan is read before any incident: the {placeholders} a run fills in are said as words ("Recover each
# database", "[INC-n] Service interruption"), never printed as raw braces a reader takes for a broken page.
SLOT_WORDS = {
    "server": "each server", "servers": "the servers", "database": "each database", "databases": "the databases",
    "customer": "each customer", "asset": "each asset", "zone": "each zone", "service": "each service",
    "office": "each office", "incident_id": "n", "incident_title": "the incident's title",
    "target_region": "the target region", "region": "the region",
}
SLOT = re.compile(r"\{(\w+)\}")


def slot_words(text: str, wrap=lambda words: words) -> str:
    """`text` with each {placeholder} as the words a plan reader understands, each passed through `wrap`."""
    return SLOT.sub(lambda m: wrap(SLOT_WORDS.get(m.group(1), m.group(1).replace("_", " "))), str(text))


def plan_step(step: dict) -> dict:
    """The step as the plan shows it: its texts with their placeholders said in words."""
    shown = dict(step)
    for key in ("title", "subject", "instructions", "question", "reason", "condition"):
        if shown.get(key):
            shown[key] = slot_words(shown[key])
    if shown.get("checklist"):
        shown["checklist"] = [slot_words(item) for item in shown["checklist"]]
    return shown


def _step_lines(step: dict) -> list[str]:
    """What the page's _steps_doc.html says under a step's title, as plain sentences."""
    lines = []
    if step.get("instructions"):
        lines.append(step["instructions"])
    # Only characters the PDF's standard fonts (WinAnsi) have: no ☐ or →.
    lines += [f"[ ] {item}" for item in step.get("checklist", [])]
    if step.get("question"):
        lines.append(step["question"])
        lines += [f"• {o['label']}: then {', '.join(o['next'])}" for o in step.get("options", [])]
    kind = step["kind"]
    if kind == "wait":
        parts = [f"Wait {step['duration_minutes']} min" if step.get("duration_minutes") else "Wait",
                 f" until: {step['condition']}" if step.get("condition") else "",
                 f"; remind every {step['remind_every_minutes']} min" if step.get("remind_every_minutes") else ""]
        lines.append("".join(parts))
    if kind == "approval":
        lines.append(f"Approval by a {step.get('approver_role', 'manager')}: {step.get('reason', '')}")
    if kind == "automated":
        lines.append(f"Action {step['action']}" + (f" for each {step['for_each']}" if step.get("for_each") else ""))
    if kind == "notify":
        lines.append(f"Notice to {step['audience']}" + (f" ({step['role']})" if step.get("role") else "")
                     + f": “{step.get('subject', '')}”")
    if kind == "manual" and step.get("assignee_role"):
        lines.append(f"Assigned to {step['assignee_role']}" + (
            f"; needs {step['requires']}" if step.get("requires", "nothing") != "nothing" else ""))
    return lines


def pdf(context: dict[str, Any]) -> bytes:
    from xml.sax.saxutils import escape

    from reportlab.lib import colors
    from reportlab.lib.enums import TA_LEFT
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import (
        KeepTogether,
        ListFlowable,
        ListItem,
        PageBreak,
        Paragraph,
        SimpleDocTemplate,
        Spacer,
        Table,
        TableStyle,
    )

    styles = getSampleStyleSheet()
    body = ParagraphStyle("body", parent=styles["BodyText"], fontSize=9.5, leading=12, alignment=TA_LEFT)
    small = ParagraphStyle("small", parent=body, fontSize=8, leading=10, textColor=colors.HexColor("#555555"))
    quote = ParagraphStyle("quote", parent=body, fontName="Helvetica-Oblique", leftIndent=8,
                           textColor=colors.HexColor("#333333"))
    alert = ParagraphStyle("alert", parent=body, textColor=colors.HexColor("#b00020"), fontName="Helvetica-Bold")
    h1, h2, h3 = styles["Title"], styles["Heading2"], ParagraphStyle("h3", parent=styles["Heading4"], spaceBefore=6)

    def p(text: str, style=body) -> Paragraph:
        return Paragraph(escape(str(text)), style)

    today: date = context["today"]
    story: list = [p("Disaster Recovery Plan", h1),
                   p(f"Generated {today:%B %-d, %Y} from the live scenarios, mitigations and review dates.", small)]
    overdue = [e for e in context["entries"] if e["review_overdue"]]
    if overdue:
        story.append(p(f"{len(overdue)} scenario(s) past their review date: "
                       + "; ".join(e["scenario"].title for e in overdue), alert))
    if context["errors"]:
        story.append(p(f"{len(context['errors'])} scenario file error(s): those scenarios are missing from this "
                       "document (see the Scenarios page).", alert))

    story.append(p("Standing mitigations", h2))
    rows = [["Mitigation", "Owner", "Renews", "Status"]]
    rows += [[p(m.title), p(m.owner), m.renews_on.isoformat() if m.renews_on else "—", str(status)]
             for m, status in context["mitigations"]] or [["None registered.", "", "", ""]]
    table = Table(rows, colWidths=[75 * mm, 50 * mm, 25 * mm, 25 * mm], repeatRows=1)
    table.setStyle(TableStyle([
        ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 9), ("FONT", (0, 1), (-1, -1), "Helvetica", 9),
        ("GRID", (0, 0), (-1, -1), 0.25, colors.grey), ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
    ]))
    story.append(table)

    for number, entry in enumerate(context["entries"], start=1):
        scenario = entry["scenario"]
        data = scenario.data
        story += [PageBreak(), p(f"{number}. {scenario.title}", h2),
                  p(f"{data.get('organisation', '')} · {data.get('source', '')}", small),
                  p("Event description", h3), p(data.get("trigger", "")),
                  p("Objectives", h3),
                  p(f"Recovery time {minutes(scenario.rto_minutes)}; {promise.rpo_words(entry['objective'])}.")]
        if entry["promise_finding"]:
            story.append(p(entry["promise_finding"], alert))
        if data.get("objectives", {}).get("quote"):
            story.append(p(f"“{data['objectives']['quote']}”", quote))
        if data.get("target_region"):
            story.append(p(f"Target region: {data['target_region']} — {scenario.target_region_source}"))
        review = (f"REVIEW OVERDUE since {entry['review_due']:%Y-%m-%d}" if entry["review_overdue"]
                  else f"next review by {entry['review_due']:%Y-%m-%d}")
        story.append(p(f"Owner: {data.get('owner', '')} · Last reviewed {data.get('last_reviewed', '')} · {review}",
                       alert if entry["review_overdue"] else body))
        if entry["mitigations"]:
            story.append(p("Mitigation factors", h3))
            story.append(ListFlowable([ListItem(p(
                f"{m.title} ({m.owner}" + (f", renews {m.renews_on}" if m.renews_on else "") + ")" if m
                else f"{slug} (not in the register)")) for slug, m in entry["mitigations"]], bulletType="bullet"))
        story.append(p("Response", h3))
        for index, step in enumerate(map(plan_step, scenario.steps), start=1):
            after = f" — after {', '.join(step['after'])}" if step.get("after") else ""
            block = [Paragraph(f"<b>{index}. {escape(step['title'])}</b> [{escape(step['kind'])}]{escape(after)}",
                               body)]
            if step.get("quote"):
                block.append(p(f"“{step['quote']}”", quote))
            block += [p(line, body) for line in _step_lines(step)]
            block.append(Spacer(1, 3 * mm))
            story.append(KeepTogether(block))

    def footer(canvas, doc) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica", 7.5)
        canvas.drawString(18 * mm, 10 * mm, f"Disaster Recovery Plan · generated {today:%Y-%m-%d}")
        canvas.drawRightString(A4[0] - 18 * mm, 10 * mm, f"page {doc.page}")
        canvas.restoreState()

    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=A4, title="Disaster Recovery Plan", author="drportal",
                            leftMargin=18 * mm, rightMargin=18 * mm, topMargin=16 * mm, bottomMargin=16 * mm)
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return out.getvalue()
