from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from drportal.front import views as front

urlpatterns = [
    path("healthz", front.healthz, name="healthz"),
    path("", front.dashboard, name="dashboard"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("account/", include("drportal.accounts.urls")),
    path("inventory/", include("drportal.inventory.urls")),
    path("incidents/", include("drportal.incidents.urls")),
    path("cloud/", include("drportal.cloud.urls")),
    path("backups/", include("backups.urls")),
    path("scenarios/", include("scenarios.urls")),
    path("notifications/", include("notifications.urls")),
    path("status/", include("notifications.status_urls")),
    path("api/v1/", include("drportal.api_urls")),
    path("alerts/", include("drportal.opsapi.urls")),
    path("admin/rq/", include("django_rq.urls")),
    path("admin/", admin.site.urls),
]

handler403 = "drportal.front.errors.forbidden"
handler404 = "drportal.front.errors.not_found"
handler500 = "drportal.front.errors.server_error"
