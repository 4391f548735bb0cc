"""Hostile input to every endpoint that takes a body: a clear 4xx, nothing written, never a 500.

Found from outside: a form body in UTF-16 crashed every form endpoint under `make run` (DEBUG on: the
technical error page read the body again and failed), and a JSON body nested 1,000 levels deep crashed
the API's token sign-in with a RecursionError. Each payload here is sent, as a signed-in coordinator
(the role with most rights) or an administrator for the admin, to every named URL, in development
(DEBUG on) and production (DEBUG off) mode.

Two kinds of payload:
- *broken bodies* (another charset, invalid UTF-8, too large, nested too deep, malformed multipart,
  lone surrogates in JSON) are refused before any view runs: 4xx and not one row written;
- *hostile values* in well-formed bodies (NUL bytes, lone surrogates, other scripts' digits, 100,000
  characters without a space) reach the views' forms: never a 5xx, and a refused request writes nothing.
"""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from django.apps import apps
from django.urls import reverse

from tests.conftest import sign_in
from tests.test_access_matrix import ALL_URLS, MATRIX, _url, dummy_kwargs

# Field names of every form and API input, so each view finds its own fields among them.
FIELDS = [
    "title", "description", "what_matters", "expected_result", "cpr", "reason", "username", "password",
    "code", "status", "kind", "version", "language", "next", "q", "target_date", "due_date",
    "window_start", "responsible_organisation", "responsible_person", "organisation", "confirm", "goal",
    "depends_on", "visible_to_patient", "name", "phone", "postal_code", "sor_code", "given_name",
    "family_name",
]  # fmt: skip

FORM = "application/x-www-form-urlencoded"
BROKEN_BODIES: dict[str, tuple[bytes, str]] = {
    "utf-16 form": ("title=Besøg&cpr=0707614285".encode("utf-16"), f"{FORM}; charset=utf-16"),
    "latin-1 form": ("title=Besøg".encode("latin-1"), f"{FORM}; charset=iso-8859-1"),
    "invalid utf-8 in a form": (b"title=Bes%F8g&description=%ED%A0%80", FORM),
    "raw invalid bytes in a form": (b"title=\xff\xfe\x00", FORM),
    "3 MB form": (b"description=" + b"a" * 3_000_000, FORM),
    "malformed multipart": (b"--x\r\nContent-Disposition: form-data\r\n\r\n", "multipart/form-data"),
    "json nested 1,000 deep": (
        ('{"username": ' + "[" * 1000 + "]" * 1000 + ', "password": "x"}').encode(),
        "application/json",
    ),
    "json nested 100 deep": (('{"a": ' + "[" * 100 + "]" * 100 + "}").encode(), "application/json"),
    "json lone surrogate": (b'{"username": "\\ud800", "password": "\\udfff"}', "application/json"),
    "json invalid utf-8": (b'{"username": "\xff"}', "application/json"),
    "json in utf-16": ('{"username": "a"}'.encode("utf-16"), "application/json; charset=utf-16"),
    "3 MB json": (b'{"username": "' + b"a" * 3_000_000 + b'"}', "application/json"),
    "json NaN": (b'{"username": NaN}', "application/json"),
}

HOSTILE_VALUES = {
    "NUL bytes": "Besøg\x00hos\x00Kirsten",
    "lone surrogate": "Besøg \ud800",
    "arabic-indic digits": "٠٧٠٧٦١-٤٢٨٥",
    "full-width digits": "０７０７６１４２８５",
    "100,000 characters without a space": "x" * 100_000,
    "right-to-left override": "\u202egnp.exe",
}


def _body_urls(world) -> list[tuple[str, str]]:
    """(name, url) for every named URL outside the admin, on the coordinator's own plan."""
    urls = []
    for name, (kind, _rule) in MATRIX.items():
        urls.append((name, _url(name, kind, world, "own")))
    return urls


# The admin's own forms (add pages, list actions) for the hub's models; the rest of the admin is Django's.
ADMIN_URLS = sorted(
    n
    for n, p in ALL_URLS.items()
    if n.startswith("admin:pathways_") and n.endswith(("_add", "_changelist")) and not dummy_kwargs(p)
)
NAMES = sorted(MATRIX) + ADMIN_URLS


