"""The compliance report as files: the CSV the page offers for download and the PDF. The page's downloads and
the scheduled e-mail (backups.report_mail) both use these, and both print backups.compliance's one table, so
the page, the CSV, the PDF and the e-mail never disagree."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import TextIO

from backups import compliance
from backups.compliance import Report


def cell(text: str) -> str:
    # A spreadsheet would run a cell starting with = + - @ as a formula (CSV injection).
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def csv_rows(report: Report, local: Callable[[datetime], datetime]) -> Iterator[list]:
    """The CSV's rows, one at a time: the page streams them (every violation of a period at 10x can be
    hundreds of thousands). `local` turns a UTC datetime into the reader's zone (the offset is in every ISO
    time written)."""
    yield ["period_from", "period_to", "observed_hours", "period_hours", "observed_percent", "note"]
    yield [local(report.since).isoformat(), local(report.until).isoformat(),
           compliance.hours(report.observed_seconds), compliance.hours(report.period_seconds),
           round(100 * report.coverage, 1), report.withheld_reason]
    yield []
    yield compliance.LINE_HEADER
    for row in compliance.table(report):
        yield [cell(c) for c in row]
    yield []
    yield ["violation_at", "asset", "policy", "customer", "dimension", "from", "to"]
    for v in report.violations:
        yield [local(v.at).isoformat(), cell(v.pair.asset.name), cell(v.pair.policy.name),
               cell(v.pair.customer.name if v.pair.customer else ""), v.dimension, v.before, v.after]


def write_csv(report: Report, stream: TextIO, local: Callable[[datetime], datetime]) -> None:
    csv.writer(stream).writerows(csv_rows(report, local))


def streamed_csv(report: Report, local: Callable[[datetime], datetime]) -> Iterator[str]:
    """The CSV as text lines, for a streaming response."""

    class Line:
        def write(self, text: str) -> str:
            return text

    out = csv.writer(Line())
    return (out.writerow(row) for row in csv_rows(report, local))


def csv_text(report: Report, local: Callable[[datetime], datetime]) -> str:
    buffer = io.StringIO()
    write_csv(report, buffer, local)
    return buffer.getvalue()


def pdf(report: Report, zone_name: str, local: Callable[[datetime], datetime]) -> bytes:
    return compliance.pdf(report, zone_name, local)
