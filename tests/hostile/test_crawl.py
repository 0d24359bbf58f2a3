"""A hostile crawl: every GET URL the resolver knows, as anonymous and as each role, with the query
parameters an attacker or a broken link sends (negative, huge and non-numeric page numbers, unknown and huge
ids, NUL, very long strings, unknown filters). No answer may be a server error or show a traceback."""

from __future__ import annotations

import re

import pytest
from django.urls import NoReverseMatch, reverse

from tests.accounts.test_role_matrix import ADMIN, ALL_URLS, ANON, MANAGER, OPS, SUPPORT

LONG = "x" * 5000
HOSTILE_QUERIES = [
    "?page=-1&sort=-1&status=nope&scope=%3Cscript%3E&kind=..%2F..&customer=abc&asset=-5&policy=0",
    "?page=99999999999999999999999&per_page=1000000000&id=18446744073709551616&since=2026-02-30&until=0000-00-00",
    f"?page=abc&page=2&q={LONG}&search=%00&filter=%ff%fe&region=%00&zone=%F0%9F%92%A9&format=csv&o=1.2.x&p=-3",
    "?q=%00&sort=%00&status=%00&page=%00&next=%2F%2Fevil.example&tz=Mars%2FOlympus&year=99999&month=13&day=32",
    "?page=1e9&page=NaN&incident=9223372036854775808&run=-9223372036854775809&customer_id=%20&pk[]=1",
]
# Path parameters: a made-up id, one beyond bigint, and the largest bigint.
HOSTILE_IDS = {"int": ["0", "99999999999999999999", "9223372036854775807"], "str": ["%00", LONG[:300], "..%2F.."],
               "slug": ["x" * 300, "-"], "uuid": ["00000000-0000-0000-0000-000000000000"], "path": ["..%2Fetc"]}
# Third-party pages (the RQ dashboard) raise on a made-up job id past the access check: not ours to change.
SKIPPED = ("django_rq:",)
TRACEBACK = re.compile(r"Traceback \(most recent call last\)|File \"/")


def urls() -> list[str]:
    found = []
    for name, pattern in ALL_URLS:
        if name.startswith(SKIPPED) or name in ("logout", "admin:logout"):
            continue
        converters = getattr(pattern.pattern, "converters", {})
        kinds = {key: type(conv).__name__.removesuffix("Converter").lower() for key, conv in converters.items()}
        variants = [dict.fromkeys(kinds, None)]
        for i in range(3):
            variants.append({k: HOSTILE_IDS.get(kind, ["x"])[i % len(HOSTILE_IDS.get(kind, ["x"]))]
                             for k, kind in kinds.items()})
        for kwargs in variants if kinds else [{}]:
            try:
                url = reverse(name, kwargs={k: (v if v is not None else ("1" if kinds[k] == "int" else "x"))
                                            for k, v in kwargs.items()} or None)
            except NoReverseMatch:
                continue
            found.append(url)
    return sorted(set(found))


ROLES = [ANON, OPS, MANAGER, SUPPORT, ADMIN]


def queries_for(who: str) -> list[str]:
    """An admin opens every page, so gets every hostile query; each other role two of them, in turn, so that
    every query is also tried by roles with fewer pages (the suite runs on two cores)."""
    if who == ADMIN:
        return ["", *HOSTILE_QUERIES]
    k = ROLES.index(who)
    return ["", HOSTILE_QUERIES[k % len(HOSTILE_QUERIES)], HOSTILE_QUERIES[(k + 2) % len(HOSTILE_QUERIES)]]


@pytest.mark.parametrize("who", ROLES)
def test_no_get_url_answers_a_server_error_to_hostile_input(who, client, users, world):
    if who != ANON:
        client.force_login(users[who])
    client.raise_request_exception = False
    broken = []
    targets = urls()
    for url in targets:
        for query in queries_for(who):
            response = client.get(url + query)
            body = b"" if response.streaming else response.content
            if response.status_code >= 500 or TRACEBACK.search(body.decode("utf-8", "replace")):
                broken.append(f"{response.status_code} {url}{query[:120]}")
    assert broken == []
    assert len(targets) > 60


def test_a_nul_in_a_query_string_is_a_400_naming_the_parameter(client_as):
    response = client_as("alice").get("/inventory/customers/?q=%00")
    assert response.status_code == 400
    assert "<code>q</code> contains a NUL character" in response.content.decode()


def test_a_nul_in_a_form_field_is_a_400_and_changes_nothing(client_as):
    from drportal.audit.models import AuditEvent

    client = client_as("alice")
    before = AuditEvent.objects.count()
    response = client.post("/incidents/declare/", {"title": "Dallas\x00down"})
    assert response.status_code == 400
    assert AuditEvent.objects.count() == before


def test_a_nul_in_an_api_query_string_answers_json(client_as):
    response = client_as("alice").get("/api/v1/rpo/?x=%00")
    assert response.status_code == 400
    assert response.json()["errors"] == [{"field": "x", "message": "contains a NUL character"}]
