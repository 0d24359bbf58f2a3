"""No function over 60 lines without a comment saying why (.ci/long_functions.py, run by `make lint`; issue 15)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / ".ci" / "long_functions.py"
PACKAGES = ["drportal", "backups", "notifications", "scenarios", "outbox", "bench"]


def long_functions(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), "--root", str(root), *args], capture_output=True, text=True,
                          timeout=120, check=False)


def function(name: str, lines: int, comment: str = "") -> str:
    """A function of exactly `lines` lines (its def included)."""
    body = [f"    {comment}"] if comment else []
    body += [f"    x{i} = {i}" for i in range(lines - 1 - len(body))]
    return "\n".join([f"def {name}():", *body]) + "\n"


def write(root: Path, path: str, text: str) -> None:
    file = root / path
    file.parent.mkdir(parents=True, exist_ok=True)
    (file.parent / "__init__.py").touch()
    file.write_text(text)


def test_the_real_tree_has_no_long_function_beyond_the_listed_ones():
    result = long_functions(ROOT, *PACKAGES)

    assert result.returncode == 0, result.stdout


def test_a_new_function_over_sixty_lines_is_refused_naming_it(tmp_path):
    write(tmp_path, "scenarios/engine.py", function("advance", 60) + "\n\n" + function("settle", 61))

    result = long_functions(tmp_path, "--no-allowed", "scenarios")

    assert result.returncode == 1
    assert "scenarios/engine.py:63: scenarios.engine:settle is 61 lines (over 60)" in result.stdout
    assert "advance" not in result.stdout


def test_a_long_method_or_nested_function_is_found_too(tmp_path):
    nested = "class Writer:\n" + "".join(f"    {line}\n" for line in function("upsert", 70).splitlines())
    write(tmp_path, "drportal/inventory/writer.py", nested)

    result = long_functions(tmp_path, "--no-allowed", "drportal")

    assert result.returncode == 1
    assert "drportal.inventory.writer:Writer.upsert is 70 lines" in result.stdout


def test_a_long_function_that_says_why_is_kept(tmp_path):
    write(tmp_path, "backups/ingest.py", function("ingest_one", 90, "# long because: the hot path is one statement"))
    write(tmp_path, "backups/sweep.py", "# long because: one table, read top to bottom\n" + function("sweep", 90))

    result = long_functions(tmp_path, "--no-allowed", "backups")

    assert result.returncode == 0, result.stdout


def test_the_word_long_alone_is_not_a_reason(tmp_path):
    write(tmp_path, "backups/ingest.py", function("ingest_one", 90, "# long, sorry"))

    result = long_functions(tmp_path, "--no-allowed", "backups")

    assert result.returncode == 1
    assert "backups.ingest:ingest_one is 90 lines" in result.stdout


def test_an_allowed_function_that_was_shortened_must_leave_the_list():
    # The real list, against a tree where none of them is long any more: every entry is reported stale.
    import importlib.util

    spec = importlib.util.spec_from_file_location("long_functions", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    errors, _ = module.check(ROOT, ["outbox"], {"scenarios.readiness:assess"})

    assert errors == ["allowed long function no longer found (remove it from ALLOWED): scenarios.readiness:assess"]
