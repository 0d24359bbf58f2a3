from __future__ import annotations

from django.urls import path

from drportal.incidents import views

app_name = "incidents"

urlpatterns = [
    path("", views.incident_list, name="list"),
    path("declare/", views.declare, name="declare"),
    path("declare/servers/", views.declare_servers, name="declare-servers"),
    path("declare/preview/", views.declare_preview, name="declare-preview"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/transition/", views.transition, name="transition"),
    path("<int:pk>/widen/", views.widen, name="widen"),
]
