from django.urls import path

from pathways import api

app_name = "api"
urlpatterns = [
    path("auth/token/", api.AuthTokenApi.as_view(), name="auth-token"),
    path("plans/", api.PlanListApi.as_view(), name="plan-list"),
    path("plans/<uuid:public_id>/", api.PlanDetailApi.as_view(), name="plan-detail"),
    path("plans/<uuid:public_id>/tasks/", api.PlanTaskListApi.as_view(), name="plan-task-list"),
    path("tasks/<uuid:public_id>/", api.TaskDetailApi.as_view(), name="task-detail"),
    # --- writes ---
    path("tasks/<uuid:public_id>/status/", api.TaskStatusApi.as_view(), name="task-status"),
    path("plans/<uuid:public_id>/tasks/new/", api.PlanTaskCreateApi.as_view(), name="plan-task-create"),
    path("plans/<uuid:public_id>/hospital-events/", api.HospitalEventApi.as_view(), name="hospital-event"),
    # --- FHIR ---
    path("plans/<uuid:public_id>/fhir/", api.PlanFhirApi.as_view(), name="plan-fhir"),
    path("fhir/CarePlan/_search", api.CarePlanSearchApi.as_view(), name="fhir-careplan-search"),
    # --- ingest ---
    path(
        "medcom/hospital-notification/",
        api.MedcomHospitalNotificationApi.as_view(),
        name="medcom-hospital-notification",
    ),
]
