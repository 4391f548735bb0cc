"""The OpenAPI document tells the truth: every API response — status code, content type and body — is
validated against the document served at /api/schema/ (openapi-core, the way a generated client reads it).

A URL in the `api` namespace without a case, an operation the schema leaves out, or a response the schema
declares but no case produces (or the other way round) fails `test_every_api_response_has_a_case`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode
from uuid import uuid4

import pytest
from django.conf import settings
from django.urls import URLPattern, get_resolver, reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from openapi_core import Config, OpenAPI
from openapi_core.contrib.django import DjangoOpenAPIRequest, DjangoOpenAPIResponse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from coordination import services as coordination_services
from pathways import api as pathways_api
from pathways import services
from pathways.choices import TaskKind
from pathways.models import PathwayPlan, Task, User
from tests.conftest import PASSWORD, World
from tests.coordination.carecommunication_messages import inbound
from tests.pathways import medcom_messages as medcom

TOKEN_URL = reverse("api:auth-token")


@dataclass(frozen=True)
class Targets:
    """What the cases read: the home nurse's plan and task, and the same of an organisation she is not in."""

    world: World
    plan: PathwayPlan
    task: Task
    other_plan: PathwayPlan
    other_task: Task


@pytest.fixture
def targets(world: World) -> Targets:
    """The world's plans, filled so that optional fields appear both empty and set."""
    plan = world.plan
    services.goal_create(actor=world.coordinator, plan=plan, description="Færre indlæggelser")
    services.goal_create(
        actor=world.coordinator, plan=plan, description="Går selv til bageren", target_date=date(2026, 9, 1)
    )
    services.participant_accept(
        actor=world.home_nurse, participant=plan.participants.get(organisation=world.municipality)
    )
    visit = Task.objects.get(plan=plan)
    follow_up = services.task_create(
        actor=world.home_nurse,
        plan=plan,
        title="Opfølgning efter besøget",
        responsible_organisation=world.municipality,
        kind=TaskKind.HOME_VISIT,
        window_start=date(2026, 6, 1),
        due_date=date(2026, 6, 15),
        depends_on=visit,
    )
    # A second plan the nurse takes part in, so that the plan list can span two pages.
    second_patient = services.patient_create(
        cpr="0101501234", given_name="Ingrid", family_name="Testesen", home_municipality="265"
    )
    services.plan_create(
        actor=world.coordinator,
        patient=second_patient,
        title="Hjertesvigt",
        review_date=date(2026, 12, 1),
        participants=[world.municipality],
    )
    other_task = services.task_create(
        actor=world.outsider,
        plan=world.other_plan,
        title="Blodprøve",
        responsible_organisation=world.unrelated,
    )
    return Targets(world=world, plan=plan, task=follow_up, other_plan=world.other_plan, other_task=other_task)


# --- How a case calls ---------------------------------------------------------------------------------


def with_token(client: APIClient, user: User) -> APIClient:
    token, _created = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def half_signed_in(client: APIClient, user: User) -> APIClient:
    """A browser session whose second sign-in step is still missing."""
    TOTPDevice.objects.create(user=user, name="app", confirmed=True)
    client.force_login(user)
    return client


def as_caller(client: APIClient, targets: Targets, caller: str) -> APIClient:
    if caller == "reader":
        return with_token(client, targets.world.home_nurse)
    if caller == "half-signed-in":
        return half_signed_in(client, targets.world.home_nurse)
    if caller == "unknown-token":
        client.credentials(HTTP_AUTHORIZATION=f"Token {'0' * 40}")
        return client
    assert caller == "anonymous"
    return client


def object_args(url_name: str, targets: Targets, whose: str) -> list[Any]:
    """The URL arguments: the reader's own object, one of another organisation, or one that does not exist."""
    if url_name in ("plan-list", "fhir-careplan-search"):
        return []
    if whose == "missing":
        return [uuid4()]
    if url_name in ("task-detail", "task-status"):
        return [(targets.task if whose == "own" else targets.other_task).public_id]
    return [(targets.plan if whose == "own" else targets.other_plan).public_id]


Call = Callable[[APIClient, Targets], Any]


@dataclass(frozen=True)
class Case:
    id: str
    url_name: str  # in the `api` namespace
    method: str
    status: int
    call: Call


