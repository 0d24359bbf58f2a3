"""The compliance report as files: the CSV the page offers for download and the PDF. The page's downloads and
the scheduled e-mail (backups.report_mail) both use these, and both print backups.compliance's one table, so
the page, the CSV, the PDF and the e-mail never disagree."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import datetime
from typing import TextIO

from backups import compliance
from backups.compliance import Report


def cell(text: str) -> str:
    # A spreadsheet would run a cell starting with = + - @ as a formula (CSV injection).
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def write_csv(report: Report, stream: TextIO, local: Callable[[datetime], datetime]) -> None:
    """`local` turns a UTC datetime into the reader's zone (the offset is in every ISO time written)."""
    out = csv.writer(stream)
    out.writerow(["period_from", "period_to", "observed_hours", "period_hours", "observed_percent", "note"])
    out.writerow([local(report.since).isoformat(), local(report.until).isoformat(),
                  compliance.hours(report.observed_seconds), compliance.hours(report.period_seconds),
                  round(100 * report.coverage, 1), report.withheld_reason])
    out.writerow([])
    out.writerow(compliance.LINE_HEADER)
    for row in compliance.table(report):
        out.writerow([cell(c) for c in row])
    out.writerow([])
    out.writerow(["violation_at", "asset", "policy", "customer", "dimension", "from", "to"])
    for v in report.violations:
        out.writerow([local(v.at).isoformat(), cell(v.pair.asset.name), cell(v.pair.policy.name),
                      cell(v.pair.customer.name if v.pair.customer else ""), v.dimension, v.before, v.after])


def csv_text(report: Report, local: Callable[[datetime], datetime]) -> str:
    buffer = io.StringIO()
    write_csv(report, buffer, local)
    return buffer.getvalue()


def pdf(report: Report, zone_name: str, local: Callable[[datetime], datetime]) -> bytes:
    return compliance.pdf(report, zone_name, local)
