"""Break the glass: a clinician outside the plan opens it with a reason; the coordinator sees who and why."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils import timezone

from pathways import services
from pathways.choices import AccessAction, AccessPurpose, SecurityEventKind, TaskStatus
from pathways.models import AccessLog, EmergencyAccess, SecurityEvent
from tests.conftest import sign_in

EMERGENCY = reverse("pathways:emergency-access")
REASON = "Indlagt akut i nat, skal kende hjemmeplejens aftaler før udskrivelse."


def plan_url(world):
    return reverse("pathways:plan-detail", args=[world.plan.public_id])


def break_glass(client, world, **overrides):
    data = {
        "cpr": world.patient.cpr,
        "organisation": str(world.unrelated.public_id),
        "reason": REASON,
        "confirm": "on",
    } | overrides
    return client.post(EMERGENCY, data)


def test_outsider_gets_404_and_the_refusal_is_a_security_event(client, world):
    sign_in(client, world.outsider)
    response = client.get(plan_url(world))
    assert response.status_code == 404
    assert "Kirsten" not in response.content.decode()
    refusal = SecurityEvent.objects.get(kind=SecurityEventKind.PERMISSION_DENIED, user=world.outsider)
    assert refusal.detail == {"plan": str(world.plan.public_id)}


def test_breaking_the_glass_opens_the_plan_read_only_and_logs_the_reason(client, world):
    sign_in(client, world.outsider)
    response = break_glass(client, world)
    assert response.status_code == 302
    assert response["Location"] == plan_url(world)

    page = client.get(plan_url(world))
    assert page.status_code == 200
    body = page.content.decode()
    assert "Kirsten" in body
    assert page.context["page"].emergency is not None
    assert page.context["page"].rights.can_edit_plan is False
    assert not any(row.can_edit for row in page.context["page"].rows)

    entry = AccessLog.objects.get(actor=world.outsider, patient=world.patient)
    assert entry.purpose == AccessPurpose.EMERGENCY
    assert entry.reason == REASON
    assert entry.organisation == world.unrelated
    assert SecurityEvent.objects.filter(kind=SecurityEventKind.BREAK_GLASS, user=world.outsider).exists()

    # Read only: no status change, no new task, no "what matters".
    task = world.plan.tasks.get()
    change = client.post(
        reverse("pathways:task-status-partial", args=[world.plan.public_id, task.public_id]),
        {"status": TaskStatus.COMPLETED, "version": task.version},
    )
    assert change.status_code == 403
    task.refresh_from_db()
    assert task.status != TaskStatus.COMPLETED
    assert client.get(reverse("pathways:task-create", args=[world.plan.public_id])).status_code == 403

    # Emergency access does not put the patient in the outsider's caseload.
    caseload = client.get(reverse("pathways:caseload"))
    assert "Kirsten" not in caseload.content.decode()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"reason": "fordi"}, "reason"),  # too short to be a reason
        ({"confirm": ""}, "confirm"),
        ({"cpr": "0101011234"}, "cpr"),  # no plan for this number
        ({"cpr": "12345"}, "cpr"),  # not a CPR number
        ({"organisation": "00000000-0000-0000-0000-000000000000"}, "organisation"),  # not theirs
    ],
)
def test_bad_emergency_requests_change_nothing(client, world, overrides, field):
    sign_in(client, world.outsider)
    response = break_glass(client, world, **overrides)
    assert response.status_code == 422
    assert field in response.context["form"].errors
    assert not EmergencyAccess.objects.exists()
    assert client.get(plan_url(world)).status_code == 404


def test_clinician_cannot_break_the_glass_for_another_organisation(client, world):
    sign_in(client, world.outsider)
    response = break_glass(client, world, organisation=str(world.hospital.public_id))
    assert response.status_code == 422
    assert not EmergencyAccess.objects.exists()


def test_administrator_without_a_clinical_role_cannot_break_the_glass(client, world):
    sign_in(client, world.admin)
    assert client.get(EMERGENCY).status_code == 403


def test_participant_needs_no_emergency_access(client, world):
    sign_in(client, world.home_nurse)
    response = break_glass(client, world, organisation=str(world.municipality.public_id))
    assert response.status_code == 302
    assert not EmergencyAccess.objects.exists()


def test_emergency_access_expires(client, world):
    sign_in(client, world.outsider)
    break_glass(client, world)
    EmergencyAccess.objects.update(
        granted_at=timezone.now() - timedelta(hours=5), expires_at=timezone.now() - timedelta(hours=1)
    )
    assert client.get(plan_url(world)).status_code == 404


def test_coordinator_sees_who_opened_the_plan_and_why(client, world):
    outsider = client.__class__()
    sign_in(outsider, world.outsider)
    break_glass(outsider, world)
    outsider.get(plan_url(world))

    sign_in(client, world.coordinator)
    caseload = client.get(reverse("pathways:caseload"))
    alerts = caseload.context["emergency_alerts"]
    assert [a.actor for a in alerts] == [world.outsider]
    assert REASON in caseload.content.decode()

    plan_page = client.get(plan_url(world))
    assert [a.actor for a in plan_page.context["page"].emergency_alerts] == [world.outsider]

    log = client.get(reverse("pathways:plan-access-log", args=[world.plan.public_id]))
    assert log.status_code == 200
    rows = list(log.context["page"])
    emergency_rows = [r for r in rows if r.purpose == AccessPurpose.EMERGENCY]
    assert [r.actor for r in emergency_rows] == [world.outsider]
    assert REASON in log.content.decode()
    # Reading the log is itself logged.
    assert AccessLog.objects.filter(actor=world.coordinator, action=AccessAction.VIEW_ACCESS_LOG).exists()

    grant = EmergencyAccess.objects.get()
    seen = client.post(
        reverse("pathways:emergency-access-acknowledge-partial", args=[grant.public_id]),
        headers={"HX-Request": "true"},
    )
    assert seen.status_code == 200
    grant.refresh_from_db()
    assert grant.acknowledged_by == world.coordinator
    assert client.get(reverse("pathways:caseload")).context["emergency_alerts"] == []


def test_only_the_coordinator_may_mark_an_emergency_access_seen(client, world):
    outsider = client.__class__()
    sign_in(outsider, world.outsider)
    break_glass(outsider, world)
    grant = EmergencyAccess.objects.get()
    sign_in(client, world.home_nurse)
    response = client.post(reverse("pathways:emergency-access-acknowledge-partial", args=[grant.public_id]))
    assert response.status_code == 404
    grant.refresh_from_db()
    assert grant.acknowledged_at is None


def test_other_participants_cannot_read_the_access_log(client, world):
    sign_in(client, world.home_nurse)
    assert client.get(reverse("pathways:plan-access-log", args=[world.plan.public_id])).status_code == 403


def test_the_service_refuses_an_organisation_the_clinician_does_not_work_for(world):
    """The form offers only the clinician's own organisations; the service checks it again, so no
    caller (API, admin, a script) can break the glass on behalf of another organisation."""
    with pytest.raises(PermissionDenied):
        services.emergency_access_open(
            actor=world.outsider,
            organisation=world.hospital,
            cpr=world.patient.cpr,
            reason="Akut indlagt, behøver medicinliste",
        )
    assert not EmergencyAccess.objects.exists()


@pytest.mark.parametrize(
    "next_value", ["Besøg hos Kirsten", "caseload", "//evil.example/", "https://evil.example/"]
)
def test_marking_seen_with_a_next_that_is_no_path_here_goes_to_the_plan(client, world, next_value):
    outsider = client.__class__()
    sign_in(outsider, world.outsider)
    break_glass(outsider, world)
    grant = EmergencyAccess.objects.get()
    sign_in(client, world.coordinator)
    response = client.post(
        reverse("pathways:emergency-access-acknowledge-partial", args=[grant.public_id]), {"next": next_value}
    )
    assert response.status_code == 302
    assert response.url == f"/plans/{world.plan.public_id}/"
