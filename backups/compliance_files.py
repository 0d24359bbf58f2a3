"""The compliance report as files: the CSV the page offers for download and a PDF of the same tables. Both
the page's download and the scheduled e-mail (backups.report_mail) use these, so they never disagree."""

from __future__ import annotations

import csv
import io
from typing import TextIO

from backups.compliance import Report


def cell(text: str) -> str:
    # A spreadsheet would run a cell starting with = + - @ as a formula (CSV injection).
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def write_csv(report: Report, stream: TextIO) -> None:
    out = csv.writer(stream)
    out.writerow(["section", "name", "observed_hours", "compliant_hours", "percent_compliant"])
    for section, lines in (("policy", report.policies), ("customer", report.customers)):
        for line in lines:
            out.writerow([section, cell(line.name), round(line.observed_seconds / 3600, 2),
                          round(line.compliant_seconds / 3600, 2), line.percent if line.percent is not None else ""])
    out.writerow([])
    out.writerow(["violation_at", "asset", "policy", "customer", "dimension", "from", "to"])
    for v in report.violations:
        out.writerow([v.at.isoformat(), cell(v.pair.asset.name), cell(v.pair.policy.name),
                      cell(v.pair.customer.name if v.pair.customer else ""), v.dimension, v.before, v.after])


def csv_text(report: Report) -> str:
    buffer = io.StringIO()
    write_csv(report, buffer)
    return buffer.getvalue()


def pdf(report: Report, *, title: str, notes: list[str] = ()) -> bytes:
    """The page's three tables (per policy, per customer, violations) drawn with ReportLab, as plandoc does."""
    from xml.sax.saxutils import escape

    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Table, TableStyle

    styles = getSampleStyleSheet()
    body, small = styles["BodyText"], styles["Italic"]

    def p(text: str, style=body) -> Paragraph:
        return Paragraph(escape(str(text)), style)

    def table(rows: list[list], widths: list[float]) -> Table:
        t = Table(rows, colWidths=[w * mm for w in widths], repeatRows=1)
        t.setStyle(TableStyle([
            ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 8.5), ("FONT", (0, 1), (-1, -1), "Helvetica", 8.5),
            ("GRID", (0, 0), (-1, -1), 0.25, colors.grey), ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
        ]))
        return t

    def percent(line) -> str:
        return "—" if line.percent is None else f"{line.percent} %"

    story: list = [p(title, styles["Title"]),
                   p(f"From {report.since:%Y-%m-%d %H:%M} to {report.until:%Y-%m-%d %H:%M} UTC.", small)]
    story += [p(n) for n in notes]
    story.append(p("Per policy", styles["Heading2"]))
    story.append(table([["Policy", "Observed (h)", "Compliant"]] + [
        [p(line.name), f"{line.observed_seconds / 3600:.0f}", percent(line)] for line in report.policies
    ] or [["Nothing observed in this period.", "", ""]], [110, 30, 30]))
    story.append(p("Per customer (least compliant first)", styles["Heading2"]))
    story.append(table([["Customer", "Compliant"]] + [[p(line.name), percent(line)] for line in report.customers]
                       or [["Nothing observed in this period.", ""]], [140, 30]))
    story.append(p(f"Violations ({len(report.violations)})", styles["Heading2"]))
    story.append(table([["When (UTC)", "Asset", "Policy", "Customer", "What"]] + [
        [f"{v.at:%Y-%m-%d %H:%M}", p(v.pair.asset.name), p(v.pair.policy.name),
         p(v.pair.customer.name if v.pair.customer else "—"), p(f"{v.dimension}: {v.before} → {v.after}")]
        for v in report.violations] or [["No violations.", "", "", "", ""]], [28, 40, 40, 35, 32]))
    out = io.BytesIO()
    SimpleDocTemplate(out, pagesize=A4, title=title, author="drportal", leftMargin=15 * mm, rightMargin=15 * mm,
                      topMargin=15 * mm, bottomMargin=15 * mm).build(story)
    return out.getvalue()
