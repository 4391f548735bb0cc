"""Integration API (read-only for now). One APIView per operation; every read goes through the access
policy and is logged as an API read. Deny by default: authentication is required (settings)."""

from __future__ import annotations

from typing import cast
from uuid import UUID

from django.contrib.auth import authenticate
from django.http import HttpResponse
from django.utils.translation import gettext
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from pathways import access, services, signin
from pathways.choices import AccessAction, SecurityEventKind
from pathways.models import PathwayPlan, User


class _ByIdCursor(CursorPagination):
    ordering = "id"
    page_size = 50


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
    depends_on = serializers.UUIDField(source="depends_on.public_id", allow_null=True, default=None)
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


class _ParticipantOut(serializers.Serializer[object]):
    organisation = _OrganisationOut()
    commitment = serializers.CharField()
    accepted_at = serializers.DateTimeField(allow_null=True)


class PlanDetailOutput(PlanSummaryOutput):
    what_matters = serializers.CharField()
    conditions = serializers.SerializerMethodField()
    coordinator = serializers.CharField(source="coordinator.get_full_name", allow_null=True, default=None)
    coordinator_phone = serializers.CharField()
    goals = _GoalOut(many=True)
    participants = _ParticipantOut(many=True)

    def get_conditions(self, plan: PathwayPlan) -> list[dict[str, str]]:
        return [{"display": c.display, "icd10_code": c.icd10_code} for c in plan.conditions.all()]


def _actor(request: Request) -> User:
    return cast(User, request.user)


class PlanListApi(APIView):
    @extend_schema(responses=PlanSummaryOutput(many=True), summary="Plans the caller may see")
    def get(self, request: Request) -> Response:
        plans = access.plans_visible_to(_actor(request)).select_related("patient")
        paginator = _ByIdCursor()
        page = paginator.paginate_queryset(plans, request, view=self) or []
        access.access_log_plans(_actor(request), page, action=AccessAction.API_READ)
        return paginator.get_paginated_response(PlanSummaryOutput(page, many=True).data)


class PlanDetailApi(APIView):
    @extend_schema(responses=PlanDetailOutput, summary="One plan with goals and participants")
    def get(self, request: Request, public_id: UUID) -> Response:
        queryset = PathwayPlan.objects.select_related("coordinator").prefetch_related(
            "conditions", "goals", "participants__organisation"
        )
        plan = access.access_plan(_actor(request), public_id, action=AccessAction.API_READ, queryset=queryset)
        return Response(PlanDetailOutput(plan).data)


class PlanTaskListApi(APIView):
    @extend_schema(responses=TaskOutput(many=True), summary="All tasks of one plan")
    def get(self, request: Request, public_id: UUID) -> Response:
        plan = access.access_plan(_actor(request), public_id, action=AccessAction.API_READ)
        tasks = plan.tasks.select_related("plan", "responsible_organisation", "depends_on").order_by(
            "due_date", "id"
        )
        return Response(TaskOutput(tasks, many=True).data)


class TaskDetailApi(APIView):
    @extend_schema(responses=TaskOutput, summary="One task")
    def get(self, request: Request, public_id: UUID) -> Response:
        task = access.access_task(_actor(request), public_id)
        access.access_log_plans(_actor(request), [task.plan], action=AccessAction.API_READ)
        return Response(TaskOutput(task).data)


class AuthTokenApi(APIView):
    """Sign-in for integrations: user name, password and, where the account has or needs it, a code from
    the authenticator app. Throttled like the browser sign-in (django-axes and the per-account ceiling)."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]

    class Input(serializers.Serializer[object]):
        username = serializers.CharField(max_length=150)
        password = serializers.CharField(max_length=256, trim_whitespace=False)
        code = serializers.CharField(max_length=20, required=False, allow_blank=True)

    class Output(serializers.Serializer[object]):
        token = serializers.CharField()

    @extend_schema(request=Input, responses={200: Output}, auth=[])
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
        if signin.second_factor_required(user):
            if not signin.has_second_factor(user):
                detail = gettext("Set up two-step sign-in in the browser before you ask for an API token.")
                return Response({"detail": detail}, status=status.HTTP_403_FORBIDDEN)
            device, _recovery = signin.verify_second_factor(user, data.validated_data.get("code", ""))
            if device is None:
                services.security_event_record(
                    kind=SecurityEventKind.MFA_FAILED, request=django_request, user=user
                )
                return Response(
                    {"detail": gettext("A valid code from the authenticator app is needed.")},
                    status=status.HTTP_400_BAD_REQUEST,
                )
        token, _created = Token.objects.get_or_create(user=user)
        services.security_event_record(
            kind=SecurityEventKind.API_TOKEN_ISSUED, request=django_request, user=user
        )
        return Response(self.Output({"token": token.key}).data)
