from django.urls import path

from coordination import api

# Under /api/v1/ (config/urls.py), beside the hub's endpoints.
app_name = "api-coordination"
urlpatterns = [
    path("plans/<uuid:public_id>/messages/", api.MessagePostApi.as_view(), name="message-post"),
    path(
        "plans/<uuid:public_id>/messages/<uuid:message_id>/care-communication/",
        api.CareCommunicationApi.as_view(),
        name="message-care-communication",
    ),
    path(
        "medcom/care-communication/",
        api.CareCommunicationReceiveApi.as_view(),
        name="medcom-care-communication",
    ),
]
