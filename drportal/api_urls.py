"""The token-authenticated API (/api/v1/). Each app adds its endpoints here under the "api" namespace."""

from __future__ import annotations

from django.urls import path

from backups import api as backups_api
from drportal.front import api_docs
from drportal.opsapi import api as ops_api
from drportal.opsapi import views as opsapi_views

app_name = "api"

urlpatterns = [
    path("backups/", backups_api.ingest, name="backups"),
    path("rpo/", backups_api.rpo, name="rpo"),
    path("alerts/alertmanager", opsapi_views.alertmanager_webhook, name="alertmanager"),
    path("incidents/", ops_api.incidents, name="incidents"),
    path("incidents/<int:pk>/", ops_api.incident, name="incident"),
    path("incidents/<int:pk>/run/", ops_api.incident_run, name="incident-run"),
    path("runs/", ops_api.runs, name="runs"),
    path("runs/<int:pk>/", ops_api.run, name="run"),
    path("steps/<int:pk>/<slug:op>/", ops_api.step_action, name="step-action"),
    path("openapi.json", api_docs.openapi_json, name="openapi"),
    path("docs/", api_docs.docs, name="docs"),
]
