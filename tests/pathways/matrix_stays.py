"""The access matrix's rows for stays (issue 12) (merged by tests/test_access_matrix.py,
see its PARTS).

Hospital events are recorded, corrected and cancelled by hand by staff acting for a hospital or psychiatry
organisation taking part in the plan: in the world's own plan the hospital doctor. The plan's other sectors
and its coordinator are refused (403); those outside the plan see nothing (404). The foreign plan has no
hospital taking part: its outsider is refused too.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.utils import timezone

from pathways import stays
from pathways.choices import StayClass, TransitionKind, TransitionSource, TransitionState
from pathways.models import Organisation, Transition

STAFF = ["admin", "coordinator", "hospital_doctor", "home_nurse", "gp_doctor", "outsider"]
IN_PLAN = {"coordinator", "hospital_doctor", "home_nurse", "gp_doctor"}


def _everyone(status: int, anonymous: int = 302) -> dict[str, int]:
    return dict.fromkeys(STAFF, status) | {"anonymous": anonymous}


def _hospital_only(ok: int) -> dict[str, dict[str, int]]:
    """Own plan: only the hospital doctor; the plan's other sectors 403, the rest 404. Foreign plan: the
    outsider takes part but records for no hospital (403), everyone else 404."""
    return {
        "own": {role: 403 if role in IN_PLAN else 404 for role in STAFF}
        | {"hospital_doctor": ok, "anonymous": 302},
        "other": {role: 403 if role == "outsider" else 404 for role in STAFF} | {"anonymous": 302},
    }


ROWS: dict[str, tuple[str | None, dict[str, Any]]] = {
    "pathways:stay-event-record-partial": (
        "plan",
        {"GET": _hospital_only(200), "POST": _hospital_only(302)},
    ),
    "pathways:stay-event-correct-partial": (
        "plan-transition",
        {"GET": _hospital_only(200), "POST": _hospital_only(302)},
    ),
    "pathways:stay-event-cancel-partial": (
        "plan-transition",
        {"GET": _hospital_only(200), "POST": _hospital_only(302)},
    ),
}


def _when(body_hours_ago: float) -> dict[str, str]:
    moment = timezone.localtime(timezone.now() - timedelta(hours=body_hours_ago))
    return {"day": moment.date().isoformat(), "time": moment.strftime("%H:%M")}


def _transition(plan: Any) -> Transition:
    """The plan's admission entered by hand two days ago (made where there is none, as build() makes
    them, by the product, so that any plan gets one)."""
    found = (
        Transition.objects.filter(
            plan=plan,
            source=TransitionSource.MANUAL,
            kind=TransitionKind.ADMISSION,
            state=TransitionState.APPLIED,
        )
        .order_by("pk")
        .first()
    )
    if found is not None:
        return found
    hospital = (
        Organisation.objects.filter(participations__plan=plan, sector="hospital").order_by("pk").first()
        or Organisation.objects.filter(sector="hospital").order_by("pk").first()
    )
    assert hospital is not None
    return stays.transition_record(
        actor=None,
        patient=plan.patient,
        kind=TransitionKind.ADMISSION,
        occurred_at=timezone.now() - timedelta(days=2),
        hospital=hospital,
        source=TransitionSource.MANUAL,
    )


BODIES: dict[str, Callable[[Any], dict[str, Any]]] = {
    # A new acute ambulant stay (it takes over the open stay from build(); a second admission to the same
    # place by hand is refused), so a let-in POST changes.
    "pathways:stay-event-record-partial": lambda asker: (
        _when(1)
        | {
            "event": "admission",
            "stay_class": StayClass.ACUTE_AMBULANT,
            "hospital": asker.world.hospital.public_id,
            "note": "Matrix",
        }
    ),
    "pathways:stay-event-correct-partial": lambda _asker: _when(30) | {"note": "Rettet tidspunkt"},
    "pathways:stay-event-cancel-partial": lambda _asker: {"note": "Forkert patient"},
}
CHANGES: set[str] = {
    "pathways:stay-event-record-partial",
    "pathways:stay-event-correct-partial",
    "pathways:stay-event-cancel-partial",
}
URL_KINDS: dict[str, Callable[[Any, Any], list[Any]]] = {
    "plan-transition": lambda _world, plan: [plan.public_id, _transition(plan).public_id],
}
# admin model ("app_model") → (the ADMIN_ROWS_OF name its object URLs use or None, what an
# administrator may do besides reading: a frozenset of "add", "change", "delete")
ADMIN_MODELS: dict[str, tuple[str | None, frozenset[str]]] = {}
ADMIN_ADD_BODIES: dict[str, Callable[[Any], dict[str, Any]]] = {}
ADMIN_ROWS_OF: dict[str, Callable[[Any], Any]] = {}


def build(world: Any) -> None:
    """An admission entered by hand in each plan, two days ago."""
    for plan in (world.plan, world.other_plan):
        _transition(plan)
