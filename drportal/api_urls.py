"""The token-authenticated API (/api/v1/). Each app adds its endpoints here under the "api" namespace."""

from __future__ import annotations

from django.urls import path

from backups import api as backups_api
from drportal.front import api_docs

app_name = "api"

urlpatterns = [
    path("backups/", backups_api.ingest, name="backups"),
    path("rpo/", backups_api.rpo, name="rpo"),
    path("openapi.json", api_docs.openapi_json, name="openapi"),
    path("docs/", api_docs.docs, name="docs"),
]
