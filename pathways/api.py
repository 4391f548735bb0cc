"""Integration API (read-only for now). One APIView per operation; every read goes through the access
policy and is logged as an API read. Deny by default: authentication is required (settings)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, cast
from uuid import UUID

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpResponse
from django.urls import reverse
from django.utils.translation import gettext
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
)
from rest_framework import exceptions, serializers, status
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import FormParser
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView
from typing_extensions import override

from pathways import access, cpr, fhir, idempotency, ingest, medcom, selectors, services, stays
from pathways.audit import RequestOrigin
from pathways.choices import AccessAction, TaskKind, TaskStatus, TransitionKind
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


NOT_SIGNED_IN = {
    401: OpenApiResponse(
        ErrorOutput, "The browser session has not passed the second sign-in step or has expired."
    ),
    403: OpenApiResponse(ErrorOutput, "No credentials, or credentials that are not valid."),
}
NOT_FOUND = OpenApiResponse(
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
            **NOT_SIGNED_IN,
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
        responses={200: PlanDetailOutput, **NOT_SIGNED_IN, 404: NOT_FOUND},
        summary="One plan with goals and participants",
    )
    def get(self, request: Request, public_id: UUID) -> Response:
        plan = selectors.plan_for_api(_actor(request), public_id)
        return Response(PlanDetailOutput(plan).data)


class PlanTaskListApi(APIView):
    @extend_schema(
        responses={200: TaskOutput(many=True), **NOT_SIGNED_IN, 404: NOT_FOUND},
        summary="All tasks of one plan",
    )
    def get(self, request: Request, public_id: UUID) -> Response:
        plan = access.access_plan(_actor(request), public_id, action=AccessAction.API_READ).plan
        return Response(TaskOutput(selectors.plan_tasks(plan), many=True).data)


class TaskDetailApi(APIView):
    @extend_schema(
        responses={200: TaskOutput, **NOT_SIGNED_IN, 404: NOT_FOUND},
        parameters=[
            OpenApiParameter(
                "ETag",
                str,
                OpenApiParameter.HEADER,
                response=[200],
                description='The task\'s version (W/"3"): send it as If-Match to change the task.',
            )
        ],
        summary="One task",
    )
    def get(self, request: Request, public_id: UUID) -> Response:
        task = access.access_task(_actor(request), public_id)
        access.access_log_plans(_actor(request), [task.plan], action=AccessAction.API_READ)
        response = Response(TaskOutput(task).data)
        response["ETag"] = etag(task.version)  # what a change sends back as If-Match
        return response


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


def outcome(description: str) -> OpenApiResponse:
    return OpenApiResponse(OperationOutcomeOutput, description)


MEDCOM_CONTENT_TYPES = ("application/fhir+json", "application/json")
_ISSUE_CODES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    409: "conflict",
    412: "conflict",
    415: "not-supported",
    429: "throttled",
}


# ?format= chooses a renderer where a view has two; the media type (Accept) does the same and is what a
# FHIR client sends, so the parameter is left out of the document.
NO_FORMAT_PARAMETER = OpenApiParameter("format", exclude=True)


def outcome_of(response: Response) -> dict[str, Any]:
    """DRF's refusal (`{"detail": …}` or fields with their messages) as a FHIR OperationOutcome: the words
    as the caller would have read them, never empty (FHIR has no empty strings)."""
    data = response.data
    if isinstance(data, dict) and "detail" in data:
        words = str(data["detail"])
    elif isinstance(data, dict):
        words = "; ".join(f"{field}: {' '.join(map(str, messages))}" for field, messages in data.items())
    else:
        words = ""
    issue = medcom.Issue(
        code=_ISSUE_CODES.get(response.status_code, "processing"),
        diagnostics=words or str(response.status_text or response.status_code),
    )
    return medcom.operation_outcome([issue])


RETRY_AFTER_HEADER = OpenApiParameter(
    "Retry-After",
    int,
    OpenApiParameter.HEADER,
    required=True,
    response=[429],
    description="Seconds until more messages are taken.",
)


def medcom_responses(not_valid: str) -> dict[int, OpenApiResponse]:
    """What a MedCom message endpoint answers; `not_valid`: what makes its 422."""
    return {
        200: OpenApiResponse(
            FhirMessageOutput,
            "Received (also when it was received before: the same acknowledgement again). MedCom's "
            "Acknowledgement message, response.code ok.",
        ),
        400: outcome("The body is not a JSON object, or not a FHIR resource."),
        401: outcome("No key, or a key that is not valid or has been revoked."),
        403: outcome("The message's sender is another organisation than the credential's."),
        413: outcome("The body is larger than the limit (256 kB)."),
        415: outcome("Send application/fhir+json or application/json (UTF-8)."),
        422: outcome(not_valid),
        429: outcome("Too many messages from this credential: wait the Retry-After seconds."),
    }


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
        response.data = outcome_of(response)
        return response

    @extend_schema(
        request=dict.fromkeys(MEDCOM_CONTENT_TYPES, FhirMessageOutput),
        responses=medcom_responses(
            "A FHIR resource, but no valid HospitalNotification: wrong resource types, missing mandatory "
            "elements, unknown codes, a message type the codes do not give, or a receiver that is not in "
            "Fælles forløb."
        ),
        parameters=[RETRY_AFTER_HEADER, NO_FORMAT_PARAMETER],
        summary="Receive a MedCom HospitalNotification (advis om sygehusophold)",
    )
    def post(self, request: Request) -> Response:
        return self.receive(request, ingest.medcom_receive)

    def receive(self, request: Request, receive: Callable[..., tuple[int, dict[str, Any]]]) -> Response:
        """The body as sent (UTF-8 JSON, within the size limit) to `receive(credential=, body=)`."""
        credential = cast(IntegrationCredential, request.auth)
        django_request = request._request
        if django_request.content_type not in MEDCOM_CONTENT_TYPES:
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
            answer_status, answer = receive(credential=credential, body=django_request.body)
        return Response(answer, status=answer_status)


# --- FHIR ---
# The plan as FHIR R4 (pathways.fhir) for the signed-in users of the rest of the API. Every answer is FHIR:
# a Bundle, or an OperationOutcome naming the problem (also for DRF's own refusals).


class FhirBundleOutput(serializers.Serializer[object]):
    """A FHIR Bundle: `collection` (a plan's export: the CarePlan first, then every resource it refers
    to, each entry's fullUrl `urn:uuid:<id>`) or `searchset` (a search's answer, with `total`)."""

    resourceType = serializers.CharField()
    id = serializers.CharField()
    type = serializers.ChoiceField(choices=["collection", "searchset"])
    timestamp = serializers.CharField()
    total = serializers.IntegerField(required=False)
    entry = serializers.ListField(child=serializers.DictField(), required=False)  # none: no entries


class FhirApi(APIView):
    """application/fhir+json unless the caller asks for application/json; errors as OperationOutcome."""

    renderer_classes = [FhirJsonRenderer, JSONRenderer]

    @override
    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)
        response.data = outcome_of(response)
        return response


def _outcome_refusal(status_code: int, code: str, diagnostics: str, expression: str = "") -> Response:
    issue = medcom.Issue(code=code, diagnostics=diagnostics, expression=expression)
    return Response(medcom.operation_outcome([issue]), status=status_code)


# The second sign-in step is asked by the middleware before any view: its 401 is the API's usual shape.
FHIR_NOT_SIGNED_IN = {
    401: NOT_SIGNED_IN[401],
    403: outcome("No credentials, or credentials that are not valid."),
}


class PlanFhirApi(FhirApi):
    @extend_schema(
        responses={
            200: OpenApiResponse(
                FhirBundleOutput,
                "The plan as a FHIR R4 Bundle (type collection): CarePlan, CareTeam, Patient (the CPR number "
                "as identifier, urn:oid:1.2.208.176.1.2), Organization (SOR), Practitioner, "
                "PractitionerRole, Condition, Goal, Task, Encounter (hospital stays), Provenance, "
                "RelatedPerson and Consent (the relatives the patient has let take part), Communication "
                "(messages between sectors) and QuestionnaireResponse (the patient's answers). Every "
                "export is written in the patient's access log.",
            ),
            **FHIR_NOT_SIGNED_IN,
            404: outcome("No such plan, or one the caller may not see: the two are not told apart."),
        },
        parameters=[NO_FORMAT_PARAMETER],
        summary="A plan as a FHIR R4 Bundle",
    )
    def get(self, request: Request, public_id: UUID) -> Response:
        granted = selectors.plan_for_fhir(_actor(request), public_id)
        return Response(fhir.plan_bundle(actor=_actor(request), granted=granted))


class CarePlanSearchApi(FhirApi):
    """FHIR search for a patient's plans by their CPR number. The number goes in the body only (FHIR's
    POST _search, a form), so that it never enters an address, a server log or a browser history; a search
    with anything in its address is refused."""

    parser_classes = [FormParser]

    @extend_schema_serializer(component_name="CarePlanSearchInput")
    class Input(serializers.Serializer[object]):
        # FHIR's chained search parameter, named as FHIR names it.
        patient_identifier = serializers.CharField(
            source="patient_identifier",
            max_length=80,
            help_text="The patient's CPR number, as `urn:oid:1.2.208.176.1.2|<10 digits>` or the 10 digits "
            "alone.",
        )

        def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
            fields = super().get_fields()
            fields["patient.identifier"] = fields.pop("patient_identifier")
            return fields

    @extend_schema(
        request={"application/x-www-form-urlencoded": Input},
        responses={
            200: OpenApiResponse(
                FhirBundleOutput,
                "A Bundle of type searchset: the patient's plans the caller may see (CarePlan, search mode "
                "match) and the patient (include); none when there are none. Each plan found is written in "
                "the patient's access log as a search by CPR number.",
            ),
            400: outcome(
                "No patient.identifier, one that is not a CPR number, another identifier system, or "
                "parameters in the address."
            ),
            **FHIR_NOT_SIGNED_IN,
            415: outcome("Send the parameters as application/x-www-form-urlencoded."),
        },
        parameters=[NO_FORMAT_PARAMETER],
        summary="Find a patient's plans by CPR number (FHIR POST _search)",
    )
    def post(self, request: Request) -> Response:
        if request.query_params:
            return _outcome_refusal(
                400,
                "invalid",
                gettext("Send the search parameters in the body, never in the address."),
            )
        data = self.Input(data=request.data)
        if not data.is_valid():
            return _outcome_refusal(
                400,
                "required",
                gettext("Send patient.identifier: the patient's CPR number."),
                "patient.identifier",
            )
        system, bar, value = data.validated_data["patient_identifier"].rpartition("|")
        if bar and system != medcom.CPR_SYSTEM:
            return _outcome_refusal(
                400,
                "not-supported",
                gettext("Only CPR numbers (system urn:oid:1.2.208.176.1.2) can be searched."),
                "patient.identifier",
            )
        try:
            number = cpr.cpr_parse(value).number
        except DjangoValidationError:
            return _outcome_refusal(
                400, "value", gettext("That is not a valid CPR number."), "patient.identifier"
            )
        plans = selectors.plans_for_patient_identifier(_actor(request), number)
        return Response(fhir.search_bundle(plans))


# --- writes ---
# What other systems change through the API: a task's status, a new task, a hospital event (and, in
# coordination.api, a message). One APIView per operation: Input serializer → service → Output serializer,
# under the same access policy and rights as the pages (pathways.access, the services' own checks). A
# change to an existing object names the version it was read at (`If-Match: "<version>"`, the ETag of its
# GET): a stale one is refused (412) with nothing written. Every POST honours `Idempotency-Key`
# (pathways.idempotency): the same key again gets the first answer, and nothing changes twice.


class PreconditionRequired(exceptions.APIException):
    status_code = 428
    default_detail = "Send If-Match with the version you read (the ETag of the object's GET)."
    default_code = "precondition_required"


class PreconditionFailed(exceptions.APIException):
    status_code = 412
    default_detail = "Someone else has changed this since you read it: read it again."
    default_code = "precondition_failed"


_IF_MATCH = re.compile(r'\s*(?:W/)?"?([0-9]{1,9})"?\s*')


def etag(version: int) -> str:
    return f'W/"{version}"'


def expected_version(request: Request) -> int:
    """The version named by If-Match (`"3"`, `W/"3"` or `3`); 428 without one, 400 for another shape."""
    header = request.headers.get("If-Match")
    if header is None:
        raise PreconditionRequired(gettext("Send If-Match with the version you read (the ETag of its GET)."))
    match = _IF_MATCH.fullmatch(header)
    if match is None:
        raise exceptions.ParseError(gettext('If-Match must be a version as the ETag gives it, e.g. W/"3".'))
    return int(match.group(1))


NON_FIELD = api_settings.NON_FIELD_ERRORS_KEY


def service_refusal(error: DjangoValidationError) -> exceptions.ValidationError:
    """A service's refusal (Django's ValidationError) as the API's 400: the messages by field where the
    service names one, else under `non_field_errors` (as DRF has it)."""
    if hasattr(error, "error_dict"):
        fields = {name: [str(m) for m in messages] for name, messages in error.message_dict.items()}
        if "__all__" in fields:
            fields[NON_FIELD] = fields.pop("__all__")
        return exceptions.ValidationError(fields)
    return exceptions.ValidationError({NON_FIELD: [str(message) for message in error.messages]})


def written(request: Request, write: Callable[[], idempotency.Answer]) -> Response:
    """Run `write` once for the request's Idempotency-Key (if any) and answer what it answered."""
    django_request = request._request
    key = request.headers.get("Idempotency-Key")
    try:
        answer, replayed = idempotency.run_once(
            user=_actor(request),
            key=key,
            fingerprint=idempotency.fingerprint(
                method=django_request.method or "", path=django_request.path, body=django_request.body
            ),
            write=write,
        )
    except idempotency.KeyRefused as refused:
        return Response({"detail": refused.detail}, status=refused.status)
    except services.VersionConflict as conflict:
        response = Response(
            {"detail": gettext("Someone else has changed this since you read it: read it again.")},
            status=status.HTTP_412_PRECONDITION_FAILED,
        )
        response["ETag"] = etag(conflict.current.version)
        return response
    except DjangoValidationError as error:
        raise service_refusal(error) from None
    response = Response(answer.body, status=answer.status)
    if answer.location:
        response["Location"] = answer.location
    if "version" in (answer.body if isinstance(answer.body, dict) else {}):
        response["ETag"] = etag(answer.body["version"])
    if replayed:
        response["Idempotent-Replayed"] = "true"
    return response


