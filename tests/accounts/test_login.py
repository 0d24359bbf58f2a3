from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from tests.conftest import PASSWORD


def test_it_signs_in_with_the_right_password(client, alice):
    response = client.post(reverse("login"), {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get(reverse("dashboard")).status_code == 200


def test_it_refuses_a_wrong_password(client, alice):
    response = client.post(reverse("login"), {"username": "alice", "password": "wrong-password"})
    assert response.status_code == 200
    assert b"did not match" in response.content


def test_it_locks_the_account_after_five_failures_even_for_the_right_password(client, alice):
    for _ in range(5):
        client.post(reverse("login"), {"username": "alice", "password": "wrong-password"})
    response = client.post(reverse("login"), {"username": "alice", "password": PASSWORD})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_the_login_form_needs_a_csrf_token(alice):
    client = Client(enforce_csrf_checks=True)
    response = client.post(reverse("login"), {"username": "alice", "password": PASSWORD})
    assert response.status_code == 403


@pytest.mark.parametrize("name", ["incidents:declare", "inventory:import"])
def test_staff_forms_need_a_csrf_token(ada, name):
    client = Client(enforce_csrf_checks=True)
    client.force_login(ada)
    assert client.post(reverse(name), {"title": "x"}).status_code == 403


def test_the_session_cookie_is_http_only_and_same_site(client, alice):
    client.post(reverse("login"), {"username": "alice", "password": PASSWORD})
    cookie = client.cookies["sessionid"]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"


def test_pages_carry_a_content_security_policy_without_inline_scripts(client_as):
    response = client_as("alice").get(reverse("dashboard"))
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert b"<script>" not in response.content
    assert response["X-Frame-Options"] == "DENY"
