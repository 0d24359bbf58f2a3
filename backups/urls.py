from __future__ import annotations

from django.urls import path

from backups import views

app_name = "backups"

urlpatterns = [
    path("", views.index, name="index"),
    path("assets/<int:pk>/", views.asset, name="asset"),
    path("policies/", views.policy_list, name="policies"),
    path("policies/new/", views.policy_form, name="policy-new"),
    path("policies/<int:pk>/", views.policy_detail, name="policy"),
    path("policies/<int:pk>/edit/", views.policy_form, name="policy-edit"),
    path("policies/cron-preview/", views.cron_preview, name="cron-preview"),
    path("records/<int:pk>/verify/", views.request_verification, name="verify"),
    path("compliance/", views.compliance, name="compliance"),
    path("compliance.csv", views.compliance_csv, name="compliance-csv"),
    path("compliance.pdf", views.compliance_pdf, name="compliance-pdf"),
    path("compliance/subscriptions/", views.report_subscriptions, name="report-subscriptions"),
    path("compliance/subscriptions/customers/", views.report_customer_options, name="report-customer-options"),
    path("compliance/subscriptions/<int:pk>/unsubscribe/", views.report_unsubscribe, name="report-unsubscribe"),
    path("exposure/", views.exposure_page, name="exposure"),
    path("tokens/", views.tokens, name="tokens"),
    path("tokens/<int:pk>/revoke/", views.revoke_token, name="token-revoke"),
    path("unmatched/", views.unmatched, name="unmatched"),
]
