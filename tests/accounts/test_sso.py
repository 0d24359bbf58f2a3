"""Single sign-on through a real local OpenID provider: users created on first sign-in, roles from groups at
every sign-in (audited), refusal in a sentence, and the password login kept for a break-glass admin."""

from __future__ import annotations

from django.contrib.auth.models import User

from drportal.accounts.access import user_roles
from drportal.audit.models import AuditEvent
from tests.accounts.sso_provider import NINA, OLIVIA, provider, set_claims, sign_in_through  # noqa: F401
from tests.conftest import PASSWORD


def password_sign_in(client, username: str) -> bool:
    client.post("/login/", {"username": username, "password": PASSWORD})
    return "_auth_user_id" in client.session


def roles_of(username: str) -> set[str]:
    return set(user_roles(User.objects.get(username=username)))


def test_a_first_sign_in_creates_the_user_with_the_roles_of_their_groups(provider, client, db):  # noqa: F811
    response = sign_in_through(client, OLIVIA["sub"])
    assert response.status_code == 302
    assert response["Location"] == "/"
    olivia = User.objects.get(username="olivia")
    assert (olivia.email, olivia.first_name, olivia.profile.oidc_subject) == ("olivia@corp.example", "Olivia",
                                                                              "olivia-0001")
    assert roles_of("olivia") == {"ops"}
    assert not olivia.has_usable_password()
    assert client.get("/").status_code == 200
    events = AuditEvent.objects.filter(object_type="auth.user", object_id=str(olivia.pk)).order_by("pk")
    actions = list(events.values_list("action", flat=True))
    assert actions == ["user.created_by_sso", "user.roles_changed", "user.sso_sign_in"]


def test_a_changed_group_changes_the_role_at_the_next_sign_in_and_is_audited(provider, client, db):  # noqa: F811
    sign_in_through(client, OLIVIA["sub"])
    set_claims(provider, {**OLIVIA, "groups": ["dr-managers", "dr-admins"]})
    client.post("/logout/")
    sign_in_through(client, OLIVIA["sub"])
    assert roles_of("olivia") == {"manager", "admin"}
    assert User.objects.get(username="olivia").is_superuser
    change = AuditEvent.objects.filter(action="user.roles_changed").order_by("-pk").first()
    assert (change.before, change.after) == ({"roles": ["ops"]}, {"roles": ["admin", "manager"]})
    assert change.actor_label == "sso:olivia-0001"


def test_someone_without_a_mapped_group_is_refused_with_a_sentence(provider, client, db):  # noqa: F811
    response = sign_in_through(client, NINA["sub"])
    assert response["Location"] == "/login/"
    page = client.get("/login/").content.decode()
    assert "none of your groups (marketing) gives a role in drportal" in page
    assert "dr-ops" in page
    assert not User.objects.filter(email="nina@corp.example").exists()
    assert client.get("/").status_code == 302  # still signed out


def test_losing_every_mapped_group_takes_the_roles_away(provider, client, db):  # noqa: F811
    sign_in_through(client, OLIVIA["sub"])
    client.post("/logout/")
    set_claims(provider, {**OLIVIA, "groups": ["everyone"]})
    sign_in_through(client, OLIVIA["sub"])
    assert roles_of("olivia") == set()
    assert client.get("/").status_code == 302


def test_a_provider_account_never_takes_over_a_local_account_of_the_same_name(provider, client, users):  # noqa: F811
    set_claims(provider, {**OLIVIA, "sub": "ada-at-idp", "preferred_username": "ada", "groups": ["dr-ops"]})
    sign_in_through(client, "ada-at-idp")
    assert roles_of("ada") == {"admin"}
    assert roles_of("ada-1") == {"ops"}


def test_with_sso_only_an_admin_may_still_use_a_password(provider, client, users):  # noqa: F811
    assert password_sign_in(client, "ada")
    client.post("/logout/")
    assert not password_sign_in(client, "alice")


def test_password_login_can_be_switched_off(provider, client, users, settings):  # noqa: F811
    settings.PASSWORD_LOGIN = "off"
    assert not password_sign_in(client, "ada")
    page = client.get("/login/").content.decode()
    assert "Sign in with Corp SSO" in page
    assert 'name="password"' not in page


def test_without_sso_the_password_login_is_unchanged_and_sso_urls_are_not_found(client, users):
    assert password_sign_in(client, "alice")
    assert client.get("/sso/start/").status_code == 404
    assert "Sign in with" not in client.get("/login/").content.decode()


def test_the_page_asked_for_before_signing_in_opens_after_it(provider, client, db):  # noqa: F811
    login = client.get("/incidents/")
    assert login["Location"] == "/login/?next=/incidents/"
    assert 'href="/sso/start/?next=/incidents/"' in client.get(login["Location"]).content.decode()
    start = client.get("/sso/start/?next=/incidents/")
    import requests

    authorize = requests.post(start["Location"], data={"sub": OLIVIA["sub"]}, allow_redirects=False, timeout=5)
    back = authorize.headers["Location"]
    assert client.get(back[back.index("/sso/callback/"):])["Location"] == "/incidents/"


def test_a_groups_claim_of_the_wrong_shape_is_refused_not_a_crash(provider, client, db):  # noqa: F811
    set_claims(provider, {**NINA, "groups": [{"name": "dr-ops"}, 7, None]})
    response = sign_in_through(client, NINA["sub"])
    assert response["Location"] == "/login/"
    assert "none of your groups (none) gives a role" in client.get("/login/").content.decode()
