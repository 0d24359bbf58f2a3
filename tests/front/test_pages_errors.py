from __future__ import annotations

from django.urls import reverse

from drportal.front.errors import database_down


def test_a_missing_page_says_so_inside_the_product(client_as):
    response = client_as("sam").get("/no/such/page/")
    page = response.content.decode()
    assert response.status_code == 404
    assert '<p class="error-code">Error 404</p>' in page
    assert 'aria-label="Main"' in page  # the navigation is still there


def test_a_refused_page_names_the_users_roles(client_as):
    response = client_as("sam").get(reverse("backups:compliance"))
    page = response.content.decode()
    assert response.status_code == 403
    assert '<p class="error-code">Error 403</p>' in page
    assert "Your roles: support." in page


def test_the_database_down_page_renders_without_the_database():
    # No db fixture: pytest-django raises on any database access, as if PostgreSQL were down.
    response = database_down()
    page = response.content.decode()
    assert response.status_code == 503
    assert response["Retry-After"] == "10"
    assert "Error 503 · database unreachable" in page
    assert '<link rel="stylesheet" href="/static/css/drportal.css">' in page
