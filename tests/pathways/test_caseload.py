"""The caseload: filters, sort, CPR search (POST, logged) and revealing a CPR number (logged)."""

import pytest
from django.urls import reverse

from pathways import services
from pathways.choices import AccessAction, PlanStatus
from pathways.models import AccessLog, Task
from pathways.views import caseload as caseload_views
from tests.conftest import sign_in

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def nurse(client, world):
    # A second patient in the nurse's caseload, without overdue tasks and with only the municipality.
    second = services.patient_create(
        cpr="0101501234", given_name="Bent", family_name="Bruun", home_municipality="265"
    )
    plan = services.plan_create(actor=None, patient=second, title="Plan", participants=[world.municipality])
    services.plan_transition(actor=None, plan=plan, to_status=PlanStatus.ACTIVE)
    Task.objects.filter(plan=world.plan).update(due_date="2020-01-01")  # Kirsten's home visit is overdue
    sign_in(client, world.home_nurse)
    return client


def names(response) -> list[str]:
    body = response.content.decode()
    return [n for n in ("Bent Bruun", "Kirsten Testesen") if n in body]


def test_caseload_filters_by_overdue_and_by_sector(nurse):
    url = reverse("pathways:caseload")
    assert names(nurse.get(url)) == ["Bent Bruun", "Kirsten Testesen"]
    assert names(nurse.get(url, {"overdue": "on"})) == ["Kirsten Testesen"]
    assert names(nurse.get(url, {"sector": "general_practice"})) == ["Kirsten Testesen"]
    assert names(nurse.get(url, {"q": "bent"})) == ["Bent Bruun"]


def test_a_caseload_counts_up_to_its_cap_and_then_says_there_are_more(nurse, world, monkeypatch):
    """A large unit's caseload is not counted to the end on every page: beyond the cap the page says there
    are more and asks for a search, and the pages reach the first ones; under it, the count is exact."""
    third = services.patient_create(
        cpr="0202501234", given_name="Carl", family_name="Clausen", home_municipality="265"
    )
    services.plan_create(actor=None, patient=third, title="Plan", participants=[world.municipality])
    url = reverse("pathways:caseload")
    monkeypatch.setattr(caseload_views, "CASELOAD_PAGE_SIZE", 1)
    body = nurse.get(url).content.decode()
    assert "3 patienter" in body
    assert "Side 1 af 3" in body
    monkeypatch.setattr(caseload_views, "CASELOAD_COUNT_CAP", 2)
    body = nurse.get(url).content.decode()
    assert "Mere end 2 patienter: søg eller filtrér for at finde de øvrige" in body
    assert "Side 1 af de første 2" in body
    assert names(nurse.get(url)) == ["Bent Bruun"]
    # A search that narrows the list under the cap counts it exactly again.
    body = nurse.get(url, {"q": "kirsten"}).content.decode()
    assert "1 patient<" in body
    assert "Mere end" not in body


def test_caseload_sorts_most_overdue_first(nurse):
    body = nurse.get(reverse("pathways:caseload"), {"sort": "overdue"}).content.decode()
    assert body.index("Kirsten Testesen") < body.index("Bent Bruun")


def test_invalid_filter_values_are_ignored_not_an_error(nurse):
    response = nurse.get(
        reverse("pathways:caseload"), {"sector": "mars", "sort": "'; drop table", "page": "x"}
    )
    assert response.status_code == 200


def test_htmx_filter_returns_only_the_table_fragment(nurse):
    response = nurse.get(reverse("pathways:caseload"), {"q": "kirsten"}, **HTMX)
    body = response.content.decode()
    assert "<html" not in body
    assert "Kirsten Testesen" in body
    assert "HX-Request" in response["Vary"]


def test_cpr_search_finds_the_patient_and_is_logged_as_a_cpr_search(nurse, world):
    response = nurse.post(reverse("pathways:caseload-cpr-search"), {"cpr": "070761-4285"})
    assert response.status_code == 200
    assert names(response) == ["Kirsten Testesen"]
    assert AccessLog.objects.filter(action=AccessAction.SEARCH_CPR, patient=world.patient).count() == 1


def test_cpr_search_never_finds_patients_outside_the_users_plans(nurse, world):
    response = nurse.post(reverse("pathways:caseload-cpr-search"), {"cpr": "1203801236"})  # Ole, Holbæk
    assert "Ole Andersen" not in response.content.decode()
    assert not AccessLog.objects.filter(patient=world.other_patient).exists()


def test_invalid_cpr_search_gets_a_clear_error_without_echoing_the_number(nurse):
    response = nurse.post(reverse("pathways:caseload-cpr-search"), {"cpr": "3199991234"})
    assert response.status_code == 422
    body = response.content.decode()
    assert "fødselsdato" in body  # "…must be a real date of birth"
    assert "3199991234" not in body


def test_revealing_the_cpr_number_shows_it_and_logs_it(nurse, world):
    url = reverse("pathways:cpr-reveal-partial", args=[world.plan.public_id])
    response = nurse.post(url, **HTMX)
    assert "070761-4285" in response.content.decode()
    assert AccessLog.objects.filter(action=AccessAction.REVEAL_CPR, actor=world.home_nurse).count() == 1


def test_revealing_a_cpr_number_outside_ones_plans_is_404(client, world):
    sign_in(client, world.outsider)
    url = reverse("pathways:cpr-reveal-partial", args=[world.plan.public_id])
    assert client.post(url, **HTMX).status_code == 404
    assert not AccessLog.objects.exists()
