"""The cloud finds backup copies through the catalogue backups registers at start-up, never by importing backups."""

import pytest

from backups import cloud_catalogue
from drportal.cloud import copies


def test_the_backups_app_registers_its_records_as_the_clouds_catalogue():
    assert copies.catalogue().images is cloud_catalogue.images
    assert copies.catalogue().dumps is cloud_catalogue.dumps


def test_without_a_registered_catalogue_an_action_is_told_so_rather_than_guessing(monkeypatch):
    monkeypatch.setattr(copies, "_catalogue", None)
    with pytest.raises(LookupError, match="no catalogue of backup copies"):
        copies.catalogue()
