"""Staff sign in through their identity provider (a real local OpenID provider, oidc-provider-mock): Olivia,
in the dr-ops group, lands on the dashboard as ops and signs out of both; Nina, in no mapped group, is told
why she cannot enter."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import expect

from drportal.accounts.access import user_roles
from tests.accounts.sso_provider import NINA, OLIVIA, provider  # noqa: F401 (the provider fixture)
from tests.browser.conftest import save_shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in_at_provider(page, live_server, sub: str) -> None:
    page.goto(f"{live_server.url}/")
    expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()
    page.get_by_role("link", name="Sign in with Corp SSO").click()
    expect(page.get_by_role("heading", name="Authorize Client")).to_be_visible()
    page.get_by_placeholder("sub").fill(sub)
    page.get_by_role("button", name="Authorize").click()


def test_staff_sign_in_with_sso_get_their_role_from_groups_and_sign_out(provider, live_server, page):  # noqa: F811
    sign_in_at_provider(page, live_server, OLIVIA["sub"])
    page.wait_for_url(f"{live_server.url}/")
    expect(page.get_by_role("link", name=re.compile(r"olivia · ops"))).to_be_visible()
    assert set(user_roles(User.objects.get(username="olivia"))) == {"ops"}
    save_shot(page, "sso-signed-in")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="End Session")).to_be_visible()  # the provider's own session
    page.get_by_role("button", name="End session").click()
    page.wait_for_url(f"{live_server.url}/login/")
    page.goto(f"{live_server.url}/incidents/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/incidents/"))


def test_someone_in_no_mapped_group_is_refused_with_a_sentence(provider, live_server, page):  # noqa: F811
    sign_in_at_provider(page, live_server, NINA["sub"])
    page.wait_for_url(f"{live_server.url}/login/")
    expect(page.get_by_role("alert")).to_contain_text(
        "You signed in as nina@corp.example at your identity provider, but none of your groups (marketing) "
        "gives a role in drportal.")
    save_shot(page, "sso-refused")
    page.goto(f"{live_server.url}/")
    expect(page).to_have_url(re.compile(r"/login/"))
    assert not User.objects.filter(email="nina@corp.example").exists()
