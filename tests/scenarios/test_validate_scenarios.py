from __future__ import annotations

import textwrap

import pytest
from django.core.management import CommandError, call_command

from scenarios import loader

GOOD = textwrap.dedent("""\
    id: tiny
    title: A tiny scenario
    disaster_class: server_crash
    trigger: "A server crashes"
    objectives: {rto_minutes: 30, rpo_minutes: 60}
    owner: ops
    last_reviewed: 2026-01-02
    steps:
      - id: look
        kind: manual
        title: Look at it
        quote: "Jivasoft would contact Rackspace."
        instructions: "Call them."
      - id: fix
        kind: automated
        title: Fix it
        quote: "provision a replacement server"
        after: [look]
        action: simulated
    """)


def test_it_accepts_a_good_file():
    scenario, errors = loader.parse(GOOD, "tiny.yaml", frozenset({"simulated"}))
    assert errors == []
    assert scenario.id == "tiny"
    assert scenario.last_reviewed.isoformat() == "2026-01-02"


def test_it_names_the_line_of_an_unknown_dependency():
    text = GOOD.replace("after: [look]", "after: [lok]")
    _, errors = loader.parse(text, "tiny.yaml", frozenset({"simulated"}))
    assert [(e.line, e.reason) for e in errors] == [(18, "step 'fix' waits for unknown step 'lok'")]


def test_it_names_the_line_of_a_missing_field():
    text = GOOD.replace('    instructions: "Call them."\n', "")
    _, errors = loader.parse(text, "tiny.yaml", frozenset({"simulated"}))
    assert len(errors) == 1
    assert errors[0].line == 9
    assert "'instructions' is a required property" in errors[0].reason


def test_it_rejects_an_unknown_disaster_class_on_its_line():
    text = GOOD.replace("server_crash", "alien_invasion")
    _, errors = loader.parse(text, "tiny.yaml", frozenset({"simulated"}))
    assert errors[0].line == 3
    assert errors[0].reason.startswith("disaster_class:")


def test_it_reports_yaml_syntax_errors_with_a_line():
    _, errors = loader.parse(GOOD + "  - id: [unclosed\n", "tiny.yaml")
    assert errors[0].reason.startswith("YAML syntax")
    assert errors[0].line >= 20


def test_it_reports_duplicate_keys():
    text = GOOD.replace("owner: ops\n", "owner: ops\nowner: someone\n")
    _, errors = loader.parse(text, "tiny.yaml", frozenset({"simulated"}))
    assert any(e.line == 7 and "duplicate key 'owner'" in e.reason for e in errors)


def test_it_finds_cycles():
    text = GOOD.replace('    instructions: "Call them."\n', '    instructions: "Call them."\n    after: [fix]\n')
    _, errors = loader.parse(text, "tiny.yaml", frozenset({"simulated"}))
    assert "cycle" in errors[0].reason
    assert "look -> fix -> look" in errors[0].reason or "fix -> look -> fix" in errors[0].reason


def test_it_rejects_an_unknown_action_but_accepts_a_promised_one():
    _, errors = loader.parse(GOOD.replace("action: simulated", "action: teleport"), "t.yaml", frozenset({"simulated"}))
    assert errors[0].reason == "unknown action 'teleport'"
    scenario, errors = loader.parse(GOOD.replace("action: simulated", "action: dns_cutover"), "t.yaml",
                                    frozenset({"simulated"}))
    assert errors == []
    assert "not installed yet" in scenario.warnings[0].reason


def test_a_decision_target_must_wait_for_the_decision():
    text = GOOD + (
        "  - id: ask\n"
        "    kind: decision\n"
        "    title: Can they fix it?\n"
        "    quote: \"If Rackspace is able to recover the server quickly\"\n"
        "    question: \"Can they?\"\n"
        "    options:\n"
        "      - {value: \"yes\", label: \"Yes\", next: [look]}\n"
        "      - {value: \"no\", label: \"No\", next: [fix]}\n"
    )
    _, errors = loader.parse(text, "t.yaml", frozenset({"simulated"}))
    assert next((e.line, e.reason) for e in errors) == (
        26, "step 'look' follows decision 'ask' and must list it in 'after'")


def test_the_shipped_library_is_valid():
    lib = loader.load_dir()
    assert lib.errors == []
    assert len(lib.scenarios) == 14
    for scenario in lib.scenarios.values():
        for step in scenario.steps:
            assert len(step["quote"]) >= 10, (scenario.id, step["id"])


def test_the_command_passes_on_the_library(capsys):
    call_command("validate_scenarios")
    assert "14 scenario file(s) OK" in capsys.readouterr().out


def test_the_command_fails_with_file_line_and_reason(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD.replace("after: [look]", "after: [nope]"))
    with pytest.raises(CommandError, match="1 error"):
        call_command("validate_scenarios", str(bad))
    assert f"{bad}:18: step 'fix' waits for unknown step 'nope'" in capsys.readouterr().err


def test_a_bad_file_in_the_library_leaves_the_others_usable(tmp_path, settings):
    (tmp_path / "good.yaml").write_text(GOOD)
    (tmp_path / "bad.yaml").write_text("id: [")
    settings.SCENARIOS_DIR = str(tmp_path)
    lib = loader.library()
    assert list(lib.scenarios) == ["tiny"]
    assert lib.errors[0].file.endswith("bad.yaml")