class FieldErrorsOutput(serializers.Serializer[object]):
    """A refused request: each field of the body that is not valid with its messages; `non_field_errors`
    for what concerns no one field (a move the task's status cannot make, a closed plan, a body that is no
    JSON object); `detail` when the request is refused before its body is read (JSON that does not parse, an
    If-Match that is no version)."""

    detail = serializers.CharField(required=False)
    non_field_errors = serializers.ListField(child=serializers.CharField(), required=False)


IDEMPOTENCY_KEY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="Any unique string (a UUID): the same key again within 24 hours gets the first answer "
    "(with `Idempotent-Replayed: true`) and changes nothing; with another request, 422.",
)
_IF_MATCH_HEADER = OpenApiParameter(
    "If-Match",
    str,
    OpenApiParameter.HEADER,
    required=True,
    description='The version you read, as the ETag of the GET gives it (W/"3"). A stale one: 412.',
)
_ETAG_HEADER = OpenApiParameter(
    "ETag", str, OpenApiParameter.HEADER, response=[200, 201], description='The new version, e.g. W/"4".'
)


def write_errors(*, stale: bool = False) -> dict[int, OpenApiResponse]:
    errors = {
        400: OpenApiResponse(FieldErrorsOutput, "The body is not valid: nothing was written."),
        **NOT_SIGNED_IN,
        404: NOT_FOUND,
        413: OpenApiResponse(ErrorOutput, "The request body is too large."),
        415: OpenApiResponse(ErrorOutput, "The request body is not JSON."),
        422: OpenApiResponse(ErrorOutput, "The Idempotency-Key was used for another request."),
    }
    errors[403] = OpenApiResponse(
        ErrorOutput, "No credentials, credentials that are not valid, or a change the caller may not make."
    )
    if stale:
        errors[412] = OpenApiResponse(ErrorOutput, "The version in If-Match is stale: nothing was written.")
        errors[428] = OpenApiResponse(ErrorOutput, "No If-Match.")
    return errors


