"""Shared fixtures: named users for each role (the healthchecks way) and clients signed in as them.

alice is ops, mona is a manager, sam is support, ada is an admin, and nobody has no role at all.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest
from django.contrib.auth.models import User

from drportal.accounts.access import Role
from drportal.accounts.roles import grant
from tests.support.standins import database_servers, demo_cloud  # noqa: F401 - fixtures for every test module

PASSWORD = "correct-horse-battery-staple"

# The demo's stand-ins (its database server for restores, its Cloud Files store) for this test session alone: a
# test's restores never land in the developer's `make run` demo under var/, nor one test session's in another's.
OWN_DEMO_DIR = "DRPORTAL_DEMO_DIR" not in os.environ
if OWN_DEMO_DIR:
    os.environ["DRPORTAL_DEMO_DIR"] = tempfile.mkdtemp(prefix="drportal-test-demo-")
    # The replacements' PostgreSQL listen on this port at their own loopback addresses: not a running demo's.
    os.environ.setdefault("DRPORTAL_STANDIN_PORT", str(26000 + os.getpid() % 1000))


def pytest_sessionfinish(session, exitstatus):
    from drportal.lib import standin_pg

    standin_pg.stop_all()
    if OWN_DEMO_DIR:
        shutil.rmtree(os.environ["DRPORTAL_DEMO_DIR"], ignore_errors=True)


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
