from django.urls import path

from pathways.signin import views as account_views
from pathways.views import (
    admissions,
    caseload,
    documents,
    emergency,
    goals,
    letters,
    notifications,
    plan_templates,
    plans,
    stays,
    tasks,
)

app_name = "pathways"
urlpatterns = [
    path("", caseload.caseload, name="caseload"),
    path("cpr-search/", caseload.caseload_cpr_search, name="caseload-cpr-search"),
    path("plans/<uuid:public_id>/", plans.plan_detail, name="plan-detail"),
    path("plans/<uuid:public_id>/historik/", plans.plan_history, name="plan-history"),
    path("plans/<uuid:public_id>/cpr/", plans.cpr_reveal_partial, name="cpr-reveal-partial"),
    path("plans/<uuid:public_id>/what-matters/", plans.what_matters_partial, name="what-matters-partial"),
    path("plans/<uuid:public_id>/tasks/new/", tasks.task_create, name="task-create"),
    path(
        "plans/<uuid:public_id>/tasks/<uuid:task_id>/status/",
        tasks.task_status_partial,
        name="task-status-partial",
    ),
    path(
        "plans/<uuid:public_id>/participants/<uuid:participant_id>/accept/",
        plans.participant_accept_partial,
        name="participant-accept-partial",
    ),
    path(
        "plans/<uuid:public_id>/tasks/<uuid:task_id>/edit/", tasks.task_edit_partial, name="task-edit-partial"
    ),
    path("plans/<uuid:public_id>/goals/new/", goals.goal_create_partial, name="goal-create-partial"),
    path(
        "plans/<uuid:public_id>/goals/<uuid:goal_id>/edit/", goals.goal_edit_partial, name="goal-edit-partial"
    ),
    path("plans/<uuid:public_id>/access-log/", plans.plan_access_log, name="plan-access-log"),
    path("letters/", letters.letters, name="letters"),
    path("letters/<uuid:public_id>/", letters.letter, name="letter"),
    path("letters/<uuid:public_id>/printed/", letters.letter_printed, name="letter-printed"),
    path("emergency-access/", emergency.emergency_access, name="emergency-access"),
    path(
        "emergency-access/<uuid:access_id>/seen/",
        emergency.emergency_access_acknowledge_partial,
        name="emergency-access-acknowledge-partial",
    ),
    # The bell's list: the user's in-app messages; marking one or all of them read.
    path("notifications/", notifications.notifications, name="notifications"),
    path("notifications/read-all/", notifications.notifications_read_all, name="notifications-read-all"),
    path(
        "notifications/<uuid:public_id>/read/",
        notifications.notification_read_partial,
        name="notification-read-partial",
    ),
    # --- templates ---
    # What updating the plan to a newer version of one of its templates would do (GET), and doing it (POST).
    path(
        "plans/<uuid:public_id>/templates/<uuid:template_id>/update/",
        plan_templates.plan_template_update,
        name="plan-template-update",
    ),
    # --- stays ---
    path(
        "plans/<uuid:public_id>/stays/record/",
        stays.stay_event_record_partial,
        name="stay-event-record-partial",
    ),
    path(
        "plans/<uuid:public_id>/stays/events/<uuid:transition_id>/correct/",
        stays.stay_event_correct_partial,
        name="stay-event-correct-partial",
    ),
    path(
        "plans/<uuid:public_id>/stays/events/<uuid:transition_id>/cancel/",
        stays.stay_event_cancel_partial,
        name="stay-event-cancel-partial",
    ),
    # --- printable documents (issue 15) ---
    path("plans/<uuid:public_id>/documents/", documents.plan_documents, name="plan-documents"),
    path(
        "plans/<uuid:public_id>/documents/request/",
        documents.plan_document_request,
        name="plan-document-request",
    ),
    path("documents/<uuid:public_id>/", documents.document_detail, name="document-detail"),
    path(
        "documents/<uuid:public_id>/status/",
        documents.document_status_partial,
        name="document-status-partial",
    ),
    path("documents/<uuid:public_id>/pdf/", documents.document_download, name="document-download"),
    path("documents/<uuid:public_id>/retry/", documents.document_retry, name="document-retry"),
    # --- ingest ---
    path("admissions-without-plan/", admissions.admissions_without_plan, name="admissions-without-plan"),
    # Sign-in and the account's security (no patient data).
    path("login/second-step/", account_views.mfa_verify, name="mfa-verify"),
    path("account/two-step/", account_views.mfa_setup, name="mfa-setup"),
    path("account/security/", account_views.account_security, name="account-security"),
    path(
        "account/recovery-codes/", account_views.recovery_codes_regenerate, name="recovery-codes-regenerate"
    ),
    path("account/two-step/remove/", account_views.mfa_remove, name="mfa-remove"),
    path("account/sign-out-everywhere/", account_views.logout_everywhere, name="logout-everywhere"),
]