class TaskStatusApi(APIView):
    """Change a task's status, as the task's organisation or the plan's coordinator, by the moves the plan
    page allows: requested → accepted, in_progress, on_hold, completed, cancelled or rejected; accepted →
    in_progress, on_hold, completed or cancelled; in_progress → on_hold, completed or cancelled; on_hold →
    requested, accepted, in_progress or cancelled; completed → in_progress (done by mistake). Cancelled and
    rejected are final. The same status again changes nothing."""

    @extend_schema_serializer(
        component_name="TaskStatusInput", examples=[OpenApiExample("Started", {"status": "in_progress"})]
    )
    class Input(serializers.Serializer[object]):
        status = serializers.ChoiceField(choices=TaskStatus.choices)

    @extend_schema(
        request=Input,
        responses={200: TaskOutput, **write_errors(stale=True)},
        parameters=[_IF_MATCH_HEADER, IDEMPOTENCY_KEY_HEADER, _ETAG_HEADER],
        summary="Change a task's status",
    )
    def post(self, request: Request, public_id: UUID) -> Response:
        actor = _actor(request)
        data = self.Input(data=request.data)  # a body that is not valid is refused before anything is read
        data.is_valid(raise_exception=True)
        task = access.access_task(actor, public_id)
        if not access.rights_for(actor, task.plan).can_edit_task(task):
            raise exceptions.PermissionDenied(
                gettext("Only the task's organisation or the plan's coordinator changes its status.")
            )
        version = expected_version(request)

        def write() -> idempotency.Answer:
            access.access_log_plans(actor, [task.plan], action=AccessAction.EDIT_PLAN)
            changed = services.task_transition(
                actor=actor, task=task, to_status=data.validated_data["status"], expected_version=version
            )
            fresh = selectors.task_for_api(changed.pk)
            return idempotency.Answer(status=200, body=TaskOutput(fresh).data)

        return written(request, write)


