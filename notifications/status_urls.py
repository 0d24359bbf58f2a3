"""The public status page (no login). Its URL names are listed in drportal.accounts.access.PUBLIC_ENDPOINTS."""

from __future__ import annotations

from django.urls import path

from notifications import status_views

app_name = "status"

urlpatterns = [
    path("", status_views.index, name="index"),
    path("incidents/<int:pk>/", status_views.incident, name="incident"),
    path("feed.atom", status_views.feed, name="feed"),
    path("subscribe/", status_views.subscribe, name="subscribe"),
    path("subscribe/confirm/<str:token>/", status_views.confirm, name="confirm"),
    path("unsubscribe/<str:token>/", status_views.unsubscribe, name="unsubscribe"),
]
