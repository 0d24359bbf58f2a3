"""The customer exports page: a customer field with suggestions, not a <select> of every customer."""

from __future__ import annotations

from django.urls import reverse

from drportal.inventory.models import Customer
from notifications.models import CustomerExport


def test_the_page_names_no_customer_until_asked_and_takes_a_fixed_number_of_queries(
        client_as, django_assert_num_queries):
    Customer.objects.bulk_create([Customer(slug=f"c{i}", name=f"Clinic {i}") for i in range(30)])
    client = client_as("sam")
    # session, user, profile, groups; the exports with their customers and requesters
    with django_assert_num_queries(5):
        page = client.get(reverse("notifications:exports")).content.decode()
    assert "Clinic 1" not in page
    assert 'list="customer-options"' in page
    assert reverse("inventory:customer-options") in page


def test_an_unknown_customer_is_refused_with_a_clear_message(client_as):
    response = client_as("sam").post(reverse("notifications:exports"), {"customer": "nobody-by-that-name"})
    assert "No customer has that identifier" in response.content.decode()
    assert not CustomerExport.objects.exists()