class PlanTaskCreateApi(APIView):
    """Add a task to a plan, for an organisation the caller acts for (any, for the plan's coordinator).
    The organisation takes part in the plan from then on."""

    @extend_schema_serializer(
        component_name="TaskCreateInput",
        examples=[
            OpenApiExample(
                "A home visit",
                {
                    "title": "Hjemmebesøg efter udskrivelse",
                    "kind": "home_visit",
                    "responsible_organisation": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
                    "window_start": "2026-12-03",
                    "due_date": "2026-12-05",
                },
            )
        ],
    )
    class Input(serializers.Serializer[object]):
        title = serializers.CharField(max_length=200)
        description = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
        kind = serializers.ChoiceField(choices=TaskKind.choices, default=TaskKind.OTHER)
        responsible_organisation = serializers.UUIDField()
        window_start = serializers.DateField(required=False, allow_null=True, default=None)
        due_date = serializers.DateField(required=False, allow_null=True, default=None)
        visible_to_patient = serializers.BooleanField(default=True)
        goal = serializers.UUIDField(required=False, allow_null=True, default=None)
        depends_on = serializers.UUIDField(required=False, allow_null=True, default=None)

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            """A window has an end, and starts before it (as the page's form says it)."""
            start, due = attrs.get("window_start"), attrs.get("due_date")
            if start is not None and due is None:
                raise serializers.ValidationError(
                    {"due_date": [gettext("A task with a start date needs a due date.")]}
                )
            if start is not None and due is not None and start > due:
                raise serializers.ValidationError(
                    {"window_start": [gettext("The start date must not be after the due date.")]}
                )
            return attrs

    @extend_schema(
        request=Input,
        responses={201: TaskOutput, **write_errors()},
        parameters=[IDEMPOTENCY_KEY_HEADER, _ETAG_HEADER],
        summary="Add a task to a plan",
    )
    def post(self, request: Request, public_id: UUID) -> Response:
        actor = _actor(request)
        data = self.Input(data=request.data)  # a body that is not valid is refused before anything is read
        data.is_valid(raise_exception=True)
        # Those who take part only: an emergency reader changes nothing (404, as for the plan's documents).
        granted = access.access_plan_taking_part(actor, public_id, action=AccessAction.EDIT_PLAN)
        values = data.validated_data
        plan = granted.plan
        # As on the page: an organisation taking part in the plan (the coordinator chooses any of them,
        # the others their own — the service refuses the rest with 403).
        organisation = selectors.plan_organisation(plan, values["responsible_organisation"])
        errors: dict[str, list[str]] = {}
        if organisation is None:
            errors["responsible_organisation"] = [
                gettext("Choose an organisation that takes part in the plan.")
            ]
        goal = selectors.plan_goal(plan, values["goal"]) if values["goal"] else None
        if values["goal"] and goal is None:
            errors["goal"] = [gettext("The plan has no such goal.")]
        depends_on = selectors.plan_task(plan, values["depends_on"]) if values["depends_on"] else None
        if values["depends_on"] and depends_on is None:
            errors["depends_on"] = [gettext("The plan has no such task.")]
        if errors:
            raise exceptions.ValidationError(errors)
        assert organisation is not None

        def write() -> idempotency.Answer:
            if not selectors.plan_is_open(plan.pk):
                raise exceptions.ValidationError(
                    {NON_FIELD: [gettext("Tasks can only be added to a plan that is still open.")]}
                )
            task = services.task_create(
                actor=actor,
                plan=plan,
                title=values["title"],
                description=values["description"],
                kind=values["kind"],
                responsible_organisation=organisation,
                window_start=values["window_start"],
                due_date=values["due_date"],
                visible_to_patient=values["visible_to_patient"],
                goal=goal,
                depends_on=depends_on,
            )
            location = reverse("api:task-detail", args=[task.public_id])
            return idempotency.Answer(
                status=201, body=TaskOutput(selectors.task_for_api(task.pk)).data, location=location
            )

        return written(request, write)


