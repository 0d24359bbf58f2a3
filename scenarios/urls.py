from __future__ import annotations

from django.urls import path

from scenarios import views

app_name = "scenarios"

urlpatterns = [
    path("", views.index, name="index"),
    path("plan/", views.plan, name="plan"),
    path("plan.pdf", views.plan_pdf, name="plan-pdf"),
    path("mitigations/", views.mitigations, name="mitigations"),
    path("mitigations/<int:pk>/checked/", views.mitigation_checked, name="mitigation-checked"),
    path("drills/", views.drill_report, name="drills"),
    path("drills.csv", views.drill_csv, name="drills-csv"),
    path("drills/<int:pk>/", views.drill_detail, name="drill"),
    path("drills/<int:pk>/teardown/", views.drill_teardown, name="drill-teardown"),
    path("incident/<int:incident_id>/execute/", views.execute, name="execute"),
    path("incident/<int:incident_id>/review/", views.review, name="review"),
    path("runs/<int:pk>/", views.run_detail, name="run"),
    path("runs/<int:pk>/live/", views.run_live, name="run-live"),
    path("runs/<int:pk>/<slug:op>/", views.run_action, name="run-action"),
    path("approve/<str:token>/", views.approve_link, name="approve-link"),
    path("steps/<int:pk>/", views.step_detail, name="step"),
    path("steps/<int:pk>/<slug:op>/", views.step_action, name="step-action"),
    path("recovery-points/<int:pk>/suspect/", views.point_suspect, name="point-suspect"),
    path("<slug:scenario_id>/", views.detail, name="detail"),
    path("<slug:scenario_id>/drill/", views.drill_start, name="drill-start"),
    path("<slug:scenario_id>/drill/bubble/", views.drill_bubble_start, name="drill-bubble"),
]
