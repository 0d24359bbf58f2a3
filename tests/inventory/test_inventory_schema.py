"""docs/inventory.schema.json is the schema in code, and the seeds satisfy it on their own."""

from __future__ import annotations

import json

import yaml
from jsonschema import Draft202012Validator

from drportal.inventory.schema import SCHEMA, schema_json
from tests.inventory.conftest import ROOT, SEEDS


def test_the_published_schema_is_the_one_in_code():
    published = (ROOT / "docs" / "inventory.schema.json").read_text()
    assert json.loads(published) == SCHEMA
    assert published == schema_json(), "regenerate: python -m drportal.inventory.schema > docs/inventory.schema.json"


def test_the_schema_is_a_valid_draft_2020_12_schema():
    Draft202012Validator.check_schema(SCHEMA)


def test_both_seeds_satisfy_the_published_schema():
    schema = json.loads((ROOT / "docs" / "inventory.schema.json").read_text())
    for name in ("jivosoft.yaml", "cybernance.yaml"):
        document = yaml.safe_load((SEEDS / name).read_text())
        assert list(Draft202012Validator(schema).iter_errors(document)) == [], name


def test_the_example_in_the_docs_satisfies_the_schema():
    text = (ROOT / "docs" / "inventory.md").read_text()
    example = "version: 1" + text.split("```yaml\nversion: 1", 1)[1].split("```", 1)[0]
    assert list(Draft202012Validator(SCHEMA).iter_errors(yaml.safe_load(example))) == []


def test_the_example_in_the_docs_imports_and_reimports_as_a_no_op(db):
    from drportal.inventory.importer import COMMAND_ACTOR, import_inventory

    text = (ROOT / "docs" / "inventory.md").read_text()
    example = text.split("```yaml\nversion: 1", 1)[1].split("```", 1)[0]
    first = import_inventory("version: 1" + example, COMMAND_ACTOR, "example.yaml")
    assert first.startswith("21 created, 0 updated, 0 unchanged")
    assert import_inventory("version: 1" + example, COMMAND_ACTOR).startswith("0 created, 0 updated, 21 unchanged")
