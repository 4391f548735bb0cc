from django.urls import path

from pathways import views

app_name = "pathways"
urlpatterns = [
    path("", views.caseload, name="caseload"),
    path("plans/<uuid:public_id>/", views.plan_detail, name="plan-detail"),
]