class HospitalEventOutput(serializers.Serializer[object]):
    id = serializers.UUIDField(source="public_id")
    plan = serializers.UUIDField(source="plan.public_id")
    kind = serializers.CharField()
    occurred_at = serializers.DateTimeField()
    hospital = _OrganisationOut(source="stay.hospital")
    state = serializers.CharField()
    note = serializers.CharField()


class HospitalEventApi(APIView):
    """Record an admission, leave, discharge or death on the patient's current plan, as a hospital or
    psychiatry organisation taking part (what the plan page's "record a hospital event" does): held and
    resumed tasks and the notices follow as for a MedCom notice. The same event again changes nothing."""

    @extend_schema_serializer(
        component_name="HospitalEventInput",
        examples=[
            OpenApiExample(
                "Discharged",
                {
                    "kind": "discharge",
                    "occurred_at": "2026-12-01T10:30:00+01:00",
                    "hospital": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
                },
            )
        ],
    )
    class Input(serializers.Serializer[object]):
        kind = serializers.ChoiceField(choices=TransitionKind.choices)
        occurred_at = serializers.DateTimeField()
        hospital = serializers.UUIDField()
        note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")

    @extend_schema(
        request=Input,
        responses={201: HospitalEventOutput, **write_errors()},
        parameters=[IDEMPOTENCY_KEY_HEADER],
        summary="Record a hospital event (admission, leave, discharge, death)",
    )
    def post(self, request: Request, public_id: UUID) -> Response:
        actor = _actor(request)
        data = self.Input(data=request.data)  # a body that is not valid is refused before anything is read
        data.is_valid(raise_exception=True)
        # Those who take part only: an emergency reader changes nothing (404, as for the plan's documents).
        granted = access.access_plan_taking_part(actor, public_id, action=AccessAction.EDIT_PLAN)
        values = data.validated_data
        plan = granted.plan
        hospitals = {o.public_id: o for o in selectors.hospital_event_organisations_of(actor, plan)}
        if not hospitals:
            raise exceptions.PermissionDenied(
                gettext("Only a hospital or psychiatry taking part in the plan records hospital events.")
            )
        hospital = hospitals.get(values["hospital"])
        if hospital is None:
            raise exceptions.ValidationError(
                {"hospital": [gettext("Choose a hospital you record for that takes part in the plan.")]}
            )

        def write() -> idempotency.Answer:
            if not selectors.plan_is_open(plan.pk):
                raise exceptions.ValidationError(
                    {NON_FIELD: [gettext("The plan is closed: hospital events can no longer be recorded.")]}
                )
            transition = stays.transition_record(
                actor=actor,
                patient=plan.patient,
                kind=values["kind"],
                occurred_at=values["occurred_at"],
                hospital=hospital,
                note=values["note"],
            )
            transition = selectors.transition_for_api(transition.pk)
            return idempotency.Answer(status=201, body=HospitalEventOutput(transition).data)

        return written(request, write)
