import datetime

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


def audit_list(client, **params):
    response = client.get(reverse("admin:pathways_auditevent_changelist"), params)
    assert response.status_code == 200
    return response


def slugs(response) -> set[str]:
    return {event.pgh_slug for event in response.context["cl"].result_list}


def test_the_audit_trail_lists_changes_readably_with_the_cpr_number_masked(admin_client_world, world):
    body = audit_list(admin_client_world).content.decode()
    assert "Hjemmebesøg" in body
    assert "Kirsten Testesen" in body
    assert "070761-xxxx" in body
    assert "0707614285" not in body


def test_the_audit_trail_listing_is_logged_as_administration(admin_client_world, world):
    audit_list(admin_client_world, record="pathways.Task")
    rows = AccessLog.objects.filter(actor=world.admin)
    assert {(r.patient_id, r.plan_id) for r in rows} == {(world.patient.pk, world.plan.pk)}
    assert {(r.action, r.purpose) for r in rows} == {(AccessAction.ADMIN_LIST, AccessPurpose.ADMINISTRATION)}


def test_the_audit_trail_offers_no_add_change_or_delete_even_to_a_superuser(admin_client_world, world):
    from django.apps import apps

    from pathways.models import AuditEvent

    task_events = apps.get_model("pathways", "TaskEvent")
    event = AuditEvent.objects.filter(pgh_obj_model="pathways.Task").get()
    change_url = reverse("admin:pathways_auditevent_change", args=[event.pgh_slug])
    delete_url = reverse("admin:pathways_auditevent_delete", args=[event.pgh_slug])

    body = audit_list(admin_client_world).content.decode()
    assert reverse("admin:pathways_auditevent_add") not in body
    assert 'value="delete_selected"' not in body
    assert admin_client_world.get(reverse("admin:pathways_auditevent_add")).status_code == 403
    assert admin_client_world.get(change_url).status_code == 403  # no page per event: it holds raw data
    assert admin_client_world.post(change_url, {"pgh_label": "forged"}).status_code == 403
    assert admin_client_world.post(delete_url, {"post": "yes"}).status_code == 403
    stored = task_events.objects.get(pgh_id=event.pgh_id)
    assert stored.pgh_label == "insert"


def test_the_access_log_refuses_change_and_delete_posts_from_a_superuser(admin_client_world, world):
    admin_client_world.get(reverse("admin:pathways_patient_changelist"))
    entry = AccessLog.objects.latest("at")
    change_url = reverse("admin:pathways_accesslog_change", args=[entry.pk])
    delete_url = reverse("admin:pathways_accesslog_delete", args=[entry.pk])
    assert admin_client_world.post(change_url, {"reason": "tampered"}).status_code == 403
    assert admin_client_world.post(delete_url, {"post": "yes"}).status_code == 403
    entry.refresh_from_db()
    assert entry.reason == ""


def test_the_audit_trail_filters_by_kind_of_change_and_of_record(admin_client_world, world):
    from pathways import services
    from pathways.models import Task

    Task.objects.get(plan=world.plan).delete()
    services.goal_create(actor=None, plan=world.plan, description="Mål")

    deletes = audit_list(admin_client_world, kind="delete").context["cl"].result_list
    assert [(e.pgh_label, e.pgh_obj_model) for e in deletes] == [("delete", "pathways.Task")]
    goals = audit_list(admin_client_world, record="pathways.Goal").context["cl"].result_list
    assert [(e.pgh_label, e.pgh_obj_model) for e in goals] == [("insert", "pathways.Goal")]
    assert slugs(audit_list(admin_client_world, record="pathways.NoSuchThing")) == set()


def test_the_audit_trail_filters_and_searches_by_user(client, world):
    from pathways.models import Task

    task = Task.objects.get(plan=world.plan)
    sign_in(client, world.home_nurse)
    url = reverse("pathways:task-status-partial", args=[world.plan.public_id, task.public_id])
    client.post(url, {"status": "accepted", "version": task.version}, HTTP_HX_REQUEST="true")
    sign_in(client, world.admin)

    everything = slugs(audit_list(client))
    by_filter = audit_list(client, user__id__exact=world.home_nurse.pk)
    by_search = audit_list(client, q="home_nurse")
    [nurse_event] = by_filter.context["cl"].result_list
    assert (nurse_event.pgh_obj_model, nurse_event.pgh_label) == ("pathways.Task", "update")
    assert slugs(by_search) == {nurse_event.pgh_slug}
    assert len(everything) > 1
    assert "Home_Nurse" in audit_list(client).content.decode()  # the filter offers the user by name


def test_the_audit_trail_filters_by_date(admin_client_world, world):
    from django.utils import timezone

    today = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    tomorrow = today + datetime.timedelta(days=1)
    assert slugs(
        audit_list(admin_client_world, pgh_created_at__gte=str(today), pgh_created_at__lt=str(tomorrow))
    )
    later = audit_list(admin_client_world, pgh_created_at__gte=str(tomorrow))
    assert slugs(later) == set()


def test_patients_and_plans_cannot_be_deleted_in_the_admin(admin_client_world, world):
    from pathways.models import PathwayPlan, Patient

    other_plan_delete = reverse("admin:pathways_pathwayplan_delete", args=[world.other_plan.pk])
    patient_delete = reverse("admin:pathways_patient_delete", args=[world.other_patient.pk])
    assert admin_client_world.post(other_plan_delete, {"post": "yes"}).status_code == 403
    assert admin_client_world.post(patient_delete, {"post": "yes"}).status_code == 403
    assert PathwayPlan.objects.filter(pk=world.other_plan.pk).exists()
    assert Patient.objects.filter(pk=world.other_patient.pk).exists()
    changelist = admin_client_world.get(reverse("admin:pathways_patient_changelist")).content.decode()
    assert 'value="delete_selected"' not in changelist


def test_deleting_a_user_with_access_log_rows_is_refused_with_an_explanation(admin_client_world, world):
    nurse = world.home_nurse
    AccessLog.objects.create(
        actor=nurse, patient=world.patient, action=AccessAction.VIEW_PLAN, purpose=AccessPurpose.TREATMENT
    )
    response = admin_client_world.post(
        reverse("admin:pathways_user_delete", args=[nurse.pk]), {"post": "yes"}
    )
    assert response.status_code == 200  # the confirmation page naming what protects her, not an error
    assert response.context["protected"]
    assert type(nurse).objects.filter(pk=nurse.pk).exists()
    assert AccessLog.objects.filter(actor=nurse).exists()
