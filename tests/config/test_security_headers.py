"""Security headers on every page, and no browser cache for anything that can hold patient data.

The walks reuse the access matrix's list of named URLs, so a new page is checked without a new row here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.apps import apps
from django.http import HttpResponse
from django.urls import reverse

from tests.conftest import sign_in
from tests.test_access_matrix import ALL_URLS, MATRIX, _url, dummy_kwargs

ROOT = Path(__file__).resolve().parents[2]
HTMX = {"HTTP_HX_REQUEST": "true"}

POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}


def csp_of(response: HttpResponse) -> dict[str, list[str]]:
    directives = (part.split() for part in response["Content-Security-Policy"].split(";") if part.strip())
    return {name: values for name, *values in directives}


SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def header_problems(response: HttpResponse, what: str) -> list[str]:
    """What is missing: no-store on every answer, the policy and the security headers on HTML ones."""
    problems = []
    cache_control = {part.strip() for part in response.get("Cache-Control", "").split(",")}
    if not {"no-store", "private"} <= cache_control:
        problems.append(f"{what}: Cache-Control {response.get('Cache-Control')!r}")
    if response["Content-Type"].startswith("text/html"):
        if "Content-Security-Policy" not in response or csp_of(response) != POLICY:
            problems.append(f"{what}: Content-Security-Policy {response.get('Content-Security-Policy')!r}")
        problems += [
            f"{what}: {name} {response.get(name)!r}"
            for name, value in SECURITY_HEADERS.items()
            if response.get(name) != value
        ]
    return problems


def assert_protected(response: HttpResponse, what: str) -> None:
    assert header_problems(response, what) == []


def test_login_page_has_the_strict_policy_and_the_security_headers(client, db):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert csp_of(response) == POLICY
    assert {name: response.get(name) for name in SECURITY_HEADERS} == SECURITY_HEADERS
    assert "unsafe" not in response["Content-Security-Policy"]


def test_htmx_is_told_not_to_inject_styles_or_evaluate_code(client, db):
    body = client.get(reverse("login")).content.decode()
    meta = re.search(r"<meta name=\"htmx-config\" content='([^']*)'>", body)
    assert meta is not None
    assert json.loads(meta.group(1)) == {
        "includeIndicatorStyles": False,
        "allowEval": False,
        "allowScriptTags": False,
    }


def test_every_page_and_api_answer_has_the_headers_and_is_not_stored(client, world):
    """As the coordinator of the fixture's plan, so the pages hold that patient's data."""
    sign_in(client, world.coordinator)
    problems = []
    for name, (kind, _) in sorted(MATRIX.items()):
        problems += header_problems(client.get(_url(name, kind, world, "own")), name)
    assert problems == []


@pytest.mark.parametrize(
    "name",
    ["pathways:caseload", "pathways:plan-detail", "api:plan-list", "api:plan-detail", "api:task-detail"],
)
def test_the_walk_sees_patient_data_on_the_pages_that_hold_it(client, world, name):
    sign_in(client, world.coordinator)
    response = client.get(_url(name, MATRIX[name][0], world, "own"))
    assert response.status_code == 200
    assert "Kirsten" in response.content.decode() or name == "api:task-detail"
    assert_protected(response, name)


def test_cpr_answers_to_posts_are_not_stored(client, world):
    sign_in(client, world.coordinator)
    revealed = client.post(reverse("pathways:cpr-reveal-partial", args=[world.plan.public_id]), **HTMX)
    assert "070761-4285" in revealed.content.decode()
    assert_protected(revealed, "cpr reveal")
    found = client.post(reverse("pathways:caseload-cpr-search"), {"cpr": "0707614285"})
    assert "Kirsten" in found.content.decode()
    assert_protected(found, "cpr search")


def _admin_url(name: str) -> str:
    """The admin URL with a real object where it takes one, so change pages show real patient data."""
    kwargs = dummy_kwargs(ALL_URLS[name])
    match = re.fullmatch(r"admin:(\w+?)_(\w+)_(change|delete|history)", name)
    if match and "object_id" in kwargs:
        model = apps.get_model(match.group(1), match.group(2))
        obj = model._default_manager.order_by("pk").first()
        if obj is not None:
            kwargs["object_id"] = str(obj.pk)
    return reverse(name, kwargs=kwargs)


ADMIN_NAMES = sorted(n for n in ALL_URLS if n.startswith("admin:") and n != "admin:logout")


def test_every_admin_page_has_the_headers_and_is_not_stored(client, world):
    sign_in(client, world.admin)
    problems = []
    for name in ADMIN_NAMES:
        problems += header_problems(client.get(_admin_url(name)), name)
    assert problems == []


def test_admin_patient_change_page_is_walked_with_the_patient_on_it(client, world):
    sign_in(client, world.admin)
    response = client.get(_admin_url("admin:pathways_patient_change"))
    assert response.status_code == 200
    assert "Kirsten" in response.content.decode()
    assert_protected(response, "patient change")


def test_admin_autocomplete_with_patient_names_is_not_stored(client, world):
    sign_in(client, world.admin)
    params = {"app_label": "pathways", "model_name": "pathwayplan", "field_name": "patient", "term": "Kir"}
    response = client.get(reverse("admin:autocomplete"), params)
    assert response.status_code == 200
    assert "Kirsten" in response.content.decode()
    assert_protected(response, "admin autocomplete")


def test_static_files_keep_their_cache_lifetime(client, db):
    response = client.get("/static/css/app.css")
    assert response.status_code == 200
    assert "no-store" not in response.get("Cache-Control", "")


# Django template comments are stripped first: they may mention <style> without being one.
COMMENTS = re.compile(r"{#.*?#}|{% comment %}.*?{% endcomment %}", re.DOTALL)
INLINE = {
    "inline script": re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE),
    "style element": re.compile(r"<style\b", re.IGNORECASE),
    "style attribute": re.compile(r"\sstyle\s*=", re.IGNORECASE),
    "event handler attribute": re.compile(r"\son[a-z]+\s*=", re.IGNORECASE),
    "hx-on attribute": re.compile(r"\shx-on", re.IGNORECASE),
    "javascript: URL": re.compile(r"javascript:", re.IGNORECASE),
}


def test_templates_have_no_inline_script_or_style():
    found = []
    for path in sorted((ROOT / "templates").rglob("*.html")):
        source = COMMENTS.sub("", path.read_text())
        found += [
            f"{path.relative_to(ROOT)}: {what}" for what, pattern in INLINE.items() if pattern.search(source)
        ]
    assert found == []
