from __future__ import annotations

from django.urls import path

from drportal.cloud import views

app_name = "cloud"

urlpatterns = [
    path("accounts/", views.accounts, name="accounts"),
    path("accounts/<int:pk>/test/", views.test_connection, name="test-connection"),
    path("accounts/<int:pk>/sync/", views.sync, name="sync"),
]
