import pytest
from django.urls import reverse

from pathways.choices import AccessAction, AccessPurpose
from pathways.models import AccessLog
from tests.conftest import sign_in


@pytest.mark.parametrize("who", ["home_nurse", "coordinator", "hospital_doctor", "gp_doctor", "outsider"])
def test_admin_is_closed_to_staff_who_are_not_administrators(client, world, who):
    sign_in(client, getattr(world, who))
    response = client.get(reverse("admin:pathways_patient_changelist"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_admin_is_open_to_administrators(admin_client_world):
    assert admin_client_world.get(reverse("admin:index")).status_code == 200


@pytest.fixture
def admin_client_world(client, world):
    sign_in(client, world.admin)
    return client


def test_admin_patient_list_is_logged_as_administration(admin_client_world, world):
    response = admin_client_world.get(reverse("admin:pathways_patient_changelist"))
    assert response.status_code == 200
    rows = AccessLog.objects.filter(actor=world.admin)
    assert {r.patient_id for r in rows} == {world.patient.pk, world.other_patient.pk}
    assert {(r.action, r.purpose) for r in rows} == {(AccessAction.ADMIN_LIST, AccessPurpose.ADMINISTRATION)}


def test_admin_opening_a_plan_is_logged(admin_client_world, world):
    response = admin_client_world.get(reverse("admin:pathways_pathwayplan_change", args=[world.plan.pk]))
    assert response.status_code == 200
    row = AccessLog.objects.get(action=AccessAction.ADMIN_VIEW)
    assert (row.actor, row.patient, row.plan) == (world.admin, world.patient, world.plan)


def test_admin_does_not_show_the_full_cpr_number_in_the_patient_list(admin_client_world, world):
    body = admin_client_world.get(reverse("admin:pathways_patient_changelist")).content.decode()
    assert "070761-xxxx" in body
    assert "0707614285" not in body


def test_access_log_is_read_only_in_admin(admin_client_world, world):
    admin_client_world.get(reverse("pathways:caseload"))  # the admin has no patients: no rows
    admin_client_world.get(reverse("admin:pathways_patient_changelist"))
    entry = AccessLog.objects.latest("at")
    assert admin_client_world.get(reverse("admin:pathways_accesslog_changelist")).status_code == 200
    assert admin_client_world.get(reverse("admin:pathways_accesslog_add")).status_code == 403
    delete_url = reverse("admin:pathways_accesslog_delete", args=[entry.pk])
    assert admin_client_world.post(delete_url, {"post": "yes"}).status_code == 403
    change_url = reverse("admin:pathways_accesslog_change", args=[entry.pk])
    admin_client_world.post(change_url, {"reason": "tampered"})
    entry.refresh_from_db()
    assert entry.reason == ""
    assert AccessLog.objects.filter(pk=entry.pk).exists()


def test_admin_edit_of_a_plan_bumps_its_version(admin_client_world, world):
    from pathways.admin import PathwayPlanAdmin  # noqa: F401 - the admin under test

    version = world.plan.version
    url = reverse("admin:pathways_pathwayplan_change", args=[world.plan.pk])
    response = admin_client_world.get(url)
    form = response.context["adminform"].form
    data = {k: ("" if v is None else v) for k, v in form.initial.items() if k in form.fields}
    data.update(
        {
            "title": "Renamed in admin",
            "patient": world.patient.pk,
            "coordinator": world.coordinator.pk,
            "coordinator_organisation": world.municipality.pk,
            "coordinator_substitute": "",
            "review_date": "",
        }
    )
    for inline in response.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        for name, field in management.fields.items():
            data[f"{management.prefix}-{name}"] = management.initial.get(name, field.initial)
        for index, inline_form in enumerate(inline.formset.forms):
            for name in inline_form.fields:
                value = inline_form[name].value()
                data[f"{inline.formset.prefix}-{index}-{name}"] = "" if value is None else value
    response = admin_client_world.post(url, data)
    errors = response.context and [f.formset.errors for f in response.context["inline_admin_formsets"]]
    assert response.status_code == 302, errors
    world.plan.refresh_from_db()
    assert world.plan.title == "Renamed in admin"
    assert world.plan.version == version + 1
