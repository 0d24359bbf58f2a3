"""The backups world (two seed companies in miniature) for the hostile-input tests."""

from tests.backups.conftest import world  # noqa: F401  (a fixture, used by name)
