"""The scenario parser under mutated copies of the shipped library: it answers with its own ScenarioError
list (file, line, reason) or a Scenario, never an exception, and what it accepts can be used."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from scenarios import loader

LIBRARY = Path(loader.__file__).resolve().parent / "library"
SHIPPED = {p.name: p.read_text() for p in sorted(LIBRARY.glob("*.yaml"))}
REGISTRY = loader.installed_actions()
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

TRICKY: list[Any] = [
    None, True, 0, -1, 2**64, 1e308, "", "x" * 5000, "{server}", "{nope}", "{", "}}", "\x00", "😀", [], {}, [None],
    {"id": "x"}, "2026-13-45", "automated", "manual", "decision", "approval", "wait", "notify", "provision_from_image",
    "dns_cutover", "ops", "server", "server_crash", ["a", "a"], {"rto_minutes": -5}, "*", "&a",
    "!!python/object:os.system",
]
values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20)
    | st.sampled_from(TRICKY),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3),
    max_leaves=8,
)


def test_the_shipped_library_parses():
    assert SHIPPED
    for name, text in SHIPPED.items():
        scenario, errors = loader.parse(text, name, REGISTRY)
        assert errors == [], errors
        assert scenario is not None


def _paths(node: Any, path: tuple = ()) -> list[tuple]:
    found = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _paths(value, (*path, i))
    return found


@st.composite
def structural(draw) -> str:
    """A shipped scenario with a few of its nodes dropped, replaced, duplicated or given an extra key."""
    data = copy.deepcopy(yaml.safe_load(SHIPPED[draw(st.sampled_from(sorted(SHIPPED)))]))
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(data) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = data
        for key in path[:-1]:
            parent = parent[key]
        key = path[-1]
        how = draw(st.sampled_from(["drop", "replace", "duplicate", "extra", "swap_steps"]))
        event(how)
        if how == "drop":
            del parent[key]
        elif how == "replace":
            # A copy: TRICKY holds mutable values ([], {}) that later mutations would otherwise change for
            # every following example, which hypothesis rightly reports as flaky data generation.
            parent[key] = copy.deepcopy(draw(values))
        elif how == "duplicate" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[key]))
        elif how == "extra" and isinstance(parent[key], dict):
            parent[key][draw(st.text(max_size=10))] = copy.deepcopy(draw(values))
        elif how == "swap_steps" and isinstance(data.get("steps"), list) and len(data["steps"]) > 1:
            steps = data["steps"]
            i, j = draw(st.integers(0, len(steps) - 1)), draw(st.integers(0, len(steps) - 1))
            steps[i], steps[j] = steps[j], steps[i]
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


@st.composite
def textual(draw) -> str:
    """A shipped scenario's text with lines dropped, duplicated or cut, and characters inserted: broken
    indentation, unclosed quotes and brackets, tabs, anchors, tags."""
    lines = SHIPPED[draw(st.sampled_from(sorted(SHIPPED)))].splitlines()
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(lines) - 1))
        how = draw(st.sampled_from(["drop", "duplicate", "cut", "insert", "indent"]))
        if how == "drop" and len(lines) > 1:
            del lines[i]
        elif how == "duplicate":
            lines.insert(i, lines[i])
        elif how == "cut":
            lines[i] = lines[i][:draw(st.integers(0, max(len(lines[i]) - 1, 0)))]
        elif how == "insert":
            at = draw(st.integers(0, len(lines[i])))
            junk = draw(st.sampled_from(["\t", ":", "- ", "'", '"', "[", "{", "&a ", "*a", "!!binary ", "? ", "#", "%",
                                         "\x00", "\ufeff", "😀", "|"]) | st.text(max_size=5))
            lines[i] = lines[i][:at] + junk + lines[i][at:]
        else:
            lines[i] = " " * draw(st.integers(0, 6)) + lines[i].lstrip()
    return "\n".join(lines)


def check(text: str) -> None:
    try:
        scenario, errors = loader.parse(text, "fuzz.yaml", REGISTRY)
    except Exception as exc:  # noqa: BLE001 - the finding is the exception itself, with the document
        pytest.fail(f"parse raised {exc!r} on:\n{text}")
    assert all(isinstance(e, loader.ScenarioError) for e in errors)
    assert all(e.file == "fuzz.yaml" and e.line >= 1 and e.reason for e in errors)
    if errors:
        event("refused")
        assert scenario is None
        return
    event("accepted")
    # What it accepts, the engine can read: the properties it uses, every step by its id.
    assert scenario.title
    assert scenario.disaster_class
    assert scenario.rto_minutes >= 0
    # No rpo_minutes means the plan's promise (scenarios.promise): None is a valid answer, a negative one is not.
    assert scenario.rpo_minutes is None or scenario.rpo_minutes >= 0
    scenario.last_reviewed  # noqa: B018 - a property that parses a date
    for step in scenario.steps:
        assert scenario.step(step["id"]) is step


@FUZZ
@given(text=structural())
def test_structurally_mutated_scenarios(text):
    check(text)


@FUZZ
@given(text=textual())
def test_textually_mutated_scenarios(text):
    check(text)


@FUZZ
@given(text=st.text(max_size=400))
def test_arbitrary_text(text):
    check(text)
