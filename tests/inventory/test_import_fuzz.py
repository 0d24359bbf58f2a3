"""Random documents never raise anything but InventoryError and never write partially; the ones accepted
import idempotently (a second import changes nothing)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from drportal.inventory.importer import InventoryError, import_inventory
from tests.inventory.conftest import census

# Small, but with every section, so mutations reach every part of the importer.
BASE: dict[str, Any] = {
    "version": 1,
    "providers": [
        {"slug": "rs", "name": "Rackspace", "kind": "rackspace", "regions": [
            {"slug": "dfw", "name": "Dallas", "zones": [{"slug": "dfw1", "name": "Dallas DC"}]},
            {"slug": "mci", "name": "Kansas City", "zones": [{"slug": "mci1", "name": "KC DC"}]},
        ]},
        {"slug": "aws", "name": "AWS", "kind": "aws", "regions": [
            {"slug": "us-east-1", "name": "N. Virginia", "zones": [{"slug": "us-east-1a", "name": "a"}]},
        ]},
    ],
    "accounts": [{"name": "rs-main", "provider": "rs", "driver": "rackspace",
                  "credentials_env": {"key": "RS_USER", "secret": "RS_KEY"}, "options": {"region": "dfw"}}],
    "servers": [
        {"name": "web1", "role": "application", "zone": "rs/dfw/dfw1", "account": "rs-main",
         "public_ips": ["203.0.113.5"], "private_ips": ["10.0.0.5"], "dns_names": ["www.example.test"]},
        {"name": "db1", "role": "database", "zone": "rs/dfw/dfw1", "account": "rs-main", "stateless": False,
         "metadata": {"engine": "postgresql"}},
    ],
    "assets": [
        {"name": "code", "kind": "code_repository", "external_id": "https://git.example.test/code.git"},
        {"name": "code-mirror", "kind": "code_repository", "mirror_of": "code"},
        {"name": "rds", "kind": "managed_database", "zone": "aws/us-east-1/us-east-1a"},
    ],
    "services": [{"slug": "online", "name": "Online", "servers": ["web1", "db1"], "assets": ["rds"]}],
    "customers": [
        {"slug": "acme", "name": "Acme", "tier": "premium", "services": ["online"],
         "contacts": [{"purpose": "outage", "name": "Ops", "email": "ops@acme.example"}],
         "databases": [{"name": "db-acme", "server": "db1", "external_id": "acme"}]},
        {"slug": "gone", "name": "Gone Inc", "status": "terminated", "terminated_on": "2018-01-31"},
    ],
    "offices": [{"slug": "sa", "name": "San Antonio", "city": "San Antonio"}],
    "people": [{"email": "ceo@example.test", "name": "Chief", "office": "sa", "key_personnel": True,
                "call_forwarding_order": 1, "on_site_rank": 1}],
    "external_contacts": [{"kind": "insurer", "organisation": "Insurer", "account_number": "P-1"}],
    "backup_policies": [{"name": "daily", "kind": "database_dump", "protects": {"customers": ["acme"]},
                         "schedule": "0 4 * * *", "rpo": "26h", "location": {"rule": "named_region",
                                                                              "region": "rs/dfw"}}],
}

TRICKY = [
    "10.0.0.300", "2001:DB8::1", "rs/dfw/dfw1", "rs/mci/mci1", "aws/us-east-1/us-east-1a", "web1", "db1", "code",
    "acme", "online", "sa", "rs-main", "database", "application", "managed_database", "", "-", "a" * 300,
    "x\x00y", "ceo@example.test", "not an email", "bad_host!", "0 4 * * *", "5m", "named_region", "2018-02-30",
]
SCALARS = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
           | st.sampled_from(TRICKY))
VALUES = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=6,
)


def paths(obj: Any, path: tuple = ()) -> Iterator[tuple]:
    yield path
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else ()
    for key, value in items:
        yield from paths(value, (*path, key))


def mutate(doc: Any, data: st.DataObject) -> Any:
    for _ in range(data.draw(st.integers(1, 4), label="mutations")):
        path = data.draw(st.sampled_from(list(paths(doc))[1:]), label="path")
        parent = doc
        for part in path[:-1]:
            parent = parent[part]
        key = path[-1]
        action = data.draw(st.sampled_from(["replace", "replace", "delete", "duplicate", "swap"]), label="action")
        if action == "replace":
            parent[key] = data.draw(VALUES, label="value")
        elif action == "delete":
            del parent[key]
        elif action == "duplicate" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[key]))
        elif action == "swap":
            other = data.draw(st.sampled_from(list(paths(doc))[1:]), label="other")
            target = doc
            for part in other:
                target = target[part]
            parent[key] = copy.deepcopy(target)
    return doc


def attempt(text: str) -> None:
    before = census()
    errors: list[str] = []
    try:
        import_inventory(text, "fuzz", "fuzz.yaml")
    except InventoryError as exc:
        # Anything else propagates and fails the test.
        errors = exc.errors or ["(an InventoryError without a reason)"]
    if errors:
        assert all(e.startswith("fuzz.yaml") for e in errors), errors
        assert census() == before, "a refused document wrote something"
        event(f"refused: {errors[0].split(' ', 2)[-1][:25]}")
        return
    event("imported")
    again = census()
    summary = import_inventory(text, "fuzz", "fuzz.yaml")
    assert summary.startswith("0 created, 0 updated"), summary
    assert census() == again


FUZZ = settings(max_examples=120, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@FUZZ
@given(data=st.data())
def test_mutated_documents_are_imported_whole_or_refused_whole(db, data):
    doc = mutate(copy.deepcopy(BASE), data)
    try:
        text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
    except yaml.YAMLError:
        return
    attempt(text)


YAML_JUNK = ["&a ", "*a", "<<: *a\n", "&a {<<: *a}", "&a [*a]", "!!binary ", "!!python/object/apply:os.system ",
             "? ", "- ", "{", "[", "\t", ": ", "|\n", "---\n", "%YAML 1.1\n", "!!int ", "'", '"', "\\x00", "\n  "]


@FUZZ
@given(position=st.integers(min_value=0), junk=st.text(min_size=1, max_size=6) | st.sampled_from(YAML_JUNK))
def test_damaged_yaml_text_is_refused_or_imported_never_crashes(db, position, junk):
    text = yaml.safe_dump(BASE, sort_keys=False)
    position %= len(text)
    attempt(text[:position] + junk + text[position:])


@FUZZ
@given(text=st.text(max_size=200))
def test_arbitrary_text_never_crashes(db, text):
    attempt(text)
