from __future__ import annotations

from django.urls import path

from drportal.inventory import views

app_name = "inventory"

urlpatterns = [
    path("servers/", views.server_list, name="servers"),
    path("servers/<int:pk>/", views.server_detail, name="server"),
    path("customers/", views.customer_list, name="customers"),
    path("customers/options/", views.customer_options, name="customer-options"),
    path("customers/<int:pk>/", views.customer_detail, name="customer"),
    path("offices/", views.office_list, name="offices"),
    path("import/", views.import_upload, name="import"),
]
