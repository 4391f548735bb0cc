"""Quality's pages (staff): the wellbeing questionnaires on a plan and the quality dashboard."""

from django.urls import URLPattern, path

from quality.views import (
    dashboard,  # the quality dashboard
    responses,  # staff: questionnaires on a plan
)

app_name = "quality"

urlpatterns: list[URLPattern] = [
    # --- staff: questionnaires on a plan (helper "staff") ---
    path("plans/<uuid:public_id>/questionnaires/new/", responses.response_create, name="response-create"),
    path(
        "plans/<uuid:public_id>/questionnaire-responses/<uuid:response_id>/",
        responses.response_detail,
        name="response-detail",
    ),
    path(
        "plans/<uuid:public_id>/questionnaire-responses/<uuid:response_id>/seen/",
        responses.response_flag_seen,
        name="response-flag-seen",
    ),
    path(
        "plans/<uuid:public_id>/questionnaire-responses/<uuid:response_id>/error/",
        responses.response_mark_error,
        name="response-mark-error",
    ),
    # --- dashboard (helper "dashboard") ---
    path("quality/", dashboard.dashboard, name="dashboard"),
    path("quality/indicators/<slug:key>/", dashboard.dashboard_indicator, name="dashboard-indicator"),
    path("quality/export.csv", dashboard.dashboard_csv, name="dashboard-csv"),
    path("quality/organisations/", dashboard.dashboard_organisations, name="dashboard-organisations"),
    path("quality/refresh/", dashboard.dashboard_refresh, name="dashboard-refresh"),
    path("quality/refresh/status/", dashboard.dashboard_refresh_partial, name="dashboard-refresh-partial"),
]
