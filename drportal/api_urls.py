"""The token-authenticated API (/api/v1/). Each app adds its endpoints here under the "api" namespace."""

from __future__ import annotations

from django.urls import path

from backups import api as backups_api
from drportal.opsapi import views as opsapi_views

app_name = "api"

urlpatterns = [
    path("backups/", backups_api.ingest, name="backups"),
    path("rpo/", backups_api.rpo, name="rpo"),
    path("alerts/alertmanager", opsapi_views.alertmanager_webhook, name="alertmanager"),
]
