"""manage.py import_inventory FILE [FILE...]"""

from __future__ import annotations

import os
import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from drportal.audit.models import AuditEvent
from drportal.lib.dburl import current_database_url
from tests.inventory.conftest import SEEDS, census


def run(*files: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import_inventory", *files, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_it_imports_both_seeds_and_prints_a_summary_per_file(db):
    out, _ = run(str(SEEDS / "jivosoft.yaml"), str(SEEDS / "cybernance.yaml"))
    assert f"{SEEDS / 'jivosoft.yaml'}: 83 created, 0 updated, 0 unchanged" in out
    assert f"{SEEDS / 'cybernance.yaml'}: 38 created, 0 updated, 0 unchanged" in out
    assert AuditEvent.objects.filter(actor_label="command:import_inventory").count() == 121


def test_running_it_twice_creates_nothing(db):
    run(str(SEEDS / "jivosoft.yaml"))
    out, _ = run(str(SEEDS / "jivosoft.yaml"))
    assert "0 created, 0 updated, 83 unchanged" in out


def test_a_bad_file_fails_with_its_errors_and_nothing_of_any_file_is_kept(db, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nservers:\n  - {name: x1, role: other, zone: nowhere/r/z}\n")
    err = StringIO()
    with pytest.raises(CommandError, match=r"1 error\(s\); nothing was imported"):
        call_command("import_inventory", str(SEEDS / "jivosoft.yaml"), str(bad), stdout=StringIO(), stderr=err)
    assert f"{bad}:3 servers[0].zone: unknown zone 'nowhere/r/z'" in err.getvalue()
    assert census()["Server"] == 0
    assert census()["AuditEvent"] == 0


def test_a_missing_file_is_an_error(db, tmp_path):
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("import_inventory", str(tmp_path / "nope.yaml"), stdout=StringIO(), stderr=err)
    assert "nope.yaml: cannot read the file" in err.getvalue()


def test_the_exit_status_is_non_zero_on_a_bad_file(db, tmp_path):
    """Through the real manage.py, as an operator or the demo set-up runs it. The child is pointed at the
    test database: DATABASE_URL names a database that CI never creates (pytest-django makes test_<name>)."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nservers: {}\n")
    result = subprocess.run(
        [sys.executable, "manage.py", "import_inventory", str(bad)],
        cwd=SEEDS.parent, capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "DATABASE_URL": current_database_url()},
    )
    assert result.returncode == 1, result.stderr
    assert f"{bad}:2 servers: expected a list, got a mapping {{}}" in result.stderr
    assert census()["Server"] == 0


def test_check_reports_what_it_would_do_and_keeps_nothing(db):
    out, _ = run("--check", str(SEEDS / "jivosoft.yaml"))
    assert "83 created, 0 updated, 0 unchanged (check only: nothing was kept)" in out
    assert census() == {name: 0 for name in census()}


def test_check_fails_on_a_bad_file_like_an_import(db, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\npeople: [{email: not-an-email, name: X}]\n")
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("import_inventory", "--check", str(bad), stdout=StringIO(), stderr=err)
    assert f"{bad}:2 people[0].email: Enter a valid email address." in err.getvalue()