def read(
    url_name: str, status: int, caller: str, whose: str = "own", query: dict[str, str] | None = None
) -> Case:
    """A GET by `caller` of the URL for `whose` object."""

    def call(client: APIClient, targets: Targets) -> Any:
        url = api_reverse(url_name, object_args(url_name, targets, whose))
        return as_caller(client, targets, caller).get(url, query or {})

    label = [url_name, str(status), caller, *([whose] if url_name != "plan-list" else []), *(query or {})]
    return Case("-".join(label), url_name, "get", status, call)


def plan_list_second_page(client: APIClient, targets: Targets) -> Any:
    with_token(client, targets.world.home_nurse)
    first = client.get(reverse("api:plan-list")).json()
    assert first["next"] is not None
    return client.get(first["next"])


def token_post(
    data: Any, prepare: Callable[[Targets], None] | None = None, content_type: str = "application/json"
) -> Call:
    """A POST to the token endpoint; `data` is sent as JSON unless it is already a string."""

    def call(client: APIClient, targets: Targets) -> Any:
        if prepare is not None:
            prepare(targets)
        body = data if isinstance(data, str) else json.dumps(data)
        return client.post(TOKEN_URL, body, content_type=content_type)

    return call


def enrol_nurse(targets: Targets) -> None:
    TOTPDevice.objects.create(user=targets.world.home_nurse, name="app", confirmed=True)


def fail_four_times(targets: Targets) -> None:
    client = APIClient()
    for _attempt in range(4):
        response = client.post(TOKEN_URL, {"username": "gp_doctor", "password": "wrong"}, format="json")
        assert response.status_code == 400


def medcom_post(
    make: Callable[[], bytes],
    *,
    content_type: str = "application/fhir+json",
    key: str | None = None,
    throttled: bool = False,
    url: str = medcom.URL,
) -> Call:
    """A POST of a MedCom message (a HospitalNotification unless `url` says otherwise) by the world's
    hospital's sending system."""

    def call(client: APIClient, targets: Targets) -> Any:
        sender = medcom.sender_for(targets.world.hospital)
        authorization = f"Bearer {sender.key if key is None else key}"
        body = make().decode()
        if not throttled:
            return client.generic("POST", url, body, content_type, HTTP_AUTHORIZATION=authorization)
        rate, pathways_api.IntegrationThrottle.rate = pathways_api.IntegrationThrottle.rate, "1/min"
        try:
            client.generic("POST", url, body, content_type, HTTP_AUTHORIZATION=authorization)
            return client.generic("POST", url, body, content_type, HTTP_AUTHORIZATION=authorization)
        finally:
            pathways_api.IntegrationThrottle.rate = rate

    return call


def _admission() -> bytes:
    return medcom.body(medcom.bundle("STIN", cpr=medcom.NO_PLAN_CPR))


MEDCOM = "medcom-hospital-notification"
MEDCOM_CASES = [
    Case(f"{MEDCOM}-200", MEDCOM, "post", 200, medcom_post(_admission)),
    Case(f"{MEDCOM}-400-not-json", MEDCOM, "post", 400, medcom_post(lambda: b"{not json")),
    Case(f"{MEDCOM}-401-wrong-key", MEDCOM, "post", 401, medcom_post(_admission, key="ffm_wrong")),
    Case(
        f"{MEDCOM}-403-another-sender",
        MEDCOM,
        "post",
        403,
        medcom_post(lambda: medcom.body(medcom.bundle("STIN", sender=("3001", "Lægerne")))),
    ),
    Case(
        f"{MEDCOM}-413-too-large",
        MEDCOM,
        "post",
        413,
        medcom_post(lambda: b" " * (settings.MEDCOM_MAX_BODY_BYTES + 1) + _admission()),
    ),
    Case(f"{MEDCOM}-415-text", MEDCOM, "post", 415, medcom_post(_admission, content_type="text/plain")),
    Case(
        f"{MEDCOM}-422-not-a-bundle",
        MEDCOM,
        "post",
        422,
        medcom_post(lambda: b'{"resourceType": "Patient"}'),
    ),
    Case(f"{MEDCOM}-429-throttled", MEDCOM, "post", 429, medcom_post(_admission, throttled=True)),
]


