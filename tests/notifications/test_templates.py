from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from notifications import templating
from notifications.choices import NoticeKind
from notifications.models import NoticeTemplate


def make(**kw) -> NoticeTemplate:
    fields = {"kind": NoticeKind.OUTAGE_DECLARED, "name": "t", "subject": "Outage for {{ customer.name }}",
              "body_text": "Hello {{ customer.name }}. {{ loss.summary }}"}
    return NoticeTemplate(**{**fields, **kw})


@pytest.mark.django_db
def test_it_accepts_whitelisted_variables_loops_and_filters():
    t = make(body_text="{% for row in loss.rows %}{{ row.asset }} {{ row.recovery_point|date:'Y-m-d' }}"
                       "{% empty %}none{% endfor %}{% if timeline %}{{ timeline|upper }}{% endif %}")
    t.full_clean()
    t.save()
    assert NoticeTemplate.objects.count() == 1


@pytest.mark.django_db
def test_it_rejects_an_unknown_variable_naming_the_field_and_the_variable():
    t = make(body_text="Hello {{ custmer.name }}")
    with pytest.raises(ValidationError) as exc:
        t.full_clean()
    assert "body_text" in exc.value.message_dict
    assert "unknown variable: custmer.name" in exc.value.message_dict["body_text"]


def test_it_rejects_an_unknown_attribute_of_a_known_variable():
    with pytest.raises(ValidationError, match=r"unknown variable: incident.summary"):
        templating.validate("{{ incident.summary }}", "subject")


def test_it_rejects_unknown_variables_inside_tags_and_filter_arguments():
    with pytest.raises(ValidationError, match="unknown variable: secret"):
        templating.validate("{% if secret %}x{% endif %}", "body_text")
    with pytest.raises(ValidationError, match="unknown variable: other"):
        templating.validate("{{ timeline|default:other }}", "body_text")
    with pytest.raises(ValidationError, match=r"unknown variable: row\.password"):
        templating.validate("{% for row in loss.rows %}{{ row.password }}{% endfor %}", "body_text")


def test_it_rejects_tags_that_reach_outside_the_notice():
    with pytest.raises(ValidationError, match="tag not allowed in notices: include"):
        templating.validate('{% include "base.html" %}', "body_html")
    with pytest.raises(ValidationError, match="template syntax error"):
        templating.validate("{% load static %}", "body_html")


def test_it_reports_a_syntax_error_with_the_field():
    with pytest.raises(ValidationError) as exc:
        templating.validate("{% if timeline %}unterminated", "subject")
    assert "template syntax error" in exc.value.message_dict["subject"][0]
