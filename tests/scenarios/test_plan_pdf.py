"""The plan as a printable PDF: the same document as the plan page, read back with pypdf."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from pypdf import PdfReader

from drportal.lib import clock
from scenarios import loader
from scenarios.models import Mitigation

pytestmark = pytest.mark.django_db


def pdf_text(response) -> str:
    reader = PdfReader(io.BytesIO(response.content))
    # Words a line break split in the layout come back joined by a newline: compare on single spaces.
    return re.sub(r"\s+", " ", "\n".join(page.extract_text() for page in reader.pages))


@pytest.mark.parametrize("who", ["alice", "mona"])
def test_ops_and_managers_download_the_plan_as_a_pdf(client_as, who):
    response = client_as(who).get(reverse("scenarios:plan-pdf"))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith('attachment; filename="dr-plan-')
    assert response.content.startswith(b"%PDF-")


def test_the_pdf_holds_every_scenario_with_its_steps_and_objectives(client_as):
    text = pdf_text(client_as("mona").get(reverse("scenarios:plan-pdf")))

    for scenario in loader.library().scenarios.values():
        assert scenario.title in text, scenario.title
    assert "Provision each server in Kansas City from its most recent viable image" in text
    assert "Action provision_from_image for each server" in text
    # Dallas offline: RTO 600 min; its RPO is the plan's promise, and no backup policy exists in this test
    assert "Recovery time 10 h; no recovery point objective (no backup policy covers what it recovers)." in text
    assert "Owner: Jivosoft operations" in text


def test_the_pdf_flags_scenarios_past_their_review_date(client_as):
    text = pdf_text(client_as("alice").get(reverse("scenarios:plan-pdf")))

    assert "REVIEW OVERDUE since 2019-08-15" in text  # Jivosoft last reviewed 2018-08-15, yearly
    assert "past their review date" in text


def test_the_pdf_lists_the_standing_mitigations_with_owners_and_renewals(client_as):
    renews = clock.now().date() + timedelta(days=200)
    Mitigation.objects.create(slug="geekdom-membership", title="Geekdom memberships", kind="coworking",
                              owner="Office manager", renews_on=renews, last_checked_on=clock.now().date())

    text = pdf_text(client_as("mona").get(reverse("scenarios:plan-pdf")))

    assert "Geekdom memberships" in text
    assert "Office manager" in text
    assert renews.isoformat() in text


def test_the_plan_page_links_to_the_pdf(client_as):
    page = client_as("sam").get(reverse("scenarios:plan")).content.decode()

    assert reverse("scenarios:plan-pdf") in page
