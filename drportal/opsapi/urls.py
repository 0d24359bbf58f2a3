from __future__ import annotations

from django.urls import path

from drportal.opsapi import views

app_name = "opsapi"

urlpatterns = [
    path("", views.proposals, name="proposals"),
    path("proposals/<int:pk>/declare/", views.proposal_declare, name="proposal-declare"),
    path("proposals/<int:pk>/dismiss/", views.proposal_dismiss, name="proposal-dismiss"),
    path("tokens/", views.api_tokens, name="tokens"),
    path("tokens/<int:pk>/revoke/", views.api_token_revoke, name="token-revoke"),
]
