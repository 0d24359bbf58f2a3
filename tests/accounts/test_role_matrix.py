"""Every URL the resolver knows, for anonymous and for each role, against the table below.

A URL that is not in the table fails the test: adding a page means saying who may open it.
"allowed" means the access layer let the request through (the view may still answer 404 for a
made-up id, 405 for a GET on a POST-only URL, or 403 of its own, as the audit log's admin does for
"change"); "refused" means the access layer's 403, or a redirect to a login page.
"""

from __future__ import annotations

import uuid

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.urls.exceptions import NoReverseMatch

from drportal.accounts.access import PUBLIC_ENDPOINTS

ANON, OPS, MANAGER, SUPPORT, ADMIN = "anonymous", "alice", "mona", "sam", "ada"
STAFF = {OPS, MANAGER, SUPPORT, ADMIN}
PUBLIC = STAFF | {ANON}

# URL name (or "namespace:*") -> who may open it.
EXPECTED: dict[str, set[str]] = {
    "healthz": PUBLIC,
    "login": PUBLIC,
    "logout": PUBLIC,
    "dashboard": STAFF,
    "accounts:profile": STAFF,
    "inventory:servers": STAFF,
    "inventory:server": STAFF,
    "inventory:customers": STAFF,
    "inventory:customer": STAFF,
    "inventory:customer-options": STAFF,
    "inventory:offices": STAFF,
    "inventory:import": {ADMIN},
    "incidents:list": STAFF,
    "incidents:declare": {OPS, ADMIN},
    "incidents:declare-servers": {OPS, ADMIN},
    "incidents:declare-preview": {OPS, ADMIN},
    "incidents:detail": STAFF,
    "incidents:transition": {OPS, MANAGER, ADMIN},
    "incidents:widen": {OPS, ADMIN},
    # cloud (issue 4)
    "cloud:accounts": {OPS, MANAGER, ADMIN},
    "cloud:test-connection": {OPS, ADMIN},
    "cloud:sync": {ADMIN},
    # backups (issue 3)
    "backups:index": STAFF,
    "backups:asset": STAFF,
    "backups:policies": STAFF,
    "backups:policy": STAFF,
    "backups:policy-new": {OPS, ADMIN},
    "backups:policy-edit": {OPS, ADMIN},
    "backups:cron-preview": {OPS, ADMIN},
    "backups:verify": {OPS, ADMIN},
    "backups:compliance": {OPS, MANAGER, ADMIN},
    "backups:compliance-csv": {OPS, MANAGER, ADMIN},
    "backups:compliance-pdf": {OPS, MANAGER, ADMIN},
    "backups:report-subscriptions": {MANAGER, ADMIN},
    "backups:report-unsubscribe": {MANAGER, ADMIN},
    "backups:report-customer-options": {MANAGER, ADMIN},
    "backups:exposure": STAFF,
    "backups:tokens": {OPS, ADMIN},
    "backups:token-revoke": {OPS, ADMIN},
    "backups:unmatched": STAFF,
    # scenarios (issue 5)
    "scenarios:index": STAFF,
    "scenarios:plan": STAFF,
    "scenarios:plan-pdf": STAFF,
    "scenarios:mitigations": STAFF,
    "scenarios:mitigation-checked": {OPS, MANAGER, ADMIN},
    "scenarios:drills": STAFF,
    "scenarios:drills-csv": {OPS, MANAGER, ADMIN},
    "scenarios:execute": {OPS, ADMIN},
    "scenarios:review": {OPS, MANAGER, ADMIN},
    "scenarios:run": STAFF,
    "scenarios:run-live": STAFF,
    "scenarios:run-action": {OPS, MANAGER, ADMIN},
    "scenarios:step": STAFF,
    "scenarios:step-action": {OPS, MANAGER, ADMIN},
    "scenarios:detail": STAFF,
    "scenarios:drill-start": {OPS, ADMIN},
    # drills in a bubble (issue 16): started, watched and torn down by ops and managers
    "scenarios:drill-bubble": {OPS, MANAGER, ADMIN},
    "scenarios:drill": {OPS, MANAGER, ADMIN},
    "scenarios:drill-teardown": {OPS, MANAGER, ADMIN},
    "scenarios:point-suspect": {OPS, MANAGER, ADMIN},
    # approve from the message (issue 19): any signed-in staff reaches the view, which checks the link's
    # owner and the step's approver role itself
    "scenarios:approve-link": STAFF,
    "status:index": PUBLIC,
    "status:incident": PUBLIC,
    "status:feed": PUBLIC,
    "status:subscribe": PUBLIC,
    "status:confirm": PUBLIC,
    "status:unsubscribe": PUBLIC,
    "notifications:maintenance": {OPS, SUPPORT, ADMIN},
    "notifications:maintenance-cancel": {OPS, SUPPORT, ADMIN},
    "notifications:checkin": PUBLIC,
    "notifications:export-download": PUBLIC,
    "notifications:index": STAFF,
    "notifications:templates": {SUPPORT, ADMIN},
    "notifications:template-new": {SUPPORT, ADMIN},
    "notifications:template-edit": {SUPPORT, ADMIN},
    "notifications:notice-new": {SUPPORT, ADMIN},
    "notifications:notice": STAFF,
    "notifications:notice-recipient": {SUPPORT, ADMIN},
    "notifications:notice-preview": STAFF,
    "notifications:notice-queue": {SUPPORT, ADMIN},
    "notifications:delivery-action": {OPS, SUPPORT, ADMIN},
    "notifications:forwarding": STAFF,
    "notifications:checkins-send": {OPS, MANAGER, ADMIN},
    "notifications:status-update": {OPS, SUPPORT, ADMIN},
    "notifications:exports": {SUPPORT, MANAGER, ADMIN},
    "notifications:export-link": {SUPPORT, MANAGER, ADMIN},
    "outbox:index": STAFF,  # development only: not routed in production
    "api:backups": PUBLIC,
    "api:rpo": PUBLIC,
    "api:alertmanager": PUBLIC,
    "api:incidents": PUBLIC,
    "api:incident": PUBLIC,
    "api:incident-run": PUBLIC,
    "api:runs": PUBLIC,
    "api:run": PUBLIC,
    "api:step-action": PUBLIC,
    # alerts (issue 19)
    "opsapi:proposals": STAFF,
    "opsapi:proposal-declare": {OPS, ADMIN},
    "opsapi:proposal-dismiss": {OPS, ADMIN},
    "opsapi:tokens": {ADMIN},
    "opsapi:token-revoke": {ADMIN},
    "api:openapi": PUBLIC,
    "api:docs": PUBLIC,
    "notifications:apprise-channels": {ADMIN},
    "notifications:apprise-channel": {ADMIN},
    "notifications:apprise-channel-test": {ADMIN},
    "metrics": PUBLIC,
    "sso-start": PUBLIC,
    "sso-callback": PUBLIC,
    "admin:*": {ADMIN},
    "django_rq:*": {ADMIN},
}

