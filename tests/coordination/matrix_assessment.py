"""The access matrix's rows for the need assessment and coordinator handover (merged by
tests/test_access_matrix.py; see its PARTS)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.utils import timezone

from coordination import services
from coordination.choices import NeedCriterion, NeedOutcome
from coordination.models import CoordinatorHandover, NeedAssessment
from pathways.choices import MembershipRole
from pathways.models import PathwayPlan, User
from tests.conftest import make_user

_STAFF = ["admin", "coordinator", "hospital_doctor", "home_nurse", "gp_doctor", "outsider"]
_IN_PLAN = {"coordinator", "hospital_doctor", "home_nurse", "gp_doctor"}

# Made by build(): a coordinator of the hospital (a substitute for the own plan) and of the outsider's
# organisation (the first coordinator of the foreign plan, which has none).
HOSPITAL_COORDINATOR = "matrix_hospital_coordinator"
UNRELATED_COORDINATOR = "matrix_unrelated_coordinator"


def _participants(ok: int) -> dict[str, dict[str, int]]:
    """Every participant of a plan assesses its need for a coordinator: the own plan's sectors, the
    foreign plan's outsider. Others see no plan (404)."""
    return {
        "own": {role: ok if role in _IN_PLAN else 404 for role in _STAFF} | {"anonymous": 302},
        "other": {role: ok if role == "outsider" else 404 for role in _STAFF} | {"anonymous": 302},
    }


def _hands_over(ok: int) -> dict[str, dict[str, int]]:
    """The own plan's coordinator hands over; its other sectors are refused. The foreign plan has no
    coordinator: the organisation taking part (the outsider's) assigns the first."""
    return {
        "own": dict.fromkeys(_STAFF, 404)
        | {"coordinator": ok, "hospital_doctor": 403, "home_nurse": 403, "gp_doctor": 403, "anonymous": 302},
        "other": {role: ok if role == "outsider" else 404 for role in _STAFF} | {"anonymous": 302},
    }


ROWS: dict[str, tuple[str | None, dict[str, Any]]] = {
    "coordination:need-assessment": ("plan", {"GET": _participants(200), "POST": _participants(302)}),
    "coordination:coordinator-handover": ("plan", {"GET": _hands_over(200), "POST": _hands_over(302)}),
}


def _version(plan: PathwayPlan) -> int:
    return PathwayPlan.objects.values_list("version", flat=True).get(pk=plan.pk)


def _assessment_body(asker: Any) -> dict[str, Any]:
    today = timezone.localdate()
    return {
        "organisation": asker.organisation.public_id,
        "assessed_on": today.isoformat(),
        "patient_present": "yes",
        "criteria": NeedCriterion.PATIENT_WISH,
        "unplanned_admissions_12m": "1",
        "outcome": NeedOutcome.NEEDS_COORDINATOR,
        "note": "",
        "review_date": (today + timedelta(days=180)).isoformat(),
    }


def _handover_body(asker: Any) -> dict[str, Any]:
    """The own plan: its coordinator takes the hospital's coordinator as substitute. The foreign plan: the
    outsider's organisation's coordinator becomes its first coordinator."""
    world, plan = asker.world, asker.plan
    if plan.pk == world.plan.pk:
        coordinator, organisation = world.coordinator, world.municipality
        substitute = str(User.objects.get(username=HOSPITAL_COORDINATOR).public_id)
    else:
        coordinator, organisation = User.objects.get(username=UNRELATED_COORDINATOR), world.unrelated
        substitute = ""
    return {
        "coordinator": coordinator.public_id,
        "organisation": organisation.public_id,
        "substitute": substitute,
        "phone": "",
        "note": "Overdraget i matrixtesten.",
        "version": _version(plan),
    }


BODIES: dict[str, Callable[[Any], dict[str, Any]]] = {
    "coordination:need-assessment": _assessment_body,
    "coordination:coordinator-handover": _handover_body,
}
CHANGES: set[str] = {"coordination:need-assessment", "coordination:coordinator-handover"}
URL_KINDS: dict[str, Callable[[Any, Any], list[Any]]] = {}
# admin model ("app_model") → (the ADMIN_ROWS_OF name its object URLs use or None, what an
# administrator may do besides reading: a frozenset of "add", "change", "delete")
# Assessments and handovers are made on the plan page; the admin only reads them (logged).
ADMIN_MODELS: dict[str, tuple[str | None, frozenset[str]]] = {
    "coordination_needassessment": ("need_assessment", frozenset()),
    "coordination_coordinatorhandover": ("coordinator_handover", frozenset()),
}
ADMIN_ADD_BODIES: dict[str, Callable[[Any], dict[str, Any]]] = {}
ADMIN_ROWS_OF: dict[str, Callable[[Any], Any]] = {
    "need_assessment": lambda world: NeedAssessment.objects.filter(plan=world.plan).order_by("pk")[0],
    "coordinator_handover": lambda world: CoordinatorHandover.objects.filter(plan=world.plan).order_by("pk")[
        0
    ],
}


def build(world: Any) -> None:
    """The objects this part's URLs point at, made once in the matrix's world."""
    make_user(HOSPITAL_COORDINATOR, world.hospital, MembershipRole.COORDINATOR)
    make_user(UNRELATED_COORDINATOR, world.unrelated, MembershipRole.COORDINATOR)
    today = timezone.localdate()
    services.need_assessment_record(
        actor=world.coordinator,
        plan=world.plan,
        organisation=world.municipality,
        assessed_on=today,
        patient_present=True,
        criteria=[NeedCriterion.MULTIMORBIDITY, NeedCriterion.REPEATED_ADMISSIONS],
        unplanned_admissions_12m=3,
        outcome=NeedOutcome.NEEDS_COORDINATOR,
        note="",
        review_date=today + timedelta(days=180),
    )
    # A handover on record (the plan as it stands: the admin's rows read it; the plan is not changed).
    CoordinatorHandover.objects.create(
        plan=world.plan,
        to_coordinator=world.coordinator,
        organisation=world.municipality,
        handed_over_by=world.coordinator,
        note="Første koordinator.",
    )
