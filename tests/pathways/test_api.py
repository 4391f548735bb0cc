import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from pathways.choices import AccessAction
from pathways.models import AccessLog, Task


@pytest.fixture
def api():
    return APIClient()


def api_urls(world):
    return [
        reverse("api:plan-list"),
        reverse("api:plan-detail", args=[world.plan.public_id]),
        reverse("api:plan-task-list", args=[world.plan.public_id]),
        reverse("api:task-detail", args=[Task.objects.get(plan=world.plan).public_id]),
    ]


def test_api_denies_anonymous_callers_on_every_endpoint(api, world):
    for url in api_urls(world):
        response = api.get(url)
        assert response.status_code in (401, 403), url
        assert "Kirsten" not in response.content.decode()


def test_api_with_a_token_reads_own_plans_and_logs_it(api, world):
    token = Token.objects.create(user=world.home_nurse)
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    response = api.get(reverse("api:plan-list"))
    assert response.status_code == 200
    assert [p["id"] for p in response.json()["results"]] == [str(world.plan.public_id)]
    assert AccessLog.objects.filter(actor=world.home_nurse, action=AccessAction.API_READ).count() == 1


def test_api_returns_404_for_a_plan_of_another_organisation(api, world):
    api.force_authenticate(world.home_nurse)
    assert api.get(reverse("api:plan-detail", args=[world.other_plan.public_id])).status_code == 404
    assert api.get(reverse("api:plan-task-list", args=[world.other_plan.public_id])).status_code == 404
    assert not AccessLog.objects.exists()


def test_api_plan_detail_shows_goals_participants_and_no_cpr(api, world):
    api.force_authenticate(world.gp_doctor)
    body = api.get(reverse("api:plan-detail", args=[world.plan.public_id])).json()
    assert body["what_matters"] == "At kunne blive boende hjemme."
    assert {p["organisation"]["name"] for p in body["participants"]} >= {"Lægerne i Byen"}
    assert "0707614285" not in str(body)


def test_api_task_list_and_detail(api, world):
    api.force_authenticate(world.hospital_doctor)
    tasks = api.get(reverse("api:plan-task-list", args=[world.plan.public_id])).json()
    assert [t["title"] for t in tasks] == ["Hjemmebesøg"]
    detail = api.get(reverse("api:task-detail", args=[tasks[0]["id"]])).json()
    assert detail["responsible_organisation"]["sector"] == "municipality"


def test_openapi_schema_is_served_to_signed_in_users(api, world):
    api.force_authenticate(world.home_nurse)
    response = api.get(reverse("api-schema"))
    assert response.status_code == 200
    assert b"/api/v1/plans/" in response.content


def test_the_api_pages_answer_every_method_without_a_server_error(api, world):
    api.force_authenticate(world.home_nurse)
    for url in [reverse("api-docs"), reverse("api-schema"), *api_urls(world)]:
        for method in ("options", "put", "patch", "delete"):
            response = getattr(api, method)(url)
            assert response.status_code < 500, f"{method.upper()} {url}"