SAMPLE_VALUES = {"int": 1, "str": "x", "slug": "x", "uuid": uuid.UUID(int=1), "path": "x"}


def walk(patterns, namespace: str = ""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from walk(entry.url_patterns, inner)
        elif isinstance(entry, URLPattern) and entry.name:
            yield f"{namespace}{entry.name}", entry


def sample_url(name: str, pattern: URLPattern) -> str | None:
    converters = getattr(pattern.pattern, "converters", {})
    kwargs = {key: SAMPLE_VALUES.get(type(conv).__name__.removesuffix("Converter").lower(), "x")
              for key, conv in converters.items()}
    if not converters and pattern.pattern.regex.groupindex:
        kwargs = {key: "1" for key in pattern.pattern.regex.groupindex}
    try:
        return reverse(name, kwargs=kwargs or None)
    except NoReverseMatch:
        return None


def rule_for(name: str) -> set[str] | None:
    if name in EXPECTED:
        return EXPECTED[name]
    namespace = name.split(":", 1)[0] + ":*"
    return EXPECTED.get(namespace)


ALL_URLS = sorted(walk(get_resolver().url_patterns), key=lambda item: item[0])


def test_every_url_has_a_rule():
    missing = sorted({name for name, _ in ALL_URLS if rule_for(name) is None})
    assert missing == [], f"URLs without a row in EXPECTED: {missing}"


def test_every_public_endpoint_is_in_the_one_list():
    public_in_table = {name for name, who in EXPECTED.items() if ANON in who}
    assert public_in_table <= set(PUBLIC_ENDPOINTS)
    resolvable = {name for name, _ in ALL_URLS}
    assert {name for name in PUBLIC_ENDPOINTS if name in resolvable} == public_in_table


def refused(response, who: str) -> bool:
    if response.status_code == 403 and getattr(response, "drportal_denied", False):
        return True
    if who == ANON and response.status_code == 302 and "/login/" in response.get("Location", ""):
        return True
    # Django admin sends non-admins to its own login page.
    return response.status_code == 302 and "/admin/login/" in response.get("Location", "")


@pytest.mark.parametrize("who", [ANON, OPS, MANAGER, SUPPORT, ADMIN])
def test_each_role_gets_exactly_its_urls(who, client, users):
    if who != ANON:
        client.force_login(users[who])
    client.raise_request_exception = False
    wrong = []
    checked = 0
    for name, pattern in ALL_URLS:
        if name in ("logout", "admin:logout"):
            continue  # would end the session for the rest of the walk; covered by test_logout below
        url = sample_url(name, pattern)
        if url is None:
            continue
        checked += 1
        response = client.get(url)
        allowed = who in rule_for(name)
        # django-rq's job pages raise on a made-up job id; that is past the access check.
        if response.status_code == 500 and not name.startswith("django_rq:"):
            wrong.append(f"{name} {url}: server error for {who}")
        elif allowed == refused(response, who):
            expected = "allowed" if allowed else "refused"
            wrong.append(f"{name} {url}: {response.status_code} for {who}, expected {expected}")
    assert wrong == []
    assert checked >= 20


def test_logout_is_open_to_everyone(client, users):
    client.force_login(users[OPS])
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


def test_a_user_without_a_role_is_refused_every_staff_page(client, users):
    client.force_login(users["nobody"])
    assert client.get(reverse("dashboard")).status_code == 403
    assert client.get(reverse("incidents:list")).status_code == 403
    assert client.get(reverse("healthz")).status_code == 200
