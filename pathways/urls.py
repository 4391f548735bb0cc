from django.urls import path

from pathways import views

app_name = "pathways"
urlpatterns = [
    path("", views.caseload, name="caseload"),
    path("cpr-search/", views.caseload_cpr_search, name="caseload-cpr-search"),
    path("plans/<uuid:public_id>/", views.plan_detail, name="plan-detail"),
    path("plans/<uuid:public_id>/historik/", views.plan_history, name="plan-history"),
    path("plans/<uuid:public_id>/cpr/", views.cpr_reveal_partial, name="cpr-reveal-partial"),
    path("plans/<uuid:public_id>/what-matters/", views.what_matters_partial, name="what-matters-partial"),
    path("plans/<uuid:public_id>/tasks/new/", views.task_create, name="task-create"),
    path(
        "plans/<uuid:public_id>/tasks/<uuid:task_id>/status/",
        views.task_status_partial,
        name="task-status-partial",
    ),
    path(
        "plans/<uuid:public_id>/participants/<uuid:participant_id>/accept/",
        views.participant_accept_partial,
        name="participant-accept-partial",
    ),
]
