"""A real OpenID provider for the tests (oidc-provider-mock, on a free port of this process), and drportal
configured to use it."""

from __future__ import annotations

import pytest
import requests

OLIVIA = {"sub": "olivia-0001", "email": "olivia@corp.example", "preferred_username": "olivia",
          "given_name": "Olivia", "family_name": "Ortiz", "groups": ["dr-ops", "everyone"]}
NINA = {"sub": "nina-0002", "email": "nina@corp.example", "preferred_username": "nina", "groups": ["marketing"]}


@pytest.fixture
def provider(settings, monkeypatch):
    """The provider's base URL; the users above are known to it, and drportal points at it."""
    oidc_provider_mock = pytest.importorskip("oidc_provider_mock")
    # The provider's own switch to allow plain http on loopback (its command line sets it too).
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")
    with oidc_provider_mock.run_server_in_thread(require_nonce=True) as server:
        base = f"http://127.0.0.1:{server.server_port}"
        for user in (OLIVIA, NINA):
            set_claims(base, user)
        config = requests.get(f"{base}/.well-known/openid-configuration", timeout=5).json()
        settings.OIDC_RP_CLIENT_ID = "drportal"
        settings.OIDC_RP_CLIENT_SECRET = "drportal-secret"
        settings.OIDC_OP_AUTHORIZATION_ENDPOINT = config["authorization_endpoint"]
        settings.OIDC_OP_TOKEN_ENDPOINT = config["token_endpoint"]
        settings.OIDC_OP_USER_ENDPOINT = config["userinfo_endpoint"]
        settings.OIDC_OP_JWKS_ENDPOINT = config["jwks_uri"]
        settings.OIDC_OP_END_SESSION_ENDPOINT = config["end_session_endpoint"]
        settings.OIDC_PROVIDER_NAME = "Corp SSO"
        settings.PASSWORD_LOGIN = ""
        # oidc-provider-mock signs with its one key but puts no "kid" in the token header.
        settings.OIDC_VERIFY_KID = False
        yield base


def set_claims(base: str, user: dict) -> None:
    claims = {k: v for k, v in user.items() if k != "sub"}
    response = requests.put(f"{base}/users/{user['sub']}", json=claims, timeout=5)
    assert response.status_code == 204, response.text


def sign_in_through(client, sub: str):
    """The authorization code flow a browser follows: drportal's start, the provider's form (as `sub`), back
    to drportal's callback, which exchanges the code with the provider. Returns the callback's response."""
    start = client.get("/sso/start/")
    assert start.status_code == 302, start
    authorize = requests.post(start["Location"], data={"sub": sub}, allow_redirects=False, timeout=5)
    assert authorize.status_code == 302, authorize.text
    back = authorize.headers["Location"]
    return client.get(back[back.index("/sso/callback/"):])