def write_post(
    url_name: str,
    body: Any,
    *,
    caller: str = "reader",
    whose: str = "own",
    headers: dict[str, str] | None = None,
    content_type: str = "application/json",
    before: Callable[[APIClient, Targets, str], Any] | None = None,
) -> Call:
    """A POST by `caller` to the URL for `whose` object; `body` a dict (sent as JSON or a form), a string
    sent as it is, or a function of the targets; `before` sends something first (with the same client)."""

    def call(client: APIClient, targets: Targets) -> Any:
        url = api_reverse(url_name, object_args(url_name, targets, whose))
        if caller == "hospital":
            with_token(client, targets.world.hospital_doctor)
        else:
            as_caller(client, targets, caller)
        data = body(targets) if callable(body) else body
        if before is not None:
            before(client, targets, url)
        if isinstance(data, str):
            payload = data
        elif content_type == "application/x-www-form-urlencoded":
            payload = urlencode(data, doseq=True)
        else:
            payload = json.dumps(data)
        return client.generic("POST", url, payload, content_type, headers=headers or {})

    return call


def _new_task(targets: Targets) -> dict[str, Any]:
    return {
        "title": "Ring til Kirsten",
        "responsible_organisation": str(targets.world.municipality.public_id),
    }


def _admission_event(targets: Targets) -> dict[str, Any]:
    return {
        "kind": "admission",
        "occurred_at": (timezone.now() - timedelta(hours=1)).isoformat(),
        "hospital": str(targets.world.hospital.public_id),
    }


def _used_key(body: dict[str, Any] | Callable[[Targets], dict[str, Any]], headers: dict[str, str]) -> Any:
    """Send `body` once with the key in `headers`, so the case's other body meets a used key."""

    def before(client: APIClient, targets: Targets, url: str) -> None:
        data = body(targets) if callable(body) else body
        response = client.generic("POST", url, json.dumps(data), "application/json", headers=headers)
        assert response.status_code in (200, 201), response.content

    return before


