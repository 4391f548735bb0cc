from django.urls import path

from coordination.views import assessment, disputes, messages, worklist

app_name = "coordination"
urlpatterns = [
    # --- worklist and start page ---
    path("start/", worklist.start, name="start"),
    path("worklist/", worklist.worklist, name="worklist"),
    # --- need assessment and coordinator handover ---
    path("plans/<uuid:public_id>/need-assessment/", assessment.need_assessment, name="need-assessment"),
    path("plans/<uuid:public_id>/coordinator/", assessment.coordinator_handover, name="coordinator-handover"),
    # --- disputes ---
    path("plans/<uuid:public_id>/disputes/", disputes.plan_disputes_partial, name="plan-disputes-partial"),
    path("plans/<uuid:public_id>/disputes/new/", disputes.dispute_create, name="dispute-create"),
    path(
        "plans/<uuid:public_id>/disputes/<uuid:dispute_id>/resolve/",
        disputes.dispute_resolve,
        name="dispute-resolve",
    ),
    # --- messages ---
    path("plans/<uuid:public_id>/messages/new/", messages.thread_create, name="thread-create"),
    path("plans/<uuid:public_id>/messages/<uuid:thread_id>/", messages.thread_detail, name="thread-detail"),
    path(
        "plans/<uuid:public_id>/messages/<uuid:thread_id>/reply/", messages.thread_reply, name="thread-reply"
    ),
]
