"""One way to write a duration and a moment (drportal.lib.timefmt)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.utils import timezone

from drportal.lib import timefmt


def test_a_duration_names_every_unit_down_to_minutes():
    assert timefmt.duration(timedelta(days=6, hours=12, minutes=55, seconds=9)) == "6 d 12 h 55 min"
    assert timefmt.duration(26 * 3600) == "1 d 2 h"
    assert timefmt.duration(24 * 3600) == "1 d"


def test_seconds_count_only_under_an_hour():
    assert timefmt.duration(192) == "3 min 12 s"
    assert timefmt.duration(0.4) == "< 1 s"
    assert timefmt.duration(0) == "0 s"
    assert timefmt.duration(-90) == "-1 min 30 s"
    assert timefmt.duration(None) == "—"


def test_a_moment_is_written_in_the_readers_zone_with_the_zone_named():
    at = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)
    with timezone.override("America/Chicago"):
        assert timefmt.moment(at) == "2026-11-21 09:00 CST"
    with timezone.override("Europe/Paris"):
        assert timefmt.moment(at) == "2026-11-21 16:00 CET"


def test_a_log_lines_utc_stamp_is_shown_in_the_readers_zone():
    line = timefmt.stamp(datetime(2026, 11, 21, 15, 0, 5, tzinfo=UTC)) + " server provisioned"
    assert line == "2026-11-21T15:00:05Z server provisioned"
    with timezone.override("America/Chicago"):
        assert timefmt.log_line(line) == "09:00:05 CST server provisioned"
    assert timefmt.log_line("no stamp here") == "no stamp here"
