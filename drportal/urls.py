from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from drportal.accounts import sso
from drportal.front import views as front
from drportal.metrics import views as metrics

urlpatterns = [
    path("healthz", front.healthz, name="healthz"),
    path("", front.dashboard, name="dashboard"),
    path("login/", sso.login, name="login"),
    path("logout/", sso.logout, name="logout"),
    path("sso/start/", sso.sso_start, name="sso-start"),
    path("sso/callback/", sso.sso_callback, name="sso-callback"),
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
    path("metrics", metrics.metrics, name="metrics"),
]

if not settings.PRODUCTION:
    # What `make run`'s local sinks received; in production messages reach real people and there is no sink.
    urlpatterns.append(path("outbox/", include("outbox.urls")))

handler403 = "drportal.front.errors.forbidden"
handler404 = "drportal.front.errors.not_found"
handler500 = "drportal.front.errors.server_error"
