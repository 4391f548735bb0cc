"""Integration API (read-only for now). One APIView per operation; every read goes through the access
policy and is logged as an API read. Deny by default: authentication is required (settings)."""

from __future__ import annotations

from typing import Any, cast
from uuid import UUID

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.models import AnonymousUser
from django.http import HttpResponse
from django.utils.translation import gettext
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
)
from rest_framework import exceptions, serializers, status
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView
from typing_extensions import override

from pathways import access, ingest, medcom, selectors
from pathways.audit import RequestOrigin
from pathways.choices import AccessAction
from pathways.models import IntegrationCredential, User
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


# --- ingest ---
# MedCom HospitalNotification from hospitals' systems (pathways.ingest). The sender is no user: it signs
# in with an integration credential (`Authorization: Bearer <key>`), tied to its organisation (SOR). The
# rest of the API keeps its user sign-in. Every answer is FHIR: the Acknowledgement message, or an
# OperationOutcome naming the problem (also for DRF's own refusals).


class IntegrationCredentialAuthentication(BaseAuthentication):
    """`Authorization: Bearer <key>` with an active integration credential: request.auth is the
    credential, request.user is anonymous (no user acts)."""

    @override
    def authenticate(self, request: Request) -> tuple[AnonymousUser, IntegrationCredential] | None:
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != b"bearer":
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(gettext("Send the key as: Authorization: Bearer <key>."))
        try:
            key = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(gettext("The key is not valid.")) from None
        credential = ingest.credential_authenticate(key)
        if credential is None:
            raise exceptions.AuthenticationFailed(gettext("The key is not valid or has been revoked."))
        return AnonymousUser(), credential

    @override
    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="medcom"'


class IntegrationCredentialScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "pathways.api.IntegrationCredentialAuthentication"
    name = "integrationKey"

    @override
    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An integration credential's key, issued by an administrator for one sending "
            "system of one organisation (shown once).",
        }


class HasIntegrationCredential(BasePermission):
    @override
    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.auth, IntegrationCredential)


class IntegrationThrottle(SimpleRateThrottle):
    """Per credential (per address before one is known): far above what a hospital sends, low enough
    that a runaway client cannot starve the server."""

    scope = "medcom"
    rate = "3000/min"

    @override
    def get_cache_key(self, request: Request, view: Any) -> str:
        if isinstance(request.auth, IntegrationCredential):
            return f"throttle_medcom_{request.auth.key_prefix}"
        return f"throttle_medcom_{self.get_ident(request)}"


class FhirJsonRenderer(JSONRenderer):
    media_type = medcom.FHIR_JSON
    format = "fhir"


class FhirMessageOutput(serializers.Serializer[object]):
    """A FHIR message Bundle (the HospitalNotification sent, the Acknowledgement answered): a
    MessageHeader first, then the resources it refers to."""

    resourceType = serializers.CharField()
    id = serializers.CharField(required=False)
    type = serializers.CharField()
    timestamp = serializers.CharField(required=False)
    entry = serializers.ListField(child=serializers.DictField())


class _IssueOut(serializers.Serializer[object]):
    severity = serializers.CharField()
    code = serializers.CharField()
    diagnostics = serializers.CharField()
    expression = serializers.ListField(child=serializers.CharField(), required=False)


class OperationOutcomeOutput(serializers.Serializer[object]):
    """FHIR OperationOutcome: what is wrong, with a FHIRPath to where in the message."""

    resourceType = serializers.CharField()
    issue = _IssueOut(many=True)


def _outcome(description: str) -> OpenApiResponse:
    return OpenApiResponse(OperationOutcomeOutput, description)


_MEDCOM_CONTENT_TYPES = ("application/fhir+json", "application/json")
_ISSUE_CODES = {401: "login", 403: "forbidden", 405: "not-supported", 406: "not-supported", 429: "throttled"}


class MedcomHospitalNotificationApi(APIView):
    """POST a MedCom HospitalNotification message (FHIR R4 Bundle, every type STAA … AN_MORS, read from
    Provenance.activity, Encounter.class and .status and Patient.deceased); the answer is MedCom's
    Acknowledgement message (response.identifier: the MessageHeader.id received). The same message id
    again gets the same acknowledgement and changes nothing. A message about a citizen without a plan is
    acknowledged like any other; one that arrives before the message it follows is kept and applied in
    event-time order. The sender must be the credential's organisation (SOR). A refused message gets an
    OperationOutcome naming the problem, and nothing is kept."""

    authentication_classes = [IntegrationCredentialAuthentication]
    permission_classes = [HasIntegrationCredential]
    throttle_classes = [IntegrationThrottle]
    # application/json unless the sender asks for application/fhir+json (Accept), as FHIR servers do.
    renderer_classes = [JSONRenderer, FhirJsonRenderer]
    parser_classes: list[type] = []  # the body is read as sent and kept verbatim

    @override
    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # A method the view has not is refused before anyone is asked for a key (in the format asked for).
        self.format_kwarg = self.get_format_suffix(**kwargs)
        if request.method is None or not hasattr(self, request.method.lower()):
            raise exceptions.MethodNotAllowed(str(request.method))
        super().initial(request, *args, **kwargs)

    @override
    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)
        detail = getattr(exc, "detail", "")
        response.data = medcom.operation_outcome(
            [medcom.Issue(code=_ISSUE_CODES.get(response.status_code, "processing"), diagnostics=str(detail))]
        )
        return response

    @extend_schema(
        request=dict.fromkeys(_MEDCOM_CONTENT_TYPES, FhirMessageOutput),
        responses={
            200: OpenApiResponse(
                FhirMessageOutput,
                "Received (also when it was received before: the same acknowledgement again). MedCom's "
                "Acknowledgement message, response.code ok.",
            ),
            400: _outcome("The body is not a JSON object, or not a FHIR resource."),
            401: _outcome("No key, or a key that is not valid or has been revoked."),
            403: _outcome("The message's sender is another organisation than the credential's."),
            413: _outcome("The body is larger than the limit (256 kB)."),
            415: _outcome("Send application/fhir+json or application/json (UTF-8)."),
            422: _outcome(
                "A FHIR resource, but no valid HospitalNotification: wrong resource types, missing "
                "mandatory elements, unknown codes, a message type the codes do not give, or a receiver "
                "that is not in Fælles forløb."
            ),
            429: _outcome("Too many messages from this credential: wait the Retry-After seconds."),
        },
        parameters=[
            OpenApiParameter(
                "Retry-After",
                int,
                OpenApiParameter.HEADER,
                required=True,
                response=[429],
                description="Seconds until more messages are taken.",
            )
        ],
        summary="Receive a MedCom HospitalNotification (advis om sygehusophold)",
    )
    def post(self, request: Request) -> Response:
        credential = cast(IntegrationCredential, request.auth)
        django_request = request._request
        if django_request.content_type not in _MEDCOM_CONTENT_TYPES:
            return Response(
                medcom.operation_outcome(
                    [
                        medcom.Issue(
                            code="not-supported",
                            diagnostics=gettext("Send application/fhir+json or application/json."),
                        )
                    ]
                ),
                status=status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            )
        try:
            length = int(django_request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.MEDCOM_MAX_BODY_BYTES:
            answer_status, answer = ingest.too_large()  # refused unread
        else:
            answer_status, answer = ingest.medcom_receive(credential=credential, body=django_request.body)
        return Response(answer, status=answer_status)