def database_rows() -> dict[str, int]:
    """Row counts of every table of the hub (patients, plans, tasks, the logs, the audit trail)."""
    models = apps.get_app_config("pathways").get_models()
    return {model.__name__: model._default_manager.count() for model in models}


@pytest.fixture(params=["development", "production"])
def mode_client(request, client, settings, world):
    settings.DEBUG = request.param == "development"
    return client


def _sign_in_for(client, world, name):
    sign_in(client, world.admin if name.startswith("admin:") else world.coordinator)


def _url_for(name, world):
    if name.startswith("admin:"):
        return reverse(name)
    kind, _rule = MATRIX[name]
    return _url(name, kind, world, "own")


def _encode_form(value: str) -> bytes:
    # Lone surrogates cannot be percent-encoded as UTF-8; "surrogatepass" writes the bytes a careless
    # client would send.
    pairs = [f"{field}={quote(value.encode('utf-8', 'surrogatepass'), safe='')}" for field in FIELDS]
    return "&".join(pairs).encode("ascii")


@pytest.mark.parametrize("name", NAMES)
def test_broken_bodies_are_refused_before_any_view_and_write_nothing(mode_client, world, name):
    _sign_in_for(mode_client, world, name)
    url = _url_for(name, world)
    for label, (body, content_type) in BROKEN_BODIES.items():
        before = database_rows()
        response = mode_client.generic("POST", url, body, content_type=content_type)
        assert 400 <= response.status_code < 500, f"{label} to {name}: {response.status_code}"
        assert database_rows() == before, f"{label} to {name} wrote to the database"
        if url.startswith("/api/v1/"):
            # The FHIR endpoint (MedCom ingest) names the problem in an OperationOutcome's issues.
            answer = response.json()
            assert "detail" in answer or answer.get("issue"), f"{label} to {name}: no message for the client"


@pytest.mark.parametrize("name", NAMES)
def test_hostile_values_never_give_a_server_error_and_a_refusal_writes_nothing(client, settings, world, name):
    # Well-formed bodies reach the views alike in both modes; DEBUG on is the mode that crashed before.
    settings.DEBUG = True
    mode_client = client
    _sign_in_for(mode_client, world, name)
    url = _url_for(name, world)
    for label, value in HOSTILE_VALUES.items():
        before = database_rows()
        response = mode_client.generic("POST", url, _encode_form(value), content_type=FORM)
        assert response.status_code < 500, f"{label} in a form to {name}"
        if response.status_code >= 400:
            # The logs may grow: a refused CPR search shows the caseload again (a logged read), and a
            # 403 is a security event. Patient data and the audit trail must not change.
            logs = {"AccessLog", "SecurityEvent"}
            changed = {k for k, count in database_rows().items() if count != before[k]} - logs
            assert not changed, f"{label} to {name}: refused, yet written to {changed}"
        if url.startswith("/api/v1/"):
            body = json.dumps(dict.fromkeys(FIELDS, value), ensure_ascii=True)
            response = mode_client.generic("POST", url, body.encode(), content_type="application/json")
            assert response.status_code < 500, f"{label} in JSON to {name}"


def test_the_token_endpoint_answers_deep_nesting_with_a_clear_message_without_signing_in(client, world):
    body = '{"username": ' + "[" * 1000 + "]" * 1000 + ', "password": "x"}'
    response = client.post(reverse("api:auth-token"), body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["detail"] == "JSON-indholdet er indlejret for dybt."


def test_a_form_in_another_charset_gets_the_plain_danish_error_page_with_debug_on(client, world, settings):
    settings.DEBUG = True
    sign_in(client, world.coordinator)
    url = reverse("pathways:what-matters-partial", args=[world.plan.public_id])
    response = client.generic(
        "POST", url, "what_matters=x".encode("utf-16"), content_type=f"{FORM}; charset=utf-16"
    )
    assert response.status_code == 415
    body = response.content.decode()
    assert "Send indholdet som UTF-8." in body
    assert "Traceback" not in body
