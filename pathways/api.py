"""Integration API (read-only for now). One APIView per operation; every read goes through the access
policy and is logged as an API read. Deny by default: authentication is required (settings)."""

from __future__ import annotations

from typing import Any, cast
from uuid import UUID

from django.contrib.auth import authenticate
from django.http import HttpResponse
from django.utils.translation import gettext
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
)
from rest_framework import serializers, status
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from pathways import access, selectors
from pathways.audit import RequestOrigin
from pathways.choices import AccessAction
from pathways.models import User
from pathways.signin import policy as signin
from pathways.signin import services as signin_services


class _ByIdCursor(CursorPagination):
    ordering = "id"
    page_size = 50

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        # DRF leaves the links optional, but every page carries both (null at either end). Its examples
        # point at another API.
        envelope = super().get_paginated_response_schema(schema)
        envelope["required"] = ["next", "previous", "results"]
        for link in ("next", "previous"):
            envelope["properties"][link].pop("example", None)
        return envelope


class ErrorOutput(serializers.Serializer[object]):
    """Every refusal of the API: DRF's own (not signed in, not found, bad cursor) and the sign-in's."""

    detail = serializers.CharField()


_NOT_SIGNED_IN = {
    401: OpenApiResponse(
        ErrorOutput, "The browser session has not passed the second sign-in step or has expired."
    ),
    403: OpenApiResponse(ErrorOutput, "No credentials, or credentials that are not valid."),
}
_NOT_FOUND = OpenApiResponse(
    ErrorOutput, "No such object, or one the caller may not see: the two are not told apart."
)


class _OrganisationOut(serializers.Serializer[object]):
    id = serializers.UUIDField(source="public_id")
    name = serializers.CharField()
    sector = serializers.CharField()
    sor_code = serializers.CharField()


class TaskOutput(serializers.Serializer[object]):
    id = serializers.UUIDField(source="public_id")
    plan = serializers.UUIDField(source="plan.public_id")
    title = serializers.CharField()
    description = serializers.CharField()
    kind = serializers.CharField()
    status = serializers.CharField()
    responsible_organisation = _OrganisationOut()
    window_start = serializers.DateField(allow_null=True)
    due_date = serializers.DateField(allow_null=True)
    visible_to_patient = serializers.BooleanField()
    depends_on = serializers.UUIDField(source="depends_on.public_id", allow_null=True)
    version = serializers.IntegerField()
    updated_at = serializers.DateTimeField()


class PlanSummaryOutput(serializers.Serializer[object]):
    id = serializers.UUIDField(source="public_id")
    patient = serializers.UUIDField(source="patient.public_id")
    patient_name = serializers.CharField(source="patient.full_name")
    title = serializers.CharField()
    status = serializers.CharField()
    review_date = serializers.DateField(allow_null=True)
    version = serializers.IntegerField()
    updated_at = serializers.DateTimeField()


class _GoalOut(serializers.Serializer[object]):
    id = serializers.UUIDField(source="public_id")
    description = serializers.CharField()
    expected_result = serializers.CharField()
    status = serializers.CharField()
    target_date = serializers.DateField(allow_null=True)


class _ConditionOut(serializers.Serializer[object]):
    display = serializers.CharField()
    icd10_code = serializers.CharField()


class _ParticipantOut(serializers.Serializer[object]):
    organisation = _OrganisationOut()
    commitment = serializers.CharField()
    accepted_at = serializers.DateTimeField(allow_null=True)


class PlanDetailOutput(PlanSummaryOutput):
    what_matters = serializers.CharField()
    conditions = _ConditionOut(many=True)
    coordinator = serializers.CharField(source="coordinator.get_full_name", allow_null=True)
    coordinator_phone = serializers.CharField()
    goals = _GoalOut(many=True)
    participants = _ParticipantOut(many=True)


def _actor(request: Request) -> User:
    return cast(User, request.user)


class PlanListApi(APIView):
    # Read by drf-spectacular too: it documents the `cursor` parameter and the page envelope.
    pagination_class = _ByIdCursor

    @extend_schema(
        responses={
            200: PlanSummaryOutput(many=True),
            **_NOT_SIGNED_IN,
            404: OpenApiResponse(ErrorOutput, "The cursor is not valid."),
        },
        summary="Plans the caller may see",
    )
    def get(self, request: Request) -> Response:
        plans = access.plans_visible_to(_actor(request)).select_related("patient")
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(plans, request, view=self) or []
        access.access_log_plans(_actor(request), page, action=AccessAction.API_READ)
        return paginator.get_paginated_response(PlanSummaryOutput(page, many=True).data)


