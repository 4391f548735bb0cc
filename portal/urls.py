from django.urls import path

from portal.views import access_log, documents, plan, questionnaires, signin

app_name = "portal"
urlpatterns = [
    path("", plan.portal_home, name="home"),
    path("log-ind/", signin.sign_in, name="sign-in"),
    path("log-ind/sendt/", signin.sign_in_sent, name="sign-in-sent"),
    path("log-ind/link/<uuid:public_id>/<str:token>/", signin.sign_in_link, name="sign-in-link"),
    path("log-ind/kode/", signin.sign_in_code, name="sign-in-code"),
    path("log-ud/", signin.sign_out, name="sign-out"),
    path("plan/<uuid:public_id>/", plan.portal_plan, name="plan"),
    path("plan/<uuid:public_id>/hvem-har-set/", access_log.portal_access_log, name="access-log"),
    path("plan/<uuid:public_id>/udskrift/", documents.portal_documents, name="documents"),
    path(
        "plan/<uuid:public_id>/udskrift/bestil/", documents.portal_document_request, name="document-request"
    ),
    path("plan/<uuid:public_id>/udskrift/<uuid:document_id>/", documents.portal_document, name="document"),
    path(
        "plan/<uuid:public_id>/udskrift/<uuid:document_id>/pdf/",
        documents.portal_document_download,
        name="document-download",
    ),
    # Questionnaires (issue 16): answering one's own, and the page after it.
    path(
        "plan/<uuid:public_id>/spoergeskema/<uuid:request_id>/",
        questionnaires.portal_questionnaire,
        name="questionnaire",
    ),
    path(
        "plan/<uuid:public_id>/spoergeskema/<uuid:request_id>/tak/",
        questionnaires.portal_questionnaire_done,
        name="questionnaire-done",
    ),
]