TOO_LARGE = json.dumps({"title": "x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE})
VERSION_1 = {"If-Match": 'W/"1"'}
USED_KEY = {"Idempotency-Key": "used-once"}
STATUS = "task-status"
CREATE = "plan-task-create"
EVENT = "hospital-event"
WRITE_CASES = [
    Case(f"{STATUS}-200", STATUS, "post", 200, write_post(STATUS, {"status": "accepted"}, headers=VERSION_1)),
    Case(f"{STATUS}-400", STATUS, "post", 400, write_post(STATUS, {"status": "bogus"}, headers=VERSION_1)),
    Case(f"{STATUS}-401", STATUS, "post", 401, write_post(STATUS, {}, caller="half-signed-in")),
    Case(f"{STATUS}-403", STATUS, "post", 403, write_post(STATUS, {}, caller="anonymous")),
    Case(
        f"{STATUS}-404",
        STATUS,
        "post",
        404,
        write_post(STATUS, {"status": "accepted"}, whose="other", headers=VERSION_1),
    ),
    Case(
        f"{STATUS}-412",
        STATUS,
        "post",
        412,
        write_post(STATUS, {"status": "accepted"}, headers={"If-Match": '"9"'}),
    ),
    Case(f"{STATUS}-413", STATUS, "post", 413, write_post(STATUS, TOO_LARGE, headers=VERSION_1)),
    Case(
        f"{STATUS}-415",
        STATUS,
        "post",
        415,
        write_post(STATUS, "status=x", headers=VERSION_1, content_type="text/plain"),
    ),
    Case(
        f"{STATUS}-422",
        STATUS,
        "post",
        422,
        write_post(
            STATUS,
            {"status": "in_progress"},
            headers=VERSION_1 | USED_KEY,
            before=_used_key({"status": "accepted"}, VERSION_1 | USED_KEY),
        ),
    ),
    Case(f"{STATUS}-428", STATUS, "post", 428, write_post(STATUS, {"status": "accepted"})),
    Case(f"{CREATE}-201", CREATE, "post", 201, write_post(CREATE, _new_task)),
    Case(f"{CREATE}-400", CREATE, "post", 400, write_post(CREATE, {"title": ""})),
    Case(f"{CREATE}-401", CREATE, "post", 401, write_post(CREATE, _new_task, caller="half-signed-in")),
    Case(f"{CREATE}-403", CREATE, "post", 403, write_post(CREATE, _new_task, caller="anonymous")),
    Case(f"{CREATE}-404", CREATE, "post", 404, write_post(CREATE, _new_task, whose="other")),
    Case(f"{CREATE}-413", CREATE, "post", 413, write_post(CREATE, TOO_LARGE)),
    Case(f"{CREATE}-415", CREATE, "post", 415, write_post(CREATE, "title=x", content_type="text/plain")),
    Case(
        f"{CREATE}-422",
        CREATE,
        "post",
        422,
        write_post(
            CREATE,
            lambda t: _new_task(t) | {"title": "Andet"},
            headers=USED_KEY,
            before=_used_key(_new_task, USED_KEY),
        ),
    ),
    Case(f"{EVENT}-201", EVENT, "post", 201, write_post(EVENT, _admission_event, caller="hospital")),
    Case(f"{EVENT}-400", EVENT, "post", 400, write_post(EVENT, {"kind": "x"}, caller="hospital")),
    Case(f"{EVENT}-401", EVENT, "post", 401, write_post(EVENT, {}, caller="half-signed-in")),
    Case(f"{EVENT}-403", EVENT, "post", 403, write_post(EVENT, _admission_event)),  # the nurse: no hospital
    Case(f"{EVENT}-404", EVENT, "post", 404, write_post(EVENT, _admission_event, whose="other")),
    Case(f"{EVENT}-413", EVENT, "post", 413, write_post(EVENT, TOO_LARGE, caller="hospital")),
    Case(
        f"{EVENT}-415",
        EVENT,
        "post",
        415,
        write_post(EVENT, "kind=x", caller="hospital", content_type="text/plain"),
    ),
    Case(
        f"{EVENT}-422",
        EVENT,
        "post",
        422,
        write_post(
            EVENT,
            lambda t: _admission_event(t) | {"note": "Anden besked"},
            caller="hospital",
            headers=USED_KEY,
            before=_used_key(_admission_event, USED_KEY),
        ),
    ),
]

CARE = "api-coordination:medcom-care-communication"
CARE_URL = reverse(CARE)


def _care(**change: str) -> Callable[[], bytes]:
    values = {"sender_sor": "1001", "receiver_sor": "2001", "cpr": "0707614285"} | change
    return lambda: json.dumps(inbound(**values)).encode()


CARE_CASES = [
    Case("care-in-200", CARE, "post", 200, medcom_post(_care(), url=CARE_URL)),
    Case("care-in-400-not-json", CARE, "post", 400, medcom_post(lambda: b"{not json", url=CARE_URL)),
    Case("care-in-401-wrong-key", CARE, "post", 401, medcom_post(_care(), key="ffm_wrong", url=CARE_URL)),
    Case(
        "care-in-403-another-sender", CARE, "post", 403, medcom_post(_care(sender_sor="3001"), url=CARE_URL)
    ),
    Case(
        "care-in-413-too-large",
        CARE,
        "post",
        413,
        medcom_post(lambda: b" " * (settings.MEDCOM_MAX_BODY_BYTES + 1) + _care()(), url=CARE_URL),
    ),
    Case(
        "care-in-415-text", CARE, "post", 415, medcom_post(_care(), content_type="text/plain", url=CARE_URL)
    ),
    Case("care-in-422-no-plan", CARE, "post", 422, medcom_post(_care(cpr="1111111118"), url=CARE_URL)),
    Case("care-in-429-throttled", CARE, "post", 429, medcom_post(_care(), throttled=True, url=CARE_URL)),
]
CARE_OUT = "api-coordination:message-care-communication"


def _care_out(status: int, caller: str, whose: str = "own") -> Case:
    def call(client: APIClient, targets: Targets) -> Any:
        plan = targets.plan if whose == "own" else targets.other_plan
        author = targets.world.home_nurse if whose == "own" else targets.world.outsider
        organisation = targets.world.municipality if whose == "own" else targets.world.unrelated
        recipient = targets.world.hospital
        if whose != "own":
            services.participant_add(actor=None, plan=plan, organisation=recipient)
        thread = coordination_services.thread_start(
            actor=author,
            plan=plan,
            sender_organisation=organisation,
            recipients=[recipient],
            subject="Udskrivelse",
            body="Kan I sende epikrisen?",
            priority="routine",
        )
        url = reverse(CARE_OUT, args=[plan.public_id, thread.messages.get().public_id])
        return as_caller(client, targets, caller).get(url)

    return Case(f"care-out-{status}-{caller}-{whose}", CARE_OUT, "get", status, call)


MESSAGE = "api-coordination:message-post"


def _message(targets: Targets) -> dict[str, Any]:
    return {
        "subject": "Udskrivelse",
        "body": "Kan I komme lørdag?",
        "sender_organisation": str(targets.world.municipality.public_id),
        "recipients": [str(targets.world.hospital.public_id)],
    }


MESSAGE_CASES = [
    Case("message-post-201", MESSAGE, "post", 201, write_post(MESSAGE, _message)),
    Case("message-post-400", MESSAGE, "post", 400, write_post(MESSAGE, {"body": ""})),
    Case("message-post-401", MESSAGE, "post", 401, write_post(MESSAGE, _message, caller="half-signed-in")),
    Case("message-post-403", MESSAGE, "post", 403, write_post(MESSAGE, _message, caller="anonymous")),
    Case("message-post-404", MESSAGE, "post", 404, write_post(MESSAGE, _message, whose="other")),
    Case("message-post-413", MESSAGE, "post", 413, write_post(MESSAGE, TOO_LARGE)),
    Case("message-post-415", MESSAGE, "post", 415, write_post(MESSAGE, "body=x", content_type="text/plain")),
    Case(
        "message-post-422",
        MESSAGE,
        "post",
        422,
        write_post(
            MESSAGE,
            lambda t: _message(t) | {"body": "Anden tekst"},
            headers=USED_KEY,
            before=_used_key(_message, USED_KEY),
        ),
    ),
]

FHIR = "plan-fhir"
SEARCH = "fhir-careplan-search"
FORM = "application/x-www-form-urlencoded"


def _cpr_search(targets: Targets) -> dict[str, str]:
    return {"patient.identifier": targets.world.patient.cpr}


FHIR_CASES = [
    read(FHIR, 200, "reader"),
    read(FHIR, 401, "half-signed-in"),
    read(FHIR, 403, "anonymous"),
    read(FHIR, 404, "reader", "other"),
    Case(f"{SEARCH}-200", SEARCH, "post", 200, write_post(SEARCH, _cpr_search, content_type=FORM)),
    Case(
        f"{SEARCH}-400",
        SEARCH,
        "post",
        400,
        write_post(SEARCH, {"patient.identifier": "12"}, content_type=FORM),
    ),
    Case(
        f"{SEARCH}-401",
        SEARCH,
        "post",
        401,
        write_post(SEARCH, _cpr_search, caller="half-signed-in", content_type=FORM),
    ),
    Case(
        f"{SEARCH}-403",
        SEARCH,
        "post",
        403,
        write_post(SEARCH, _cpr_search, caller="anonymous", content_type=FORM),
    ),
    Case(f"{SEARCH}-415", SEARCH, "post", 415, write_post(SEARCH, _cpr_search)),
]

GET_URLS = ["plan-list", "plan-detail", "plan-task-list", "task-detail"]
NURSE = {"username": "home_nurse", "password": PASSWORD}

CASES = [
    read("plan-list", 200, "reader"),
    Case("plan-list-200-second-page", "plan-list", "get", 200, plan_list_second_page),
    read("plan-list", 404, "reader", query={"cursor": "not-a-cursor"}),
    *(read(name, 200, "reader") for name in GET_URLS[1:]),
    *(read(name, 404, "reader", whose) for name in GET_URLS[1:] for whose in ("other", "missing")),
    # Session authentication comes first in REST_FRAMEWORK, so DRF answers a caller without credentials
    # with 403 (it has no WWW-Authenticate challenge to send); the second-step middleware answers 401.
    *(read(name, 403, "anonymous") for name in GET_URLS),
    read("plan-list", 403, "unknown-token"),
    *(read(name, 401, "half-signed-in") for name in GET_URLS),
    Case("auth-token-200", "auth-token", "post", 200, token_post(NURSE)),
    Case("auth-token-400-wrong-password", "auth-token", "post", 400, token_post(NURSE | {"password": "x"})),
    Case("auth-token-400-fields-not-valid", "auth-token", "post", 400, token_post({"username": ""})),
    Case("auth-token-400-not-an-object", "auth-token", "post", 400, token_post(["home_nurse"])),
    Case("auth-token-400-not-json", "auth-token", "post", 400, token_post("{not json")),
    Case(
        "auth-token-413-too-large",
        "auth-token",
        "post",
        413,
        token_post({"username": "x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE, "password": "x"}),
    ),
    Case(
        "auth-token-415-plain-text", "auth-token", "post", 415, token_post("a=b", content_type="text/plain")
    ),
    Case("auth-token-400-code-missing", "auth-token", "post", 400, token_post(NURSE, enrol_nurse)),
    Case(
        "auth-token-403-second-factor-not-set-up",
        "auth-token",
        "post",
        403,
        token_post({"username": "admin", "password": PASSWORD}),
    ),
    Case(
        "auth-token-429-locked-out",
        "auth-token",
        "post",
        429,
        token_post({"username": "gp_doctor", "password": "wrong"}, fail_four_times),
    ),
    *MEDCOM_CASES,
    *WRITE_CASES,
    *FHIR_CASES,
    *MESSAGE_CASES,
    *CARE_CASES,
    _care_out(200, "reader"),
    _care_out(401, "half-signed-in"),
    _care_out(403, "anonymous"),
    _care_out(404, "reader", "other"),
]


# --- The served document ------------------------------------------------------------------------------


@pytest.fixture
def served_schema(world: World) -> dict[str, Any]:
    client = with_token(APIClient(), world.coordinator)
    response = client.get(reverse("api-schema"), {"format": "json"})
    assert response.status_code == 200
    document: dict[str, Any] = json.loads(response.content)
    return document


@pytest.fixture
def openapi(served_schema: dict[str, Any]) -> OpenAPI:
    # from_dict also checks that the document itself is valid OpenAPI. FHIR's media type is JSON.
    config = Config(extra_media_type_deserializers={"application/fhir+json": json.loads})
    return OpenAPI.from_dict(served_schema, config=config)


# The API's namespaces: the hub's (`api`, names used bare in the cases) and the apps' (names qualified).
API_NAMESPACES = ("api", "api-coordination")


def _qualified(namespace: str, name: str) -> str:
    return name if namespace == "api" else f"{namespace}:{name}"


def api_reverse(url_name: str, args: list[Any]) -> str:
    return reverse(url_name if ":" in url_name else f"api:{url_name}", args=args)


def api_routes() -> dict[str, tuple[str, URLPattern]]:
    """URL name → (prefix, pattern) for everything in the API's namespaces, as the resolver has it."""
    routes = {}
    for namespace in API_NAMESPACES:
        prefix, resolver = get_resolver().namespace_dict[namespace]
        for p in resolver.url_patterns:
            if isinstance(p, URLPattern) and p.name:
                routes[_qualified(namespace, p.name)] = (prefix, p)
    return routes


def openapi_path(url_name: str) -> str:
    """The OpenAPI path of a URL name: its route with `<converter:name>` written as `{name}`."""
    prefix, pattern = api_routes()[url_name]
    return "/" + prefix + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", str(pattern.pattern))


def operations(url_name: str) -> set[str]:
    """The HTTP methods the view answers, less the ones every view has (OPTIONS, and HEAD with GET)."""
    view_class = api_routes()[url_name][1].callback.view_class  # type: ignore[attr-defined]
    return {
        m for m in view_class.http_method_names if m not in ("options", "head") and hasattr(view_class, m)
    }


class SentRequest(DjangoOpenAPIRequest):
    """The request a response answers. Checking the response needs its method, path and parameters, not
    its body, which Django will not hand over again once it was refused as too large."""

    @property
    def body(self) -> bytes:
        return b""


# --- The tests ----------------------------------------------------------------------------------------


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """One plan a page, so that the plan list's links are filled in with the two plans of `targets`."""
    monkeypatch.setattr(pathways_api.PlanListApi.pagination_class, "page_size", 1)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
@pytest.mark.usefixtures("small_pages")
def test_api_response_conforms_to_the_served_schema(case: Case, targets: Targets, openapi: OpenAPI):
    response = case.call(APIClient(), targets)
    assert response.status_code == case.status, response.content
    # Status code, content type, body and declared headers, against the operation of this request.
    openapi.validate_response(SentRequest(response.wsgi_request), DjangoOpenAPIResponse(response))


def test_every_api_response_has_a_case(served_schema: dict[str, Any]):
    routes = api_routes()
    assert set(served_schema["paths"]) == {openapi_path(name) for name in routes}
    served = {
        (path, method): set(operation["responses"])
        for path, item in served_schema["paths"].items()
        for method, operation in item.items()
    }
    assert set(served) == {(openapi_path(name), method) for name in routes for method in operations(name)}
    covered: dict[tuple[str, str], set[str]] = {}
    for case in CASES:
        covered.setdefault((openapi_path(case.url_name), case.method), set()).add(str(case.status))
    assert covered == served


def test_plan_list_documents_its_cursor(served_schema: dict[str, Any]):
    operation = served_schema["paths"][openapi_path("plan-list")]["get"]
    assert [p["name"] for p in operation.get("parameters", [])] == ["cursor"]


@pytest.mark.usefixtures("small_pages")
def test_plan_list_pages_are_linked(targets: Targets):
    client = with_token(APIClient(), targets.world.home_nurse)
    first = client.get(reverse("api:plan-list")).json()
    second = client.get(first["next"]).json()
    assert first["previous"] is None
    assert second["next"] is None
    assert second["previous"] is not None
    assert len(first["results"]) == len(second["results"]) == 1
