"""Quality in the admin: questionnaires as data with their questions, scale and bands; responses read-only
with every read logged; the social background view-only for holders of its own permission, never naming
the patient, each read logged."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from pathways.choices import AccessAction, AccessPurpose
from pathways.models import AccessLog
from quality.admin import pseudonym
from quality.choices import EducationBand, LegalBasis, ResponseSource
from quality.models import Indicator, QuestionnaireResponse, SocialBackground
from quality.services import response_record
from tests.conftest import make_user, sign_in
from tests.quality.questionnaire_helpers import shipped, who5, who5_raw  # noqa: F401 (autouse)

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, world):
    sign_in(client, world.admin)
    return client


def background(world) -> SocialBackground:
    return SocialBackground.objects.create(
        patient=world.patient, education=EducationBand.BASIC, legal_basis=LegalBasis.SYNTHETIC
    )


def test_the_who5_questionnaire_opens_with_its_questions_scale_and_bands(admin_client):
    page = admin_client.get(reverse("admin:quality_questionnaire_change", args=[who5().pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "I de sidste 2 uger har jeg været glad og i godt humør" in html
    assert "På intet tidspunkt" in html
    assert "Nedsat trivsel" in html


def test_responses_are_read_only_and_each_list_and_opened_response_is_logged(admin_client, world):
    response = response_record(
        questionnaire=who5(),
        plan=world.plan,
        answers=who5_raw(16),
        source=ResponseSource.STAFF_PHONE,
        actor=world.coordinator,
    )
    assert admin_client.get(reverse("admin:quality_questionnaireresponse_changelist")).status_code == 200
    assert (
        admin_client.get(
            reverse("admin:quality_questionnaireresponse_change", args=[response.pk])
        ).status_code
        == 200
    )
    logged = AccessLog.objects.filter(actor=world.admin, patient=world.patient)
    assert {(row.action, row.purpose) for row in logged} == {
        (AccessAction.ADMIN_LIST, AccessPurpose.ADMINISTRATION),
        (AccessAction.ADMIN_VIEW, AccessPurpose.ADMINISTRATION),
    }
    assert admin_client.get(reverse("admin:quality_questionnaireresponse_add")).status_code == 403
    admin_client.post(
        reverse("admin:quality_questionnaireresponse_delete", args=[response.pk]), {"post": "yes"}
    )
    assert QuestionnaireResponse.objects.filter(pk=response.pk).exists()


def test_the_social_background_never_names_the_patient_and_each_read_is_logged(admin_client, world):
    row = background(world)
    listing = admin_client.get(reverse("admin:quality_socialbackground_changelist")).content.decode()
    opened = admin_client.get(
        reverse("admin:quality_socialbackground_change", args=[row.pk])
    ).content.decode()
    for html in (listing, opened):
        assert pseudonym(world.patient.pk) in html
        assert "Testesen" not in html
        assert "0707614285" not in html
    assert AccessLog.objects.filter(actor=world.admin, patient=world.patient).count() == 2
    assert admin_client.get(reverse("admin:quality_socialbackground_add")).status_code == 403


def test_an_administrator_without_the_social_background_permission_cannot_see_it(client, world):
    row = background(world)
    staff = make_user("it_admin", None, is_staff=True)
    staff.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_questionnaire", "view_indicator"])
    )
    sign_in(client, staff)
    assert client.get(reverse("admin:quality_socialbackground_changelist")).status_code == 403
    assert client.get(reverse("admin:quality_socialbackground_change", args=[row.pk])).status_code == 403
    staff.user_permissions.add(Permission.objects.get(codename="view_socialbackground"))
    sign_in(client, type(staff).objects.get(pk=staff.pk))
    assert client.get(reverse("admin:quality_socialbackground_changelist")).status_code == 200
    logged = AccessLog.objects.get(actor=staff)
    assert (logged.patient, logged.action) == (world.patient, AccessAction.ADMIN_LIST)


def _indicator_body(**changes: str) -> dict[str, str]:
    body = {
        "key": "admin-test",
        "position": "20",
        "name_da": "Testindikator",
        "name_en": "Test indicator",
        "measure": "proportion",
        "population": "discharges_home",
        "outcome": "task_done_within_hours",
        "exclusions": "died",
        "parameters": '{"hours": 24, "task_kind": "home_visit"}',
        "standard": "90",
        "direction": "at_least",
        "period": "quarter",
        "reporting_unit": "hospital",
        "is_active": "on",
    }
    return body | changes


@pytest.mark.parametrize(
    "changes",
    [
        {"parameters": '{"hours": "a day"}'},
        {"parameters": '{"task_kind": "massage"}'},
        {"parameters": '{"questionnaire": "no-such"}'},
        {"parameters": "[24]"},
        {"exclusions": "died,moon_phase"},
    ],
)
def test_an_indicator_with_parameters_the_refresh_cannot_read_is_refused_and_nothing_is_saved(
    admin_client, changes
):
    page = admin_client.post(reverse("admin:quality_indicator_add"), _indicator_body(**changes))
    assert page.status_code == 200  # the form again, with the error
    assert "errornote" in page.content.decode()
    assert not Indicator.objects.filter(key="admin-test").exists()


def test_an_indicator_saved_with_empty_parameters_keeps_an_empty_object(admin_client):
    page = admin_client.post(reverse("admin:quality_indicator_add"), _indicator_body(parameters=""))
    assert page.status_code == 302
    assert Indicator.objects.get(key="admin-test").parameters == {}
