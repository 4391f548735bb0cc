"""Error pages: the right status, plain Danish (English by the switch), and nothing about a patient."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest
from django.core.exceptions import BadRequest
from django.test import Client, RequestFactory
from django.urls import get_resolver, reverse
from django.utils import translation

from tests.conftest import sign_in

# Everything the fixture's two patients could leak: names, CPR numbers (plain and formatted), plan titles.
PATIENT_DATA = [
    "Kirsten",
    "Testesen",
    "0707614285",
    "070761",
    "Ole",
    "Andersen",
    "1203801236",
    "KOL og",
    "Hjertesvigt",
]


def assert_no_patient_data(body: str) -> None:
    leaked = [item for item in PATIENT_DATA if item in body]
    assert leaked == [], f"patient data on an error page: {leaked}"


@pytest.fixture
def coordinator_client(client, world):
    sign_in(client, world.coordinator)
    return client


def test_missing_and_forbidden_plans_get_the_same_danish_404(coordinator_client, world):
    missing = coordinator_client.get(reverse("pathways:plan-detail", args=[uuid4()]))
    forbidden = coordinator_client.get(reverse("pathways:plan-detail", args=[world.other_plan.public_id]))
    assert missing.status_code == forbidden.status_code == 404
    body = forbidden.content.decode()
    assert missing.content.decode() == body  # nothing tells the two apart
    assert "Siden findes ikke" in body
    assert '<html lang="da">' in body
    assert_no_patient_data(body)


def test_404_is_english_after_the_language_switch(coordinator_client):
    coordinator_client.post(reverse("set_language"), {"language": "en", "next": "/"})
    body = coordinator_client.get(reverse("pathways:plan-detail", args=[uuid4()])).content.decode()
    assert "Page not found" in body
    assert '<html lang="en">' in body


def test_403_on_the_plan_of_ones_own_patient_shows_nothing_of_the_plan(client, world):
    # The hospital doctor sees Kirsten's plan but may not edit "what matters": a 403 for a known plan.
    sign_in(client, world.hospital_doctor)
    response = client.get(reverse("pathways:what-matters-partial", args=[world.plan.public_id]))
    assert response.status_code == 403
    body = response.content.decode()
    assert "Du har ikke lov til at gøre dette." in body
    assert_no_patient_data(body)


def test_csrf_failure_is_a_friendly_danish_page_without_the_plan(world):
    client = Client(enforce_csrf_checks=True)
    sign_in(client, world.coordinator)
    response = client.post(reverse("pathways:cpr-reveal-partial", args=[world.plan.public_id]))
    assert response.status_code == 403
    body = response.content.decode()
    assert "Formularen er udløbet" in body
    assert "CSRF" not in body  # not Django's technical page
    assert_no_patient_data(body)


def test_500_page_renders_without_a_database():
    """No `db` fixture: pytest-django fails the test if the handler or its template touches the database."""
    handler = get_resolver().resolve_error_handler(500)
    request = RequestFactory().get(f"/plans/{uuid4()}/")
    # The page is rendered in the language the locale middleware chose for the failed request.
    with translation.override("da"):
        response = handler(request)
    assert response.status_code == 500
    body = response.content.decode()
    assert "Der skete en fejl" in body
    assert '<html lang="da">' in body
    assert "Traceback" not in body


def test_500_page_in_english():
    handler = get_resolver().resolve_error_handler(500)
    with translation.override("en"):
        body = handler(RequestFactory().get("/")).content.decode()
    assert "Something went wrong" in body


def test_400_page():
    handler: Any = get_resolver().resolve_error_handler(400)  # typed without the `exception` argument
    request = RequestFactory().get("/")
    with translation.override("da"):
        response = handler(request, exception=BadRequest("Kirsten Testesen 0707614285"))
    assert response.status_code == 400
    body = response.content.decode()
    assert "Forkert forespørgsel" in body
    assert_no_patient_data(body)  # the exception's text is not shown


def test_an_address_under_the_portal_that_matches_no_page_gets_the_portals_404(client):
    """A patient who mistypes a portal address stays in the portal: its plain page, not the staff one."""
    response = client.get("/portal/plan/not-a-plan/")
    body = response.content.decode()
    assert response.status_code == 404
    assert 'class="ff-portal"' in body
    assert reverse("portal:home") in body
    assert 'href="/"' not in body  # no way into the staff pages
    assert "no-store" in response["Cache-Control"]


def test_an_unknown_staff_address_still_gets_the_staff_404(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert 'class="ff-portal"' not in response.content.decode()
