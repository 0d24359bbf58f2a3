"""No module uses another module's underscore names (.ci/private_names.py, run by `make lint`; issue 15)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / ".ci" / "private_names.py"
PACKAGES = ["drportal", "backups", "notifications", "scenarios", "outbox", "bench"]


def private_names(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), "--root", str(root), *args], capture_output=True, text=True,
                          timeout=120, check=False)


def write(root: Path, path: str, text: str) -> None:
    file = root / path
    file.parent.mkdir(parents=True, exist_ok=True)
    for parent in file.relative_to(root).parents:
        if parent != Path("."):
            (root / parent / "__init__.py").touch()
    file.write_text(text)


def test_the_real_tree_borrows_no_names_beyond_the_listed_ones():
    result = private_names(ROOT, *PACKAGES)

    assert result.returncode == 0, result.stdout


def test_importing_another_modules_underscore_name_is_refused(tmp_path):
    write(tmp_path, "backups/exposure.py", "def _duration(s):\n    return str(s)\n")
    write(tmp_path, "notifications/losswindow.py", "from backups.exposure import _duration\n")

    result = private_names(tmp_path, "--no-allowed", "backups", "notifications")

    assert result.returncode == 1
    assert "notifications/losswindow.py:1: notifications.losswindow uses backups.exposure._duration" in result.stdout


def test_reaching_for_an_underscore_name_through_an_imported_module_is_refused(tmp_path):
    write(tmp_path, "scenarios/engine.py", "def _lock_run(pk):\n    return pk\n")
    write(tmp_path, "scenarios/jobs.py", "from scenarios import engine\n\n\ndef go():\n    engine._lock_run(1)\n")

    result = private_names(tmp_path, "--no-allowed", "scenarios")

    assert result.returncode == 1
    assert "scenarios/jobs.py:5: scenarios.jobs uses scenarios.engine._lock_run" in result.stdout


def test_a_modules_own_underscore_names_dunders_and_objects_attributes_are_its_own_business(tmp_path):
    write(tmp_path, "backups/models.py", "class Row:\n    pass\n")
    write(tmp_path, "backups/exposure.py", (
        "from backups import models\n"
        "from backups.models import Row\n\n\n"
        "def _duration(s):\n    return str(s)\n\n\n"
        "def text(row: Row):\n    return _duration(row._seconds) + str(models.__name__) + str(Row._meta)\n"))

    result = private_names(tmp_path, "--no-allowed", "backups")

    assert result.returncode == 0, result.stdout


def test_an_allowed_use_that_is_gone_must_leave_the_list(tmp_path):
    # The list of today's uses only shrinks: an entry nobody needs any more is an error, not dead weight.
    spec = importlib.util.spec_from_file_location("private_names", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    write(tmp_path, "backups/exposure.py", "def surviving_regions(zones):\n    return zones\n")

    errors = module.check(tmp_path, ["backups"], {("notifications.losswindow", "backups.exposure._x"): "gone"})

    assert errors == ["allowed use no longer found (remove it from ALLOWED): notifications.losswindow -> "
                      "backups.exposure._x"]
