"""The plan is read before any incident: the {placeholders} a run fills in are said in words on the plan page, a
scenario's page and the PDF, never shown as raw braces (a newcomer found "Re-provision {server} from code")."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from scenarios import loader

pytestmark = pytest.mark.django_db

BRACES = re.compile(r"\{\w+\}")


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def test_the_plan_page_says_each_placeholder_in_words(demo, client_as):
    page = text(client_as("mona").get(reverse("scenarios:plan")))

    assert BRACES.findall(page) == []
    assert "Re-provision <var>each server</var> from code" not in page  # words, not markup, inside a title
    assert "Re-provision each server from code" in page
    assert "“[INC-n] Service interruption”" in page


def test_every_scenario_page_says_them_in_words_too(demo, client_as):
    client = client_as("mona")
    for scenario in loader.library().scenarios.values():
        page = text(client.get(reverse("scenarios:detail", args=[scenario.id])))
        assert BRACES.findall(page) == [], scenario.id


def test_the_plan_pdf_says_them_in_words(demo, client_as):
    from tests.scenarios.test_plan_pdf import pdf_text

    pdf = pdf_text(client_as("mona").get(reverse("scenarios:plan-pdf")))

    assert BRACES.findall(pdf) == []
    assert "Re-provision each server from code" in pdf


def test_an_unknown_placeholder_is_said_as_its_own_words():
    from scenarios.plandoc import slot_words

    assert slot_words("Check {load_balancer} of {server}") == "Check load balancer of each server"
