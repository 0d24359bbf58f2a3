"""Shared fixtures: named users for each role (the healthchecks way) and clients signed in as them.

alice is ops, mona is a manager, sam is support, ada is an admin, and nobody has no role at all.
"""

from __future__ import annotations

import os

import pytest
from django.contrib.auth.models import User

from drportal.accounts.access import Role
from drportal.accounts.roles import grant

PASSWORD = "correct-horse-battery-staple"

NAMED = {"alice": Role.OPS, "mona": Role.MANAGER, "sam": Role.SUPPORT, "ada": Role.ADMIN, "nobody": None}


def make_user(username: str, role: str | None) -> User:
    user = User.objects.create_user(username, f"{username}@example.test", PASSWORD)
    if role:
        grant(user, role)
    return user


@pytest.fixture
def users(db) -> dict[str, User]:
    return {name: make_user(name, role) for name, role in NAMED.items()}


@pytest.fixture
def alice(users) -> User:
    return users["alice"]


@pytest.fixture
def mona(users) -> User:
    return users["mona"]


@pytest.fixture
def sam(users) -> User:
    return users["sam"]


@pytest.fixture
def ada(users) -> User:
    return users["ada"]


@pytest.fixture
def client_as(client, users):
    """client_as("alice") -> the test client signed in as alice."""

    def sign_in(name: str):
        client.force_login(users[name])
        return client

    return sign_in


def peer_missing(what: str) -> None:
    """A real peer is not installed: skip on a developer's machine, fail in CI (which installs it)."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} is required in CI but is not installed")
    pytest.skip(f"{what} is not installed (make system-deps installs it)")
