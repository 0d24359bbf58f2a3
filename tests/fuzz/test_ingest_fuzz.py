"""POST /api/v1/backups/ under random input: never a 500, never a partial write.

Every example counts the rows the API may write (backup records, dirty flags on the pairs) before and after:
a refused body changes nothing, an accepted one adds at most one record per item. A batch where one item is
bad writes nothing at all, even though the rest of it is accepted when sent on its own."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import time_machine
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from backups.models import BackupRecord, IngestToken, PolicyAssetStatus
from tests.backups.conftest import at, world  # noqa: F401 - the fixture is used by name

pytestmark = pytest.mark.django_db

URL = "/api/v1/backups/"
NOW = at("2026-11-21 15:00")
FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                        HealthCheck.too_slow])

# Values that have broken parsers before: huge and negative numbers, floats that JSON cannot carry back,
# unicode that is not text in a database (NUL), right-to-left marks, emoji, very long strings.
TRICKY: list[Any] = [
    0, -1, 2**63, -(2**63) - 1, 10**400, 1e308, -0.0, True, False, None, "", " ", "\x00", "null", "\u202edb",
    "😀" * 50, "a" * 10_000, "2026-11-21T10:00:00Z", "2026-02-30T10:00:00Z", "9999-12-31T23:59:59Z",
    "0001-01-01T00:00:00Z", "2026-11-21T10:00:00+25:00", "acme-db", "zeta-db", "cybernance-rds", "succeeded",
    "failed", "running", "ab" * 32, "AB" * 32, [], {}, [None], {"zone": None}, {"zone": "rackspace/dfw/dfw1"},
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text() | st.sampled_from(TRICKY),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def token(world) -> str:  # noqa: F811 - pytest's fixture by name
    return IngestToken.issue("fuzz agent", policy=world.daily)[1]


def report(**over: Any) -> dict:
    base = {"id": str(uuid.uuid4()), "asset": "acme-db", "outcome": "succeeded",
            "started_at": "2026-11-21T10:00:00Z", "completed_at": "2026-11-21T10:20:00Z", "size_bytes": 123456,
            "sha256": "ab" * 32, "location": {"zone": "rackspace/dfw/dfw1", "container": "dumps",
                                               "key": "acme-db/2026-11-21.dump"}}
    return base | over


@st.composite
def valid_reports(draw) -> dict:
    day = draw(st.integers(1, 20))
    minute = draw(st.integers(0, 59))
    return report(asset=draw(st.sampled_from(["acme-db", "zeta-db"])), started_at=f"2026-11-{day:02d}T10:00:00Z",
                  completed_at=f"2026-11-{day:02d}T10:{minute:02d}:00Z",
                  size_bytes=draw(st.integers(0, 2**40)), sha256=draw(st.sampled_from(["ab" * 32, "0f" * 32])))


@st.composite
def mutated_reports(draw) -> Any:
    item = draw(valid_reports())
    for _ in range(draw(st.integers(1, 3))):
        how = draw(st.sampled_from(["drop", "replace", "add", "location"]))
        key = draw(st.sampled_from(sorted(item))) if item else "id"
        if how == "drop":
            item.pop(key, None)
        elif how == "replace":
            item[key] = draw(json_values)
        elif how == "add":
            item[draw(st.text(max_size=10))] = draw(json_values)
        else:
            item["location"] = draw(st.dictionaries(st.sampled_from(["provider", "region", "zone", "container", "key",
                                                                      "bucket"]), json_values, max_size=4))
    return item


def census() -> tuple[int, int]:
    return BackupRecord.objects.count(), PolicyAssetStatus.objects.filter(dirty=True).count()


def post(client, body: Any, token: str):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(URL, data=data, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}")


def check(client, token: str, body: Any) -> int:
    """Post `body`; the answer is never a 500 (the test client re-raises a crash), always JSON, and a refusal
    writes nothing. Returns the status."""
    PolicyAssetStatus.objects.update(dirty=False)
    before = census()
    response = post(client, body, token)
    assert response.status_code < 500, response.content
    answer = response.json()
    after = census()
    items = len(body) if isinstance(body, list) else 1
    if response.status_code >= 400:
        assert after == before, (body, answer)
        assert answer["error"]
        for error in answer.get("errors", []):
            assert "field" in error
            assert error["message"]
    else:
        assert 0 <= after[0] - before[0] <= items
    event(f"status {response.status_code}")
    return response.status_code


@FUZZ
@given(body=json_values)
def test_random_json_bodies(client, world, token, body):  # noqa: F811
    check(client, token, body)


@FUZZ
@given(body=mutated_reports())
def test_single_reports_with_wrong_types_missing_fields_and_odd_values(client, world, token, body):  # noqa: F811
    check(client, token, body)


@FUZZ
@given(body=st.lists(st.one_of(valid_reports(), mutated_reports(), json_values), min_size=1, max_size=8))
def test_random_batches(client, world, token, body):  # noqa: F811
    check(client, token, body)


@FUZZ
@given(raw=st.binary(max_size=300) | st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_bytes_that_are_not_json(client, world, token, raw):  # noqa: F811
    check(client, token, raw)


# Each of these makes an item invalid whatever else the item says.
BREAKERS = [
    {"asset": "no-such-db"}, {"size_bytes": -5}, {"size_bytes": "12"}, {"started_at": "2026-11-30T10:00:00Z"},
    {"sha256": "xyz"}, {"outcome": "maybe"}, {"id": ""}, {"id": 12}, {"location": {"zone": "rackspace/nowhere/x"}},
    {"unknown_field": 1}, {"size_bytes": 10**400}, {"started_at": "\x00"},
]


@FUZZ
@given(good=st.lists(valid_reports(), min_size=1, max_size=6), breaker=st.sampled_from([*BREAKERS, None]),
       position=st.integers(0, 6), drop=st.sampled_from([None, "asset", "id", "outcome", "started_at"]))
def test_a_valid_subset_in_a_bad_batch_writes_nothing(client, world, token, good, breaker, position, drop):  # noqa: F811
    if breaker is None and drop is None:
        bad: Any = "not an object"
    else:
        bad = report(**(breaker or {}))
        bad.pop(drop, None)
    batch = [*good]
    batch.insert(min(position, len(batch)), bad)
    assert check(client, token, batch) == 400
    # The rest of the batch was fine: alone, it is all recorded.
    before = BackupRecord.objects.count()
    assert post(client, good, token).status_code == 201
    assert BackupRecord.objects.count() == before + len(good)


@pytest.mark.parametrize("size", [2**63, 10**400])
def test_a_size_beyond_the_bigint_column_is_refused_naming_the_field(client, world, token, size):  # noqa: F811
    # Found by the fuzzer: the batch INSERT failed with "bigint out of range", a 500.
    response = post(client, [report(), report(size_bytes=size)], token)
    assert response.status_code == 400
    assert response.json()["errors"][0] == {"field": "size_bytes", "index": 1,
                                            "message": f"must be at most {2**63 - 1} bytes"}
    assert BackupRecord.objects.count() == 0
    assert post(client, report(size_bytes=2**63 - 1), token).status_code == 201


# The classes of issue 13 that random values rarely hit inside an otherwise valid report: each strategy makes
# exactly one field hostile, so the answer must be a 400 naming that field and nothing written.
nul_text = st.tuples(st.text(max_size=8), st.text(max_size=8)).map(lambda p: f"{p[0]}\x00{p[1]}")
lone_surrogates = st.tuples(st.text(max_size=5), st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),
                            st.text(max_size=5)).map("".join)
impossible_times = st.one_of(
    st.builds("2026-{:02d}-{:02d}T10:00:00Z".format, st.sampled_from([0, 13, 99]), st.integers(1, 28)),
    st.builds("2026-02-{:02d}T10:00:00Z".format, st.integers(30, 99)),
    st.builds("2026-11-20T{:02d}:{:02d}:00Z".format, st.integers(24, 99), st.integers(0, 99)),
    st.builds("2026-11-20T10:00:00{}{:02d}:{:02d}".format, st.sampled_from("+-"), st.integers(24, 99),
              st.integers(0, 59)),
    st.builds("{:04d}-01-01T00:00:00{}".format, st.integers(1, 1999), st.sampled_from(["Z", "-12:00", "+14:00"])),
    st.sampled_from(["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59", "2026-11-20T10:00:00+23:60"]),
)
HOSTILE_FIELDS = {
    "id": nul_text | lone_surrogates, "error": nul_text | lone_surrogates,
    "provider_state": (nul_text | lone_surrogates).filter(lambda t: len(t) <= 50),
    "asset": nul_text | lone_surrogates, "policy": nul_text | lone_surrogates,
    "started_at": impossible_times, "completed_at": impossible_times, "recovery_point": impossible_times,
    "location.container": nul_text | lone_surrogates, "location.zone": nul_text | lone_surrogates,
}


@st.composite
def one_hostile_field(draw) -> tuple[str, dict]:
    field = draw(st.sampled_from(sorted(HOSTILE_FIELDS)))
    item = draw(valid_reports())
    value = draw(HOSTILE_FIELDS[field])
    if field.startswith("location."):
        item["location"] = item["location"] | {field.split(".")[1]: value}
    else:
        item[field] = value
    return field, item


@FUZZ
@given(case=one_hostile_field(), batch=st.booleans())
def test_one_hostile_value_in_a_valid_report_is_refused_naming_its_field(client, world, token, case, batch):  # noqa: F811
    field, item = case
    assert check(client, token, [item] if batch else item) == 400
    fields = {e["field"] for e in post(client, item, token).json()["errors"]}
    assert field in fields, fields


@FUZZ
@given(depth=st.integers(6, 20_000), opening=st.sampled_from(["[", '{"a":']))
def test_json_nested_beyond_the_limit_is_refused_before_parsing(client, world, token, depth, opening):  # noqa: F811
    closing = "]" if opening == "[" else "}"
    assert check(client, token, (opening * depth + "1" + closing * depth).encode()) == 400