class PlanDetailApi(APIView):
    @extend_schema(
        responses={200: PlanDetailOutput, **_NOT_SIGNED_IN, 404: _NOT_FOUND},
        summary="One plan with goals and participants",
    )
    def get(self, request: Request, public_id: UUID) -> Response:
        plan = selectors.plan_for_api(_actor(request), public_id)
        return Response(PlanDetailOutput(plan).data)


class PlanTaskListApi(APIView):
    @extend_schema(
        responses={200: TaskOutput(many=True), **_NOT_SIGNED_IN, 404: _NOT_FOUND},
        summary="All tasks of one plan",
    )
    def get(self, request: Request, public_id: UUID) -> Response:
        plan = access.access_plan(_actor(request), public_id, action=AccessAction.API_READ).plan
        return Response(TaskOutput(selectors.plan_tasks(plan), many=True).data)


class TaskDetailApi(APIView):
    @extend_schema(responses={200: TaskOutput, **_NOT_SIGNED_IN, 404: _NOT_FOUND}, summary="One task")
    def get(self, request: Request, public_id: UUID) -> Response:
        task = access.access_task(_actor(request), public_id)
        access.access_log_plans(_actor(request), [task.plan], action=AccessAction.API_READ)
        return Response(TaskOutput(task).data)


class AuthTokenApi(APIView):
    """Sign-in for integrations: user name, password and, where the account has or needs it, a code from
    the authenticator app. Throttled like the browser sign-in (django-axes and the per-account ceiling)."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]

    @extend_schema_serializer(component_name="AuthTokenInput")
    class Input(serializers.Serializer[object]):
        username = serializers.CharField(max_length=150)
        password = serializers.CharField(max_length=256, trim_whitespace=False)
        code = serializers.CharField(max_length=20, required=False, allow_blank=True)

    @extend_schema_serializer(component_name="AuthTokenOutput")
    class Output(serializers.Serializer[object]):
        token = serializers.CharField()

    @extend_schema_serializer(component_name="AuthTokenBadRequest")
    class BadRequest(serializers.Serializer[object]):
        """Either `detail` (wrong user name, password or code, or a body that is not JSON) or the fields of
        the request that are not valid, each with its messages (`non_field_errors`: not a JSON object)."""

        detail = serializers.CharField(required=False)
        username = serializers.ListField(child=serializers.CharField(), required=False)
        password = serializers.ListField(child=serializers.CharField(), required=False)
        code = serializers.ListField(child=serializers.CharField(), required=False)
        non_field_errors = serializers.ListField(child=serializers.CharField(), required=False)

    @extend_schema(
        request=Input,
        responses={
            200: Output,
            400: BadRequest,
            403: OpenApiResponse(
                ErrorOutput, "The account needs two-step sign-in and has not set it up in the browser."
            ),
            413: OpenApiResponse(ErrorOutput, "The request body is too large."),
            415: OpenApiResponse(ErrorOutput, "The request body is not JSON."),
            429: OpenApiResponse(ErrorOutput, "Too many failed sign-ins: the account is paused."),
        },
        parameters=[
            OpenApiParameter(
                "Retry-After",
                int,
                OpenApiParameter.HEADER,
                required=True,
                response=[429],
                description="Seconds until the pause ends.",
            )
        ],
        auth=[],
        summary="An API token for user name, password and, where needed, a code",
    )
    def post(self, request: Request) -> HttpResponse:
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        username = data.validated_data["username"]
        django_request = request._request
        if signin.account_paused(username):
            return signin.lockout_response(django_request)
        user = authenticate(django_request, username=username, password=data.validated_data["password"])
        if getattr(django_request, "axes_locked_out", False):
            return signin.lockout_response(django_request)
        if user is None:
            return Response(
                {"detail": gettext("The user name or password is not correct.")},
                status=status.HTTP_400_BAD_REQUEST,
            )
        try:
            token = signin_services.api_token_issue(
                user=user, code=data.validated_data.get("code", ""), origin=RequestOrigin.of(django_request)
            )
        except signin_services.ApiSignInRefused as refused:
            return Response({"detail": refused.detail}, status=refused.status)
        return Response(self.Output({"token": token}).data)
