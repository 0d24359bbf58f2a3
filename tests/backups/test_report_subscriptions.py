"""The page where a manager subscribes to the compliance report by e-mail: customers are typed as a list of
names with suggestions (no <select> of every customer, issue 17), and every name that is not a customer is
said, one by one, with nothing saved and nothing typed lost."""

from __future__ import annotations

import html

from django.urls import reverse

from backups.models import ReportSubscription
from drportal.audit.models import AuditEvent
from drportal.inventory.models import Customer

PAGE = "/backups/compliance/subscriptions/"


def errors_of(response) -> list[str]:
    return list(response.context["form"].errors.get("customers", []))


def test_a_manager_subscribes_two_customers_by_typing_their_names(world, users, client_as,
                                                                   django_assert_num_queries):
    client = client_as("mona")
    client.get(PAGE)
    # session, user, profile, groups; the policies offered; the subscriptions (none yet: nothing to prefetch);
    # what was sent. No query for the customers: the field is text.
    with django_assert_num_queries(7):
        page = client.get(PAGE).content.decode()
    assert '<select name="customers"' not in page
    assert 'list="report-customer-options"' in page
    # session, user, profile, groups; the customers matching the entry being typed (at most 20)
    with django_assert_num_queries(5):
        options = client.get(reverse("backups:report-customer-options"), {"customers": "Acme Dental, zet"})
    assert options.content.decode().strip() == '<option value="Acme Dental, Zeta Clinics">Zeta Clinics (zeta)</option>'
    response = client.post(PAGE, {"frequency": "weekly", "customers": "Acme Dental, Zeta Clinics"})
    assert response.status_code == 302
    subscription = ReportSubscription.objects.get()
    assert set(subscription.customers.all()) == {world.acme, world.zeta}
    assert not subscription.policies.exists()
    event = AuditEvent.objects.get(action="compliance_report.subscribed")
    assert sorted(event.after["customers"]) == ["Acme Dental", "Zeta Clinics"]
    assert "<td>Acme Dental, Zeta Clinics</td>" in client.get(PAGE).content.decode()


def test_names_are_matched_whatever_their_case_and_identifiers_work_too(world, users, client_as):
    client_as("mona").post(PAGE, {"frequency": "daily", "customers": " acme dental ,zeta, Acme Dental"})
    assert list(ReportSubscription.objects.get().customers.order_by("name")) == [world.acme, world.zeta]


def test_an_empty_field_subscribes_to_every_customer(world, users, client_as):
    assert client_as("mona").post(PAGE, {"frequency": "daily", "customers": ""}).status_code == 302
    assert not ReportSubscription.objects.get().customers.exists()


def test_each_unknown_name_is_an_error_of_its_own_and_nothing_typed_is_lost(world, users, client_as):
    typed = "Acme Dental, Acme Dentl, Nobody Inc"
    response = client_as("mona").post(PAGE, {"frequency": "weekly", "customers": typed})
    assert response.status_code == 200
    assert errors_of(response) == ["No customer is named “Acme Dentl”: pick one of the suggestions.",
                                   "No customer is named “Nobody Inc”: pick one of the suggestions."]
    assert f'value="{typed}"' in response.content.decode()
    assert not ReportSubscription.objects.exists()
    assert not AuditEvent.objects.filter(action="compliance_report.subscribed").exists()


def test_a_list_of_only_commas_is_refused_not_read_as_every_customer(world, users, client_as):
    response = client_as("mona").post(PAGE, {"frequency": "weekly", "customers": " , ,, "})
    assert errors_of(response) == ["No customer name in what you typed: leave the field empty for every customer, "
                                   "or type names separated by commas."]
    assert not ReportSubscription.objects.exists()


def test_ten_thousand_names_are_refused_before_any_is_looked_up(world, users, client_as,
                                                                 django_assert_max_num_queries):
    names = ", ".join(f"Customer {n}" for n in range(10_000))
    client = client_as("mona")
    with django_assert_max_num_queries(9):
        response = client.post(PAGE, {"frequency": "weekly", "customers": names})
    assert errors_of(response) == ["10,000 customers named: a subscription names at most 100. Leave the field "
                                   "empty for every customer."]
    assert not ReportSubscription.objects.exists()


def test_a_hundred_unknown_names_list_twenty_and_count_the_rest(world, users, client_as):
    names = ", ".join(f"Ghost {n}" for n in range(100))
    errors = errors_of(client_as("mona").post(PAGE, {"frequency": "weekly", "customers": names}))
    assert len(errors) == 21
    assert errors[-1] == "and 80 more names not found."


def test_a_name_with_html_is_shown_as_text_never_run(world, users, client_as):
    evil = '<script>alert(1)</script>'
    response = client_as("mona").post(PAGE, {"frequency": "weekly", "customers": f"Acme Dental, {evil}"})
    page = response.content.decode()
    assert evil not in page
    assert html.escape(f"No customer is named “{evil}”") in page.replace("&#x27;", "'")
    assert not ReportSubscription.objects.exists()


def test_a_name_two_customers_share_asks_for_an_identifier(world, users, client_as):
    Customer.objects.create(slug="acme-2", name="Acme Dental")
    response = client_as("mona").post(PAGE, {"frequency": "weekly", "customers": "Acme Dental"})
    assert errors_of(response) == ["2 customers are named “Acme Dental”: type one of their identifiers instead "
                                   "(acme, acme-2)."]
    client_as("mona").post(PAGE, {"frequency": "weekly", "customers": "acme-2"})
    assert ReportSubscription.objects.get().customers.get().slug == "acme-2"


def test_suggestions_offer_a_name_with_a_comma_by_its_identifier_and_escape_html(world, users, client_as):
    Customer.objects.create(slug="smith-co", name="Smith, <b>Co</b>")
    client = client_as("mona")
    options = client.get(reverse("backups:report-customer-options"), {"customers": "zeta, smi"}).content.decode()
    assert options.strip() == '<option value="zeta, smith-co">Smith, &lt;b&gt;Co&lt;/b&gt; (smith-co)</option>'
    assert client.get(reverse("backups:report-customer-options"), {"customers": "acme, "}).content.strip() == b""
