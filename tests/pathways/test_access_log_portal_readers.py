"""Reads in the portal on the staff side: the coordinator's "who has opened the plan" page and the
administration's access log name the patient or relative who read, marked as a read in the portal."""

from __future__ import annotations

from django.urls import reverse

from pathways.audit import portal_read_log_write
from pathways.choices import AccessAction, AccessPurpose
from relatives import services as relatives_services
from relatives.choices import ConsentMethod, ConsentScope, Relation, RelativeChannel
from tests.conftest import sign_in


def _portal_reads(world):
    relative = relatives_services.relative_add(
        actor=world.coordinator,
        plan=world.plan,
        name="Susanne Hansen",
        relation=Relation.CHILD,
        email="susanne@example.invalid",
        preferred_channel=RelativeChannel.EMAIL,
        consent={"scope": ConsentScope.WHOLE_PLAN, "method": ConsentMethod.SPOKEN, "coercion_checked": True},
    )
    for reader, purpose in (
        (world.patient, AccessPurpose.OWN_DATA),
        (relative, AccessPurpose.RELATIVE_CONSENT),
    ):
        portal_read_log_write(
            reader=reader,
            patient_id=world.patient.pk,
            plan_id=world.plan.pk,
            action=AccessAction.PORTAL_PLAN,
            purpose=purpose,
        )


def test_the_coordinators_log_names_the_patient_and_the_relative_who_read_in_the_portal(
    client, world, django_assert_max_num_queries
):
    _portal_reads(world)
    sign_in(client, world.coordinator)

    with django_assert_max_num_queries(30):
        response = client.get(reverse("pathways:plan-access-log", args=[world.plan.public_id]))

    assert response.status_code == 200
    rows = [row for row in response.context["page"] if row.actor is None]
    assert sorted(str(row.reader) for row in rows) == sorted(["Susanne Hansen", world.patient.full_name])
    body = response.content.decode()
    assert "Susanne Hansen" in body
    assert world.patient.full_name in body


def test_the_admins_access_log_names_the_portal_reader(client, world):
    _portal_reads(world)
    sign_in(client, world.admin)

    response = client.get(reverse("admin:pathways_accesslog_changelist"))

    assert response.status_code == 200
    body = response.content.decode()
    assert "Susanne Hansen" in body
    assert world.patient.full_name in body
