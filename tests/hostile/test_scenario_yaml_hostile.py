"""Scenario YAML as an attacker writes it: the parser answers with its own errors (file, line, reason),
never an exception, and never spends minutes on a small file."""

from __future__ import annotations

from pathlib import Path

import pytest

from scenarios import loader

LIBRARY = Path(loader.__file__).resolve().parent / "library"
SHIPPED = sorted(LIBRARY.glob("*.yaml"))[0].read_text()


def errors_of(text: str) -> list[str]:
    scenario, errors = loader.parse(text, "hostile.yaml", loader.installed_actions())
    assert scenario is None
    return [f"{e.line} {e.reason}" for e in errors]


def test_flow_nesting_thousands_deep_is_an_error_not_a_crash():
    assert any("nests deeper" in e for e in errors_of("id: x\nsteps: " + "[" * 3000 + "]" * 3000 + "\n"))


def test_block_nesting_thousands_deep_is_an_error_not_a_crash():
    assert any("nests deeper" in e for e in errors_of("id: x\nsteps:\n" + "- " * 3000 + "x\n"))


def test_an_alias_bomb_is_refused_before_it_expands():
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for i in range(1, 9):
        bomb += f"{'abcdefghij'[i]}: &{'abcdefghij'[i]} [" + ", ".join([f"*{'abcdefghij'[i - 1]}"] * 10) + "]\n"
    assert any("too large" in e for e in errors_of(bomb))


def test_a_nul_in_a_title_is_refused_naming_the_field():
    lines = SHIPPED.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("title:"))
    lines[at] = 'title: "Dallas\\0down"'
    assert f"{at + 1} title: contains a NUL character" in errors_of("\n".join(lines) + "\n")


def test_an_impossible_date_is_refused_naming_the_line():
    lines = SHIPPED.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("last_reviewed:"))
    lines[at] = "last_reviewed: 2026-02-30"
    found = errors_of("\n".join(lines) + "\n")
    assert any(e.startswith(f"{at + 1} last_reviewed:") for e in found), found


@pytest.mark.parametrize("size", [2 * 1024 * 1024])
def test_a_huge_file_is_refused_before_parsing(size):
    assert any("larger than" in e for e in errors_of("id: x\ndescription: " + "x" * size + "\n"))
