"""The access policy from the reader's side: own organisation sees, others get 404, reads are logged."""

import pytest
from django.urls import reverse

from pathways import access
from pathways.choices import AccessAction, AccessPurpose
from pathways.models import AccessLog, Membership
from tests.conftest import sign_in


def login(client, user):
    sign_in(client, user)
    return client


@pytest.mark.parametrize("who", ["hospital_doctor", "home_nurse", "gp_doctor", "coordinator"])
def test_every_participating_sector_sees_the_plan(client, world, who):
    login(client, getattr(world, who))
    response = client.get(reverse("pathways:plan-detail", args=[world.plan.public_id]))
    assert response.status_code == 200
    assert "Kirsten Testesen" in response.content.decode()


@pytest.mark.parametrize("who", ["hospital_doctor", "home_nurse", "gp_doctor", "coordinator", "admin"])
def test_a_plan_outside_the_users_organisations_is_404(client, world, who):
    login(client, getattr(world, who))
    response = client.get(reverse("pathways:plan-detail", args=[world.other_plan.public_id]))
    assert response.status_code == 404
    assert "Ole" not in response.content.decode()


def test_unknown_and_forbidden_plans_look_the_same(client, world):
    import uuid

    login(client, world.outsider)
    forbidden = client.get(reverse("pathways:plan-detail", args=[world.plan.public_id]))
    missing = client.get(reverse("pathways:plan-detail", args=[uuid.uuid4()]))
    assert forbidden.status_code == missing.status_code == 404
    assert forbidden.content == missing.content


def test_ended_membership_removes_access(client, world):
    from django.utils import timezone

    Membership.objects.filter(user=world.home_nurse).update(ended_at=timezone.now())
    login(client, world.home_nurse)
    assert client.get(reverse("pathways:plan-detail", args=[world.plan.public_id])).status_code == 404


def test_coordinator_sees_the_plan_through_the_coordinator_role_alone(world):
    Membership.objects.filter(user=world.coordinator).delete()
    assert world.plan in access.plans_visible_to(world.coordinator)


def test_inactive_or_anonymous_users_see_nothing(world):
    from django.contrib.auth.models import AnonymousUser

    assert not access.plans_visible_to(AnonymousUser()).exists()
    world.home_nurse.is_active = False
    assert not access.plans_visible_to(world.home_nurse).exists()


def test_caseload_lists_only_the_users_patients(client, world):
    login(client, world.home_nurse)
    body = client.get(reverse("pathways:caseload")).content.decode()
    assert "Kirsten Testesen" in body
    assert "Ole Andersen" not in body


def test_opening_a_plan_writes_one_access_log_row(client, world):
    login(client, world.gp_doctor)
    client.get(reverse("pathways:plan-detail", args=[world.plan.public_id]))
    row = AccessLog.objects.get()
    assert row.actor == world.gp_doctor
    assert row.organisation == world.gp
    assert row.patient == world.patient
    assert row.plan == world.plan
    assert row.action == AccessAction.VIEW_PLAN
    assert row.purpose == AccessPurpose.TREATMENT
    assert row.at is not None


def test_a_refused_read_writes_no_access_log_row(client, world):
    login(client, world.outsider)
    client.get(reverse("pathways:plan-detail", args=[world.plan.public_id]))
    assert not AccessLog.objects.exists()


def test_seeing_a_patient_in_the_caseload_is_logged_as_a_list_read(client, world):
    login(client, world.home_nurse)
    client.get(reverse("pathways:caseload"))
    assert list(AccessLog.objects.values_list("patient", "action", "organisation")) == [
        (world.patient.pk, AccessAction.LIST, world.municipality.pk)
    ]


def test_patient_pages_are_never_cached_by_the_browser(client, world):
    login(client, world.home_nurse)
    for url in [reverse("pathways:caseload"), reverse("pathways:plan-detail", args=[world.plan.public_id])]:
        assert "no-store" in client.get(url)["Cache-Control"]


def test_cpr_number_is_masked_on_the_plan_page(client, world):
    login(client, world.home_nurse)
    body = client.get(reverse("pathways:plan-detail", args=[world.plan.public_id])).content.decode()
    assert "070761-xxxx" in body
    assert "0707614285" not in body
    assert "4285" not in body
