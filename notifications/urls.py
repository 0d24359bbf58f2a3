from __future__ import annotations

from django.urls import path

from notifications import channel_views, views

app_name = "notifications"

urlpatterns = [
    path("", views.index, name="index"),
    path("templates/", views.template_list, name="templates"),
    path("templates/new/", views.template_edit, name="template-new"),
    path("templates/<int:pk>/", views.template_edit, name="template-edit"),
    path("incidents/<int:incident_pk>/notices/new/", views.notice_new, name="notice-new"),
    path("notices/<int:pk>/", views.notice_detail, name="notice"),
    path("notices/<int:pk>/recipients/", views.notice_recipient, name="notice-recipient"),
    path("notices/<int:pk>/preview/<slug:customer>/", views.notice_preview, name="notice-preview"),
    path("notices/<int:pk>/queue/", views.notice_queue, name="notice-queue"),
    path("deliveries/<int:pk>/<str:action>/", views.delivery_action, name="delivery-action"),
    path("incidents/<int:incident_pk>/forwarding/", views.forwarding, name="forwarding"),
    path("incidents/<int:incident_pk>/checkins/send/", views.send_checkins, name="checkins-send"),
    path("incidents/<int:incident_pk>/status-update/", views.status_update, name="status-update"),
    path("checkin/<str:token>/", views.checkin, name="checkin"),
    path("maintenance/", views.maintenance, name="maintenance"),
    path("maintenance/<int:pk>/cancel/", views.maintenance_cancel, name="maintenance-cancel"),
    path("exports/", views.export_list, name="exports"),
    path("exports/<int:pk>/link/", views.export_link, name="export-link"),
    path("exports/download/<str:token>/", views.export_download, name="export-download"),
    path("channels/", channel_views.channel_list, name="apprise-channels"),
    path("channels/<int:pk>/", channel_views.channel_list, name="apprise-channel"),
    path("channels/<int:pk>/test/", channel_views.channel_test, name="apprise-channel-test"),
]
