"""The access matrix's rows for relatives: consent (merged by tests/test_access_matrix.py, PARTS).

Everyone who sees a plan reads its relatives and the patient's decisions; the plan's coordinator and staff
acting for an organisation taking part add and change them (in the world's own plan: all its sectors;
in the foreign plan, which has no coordinator: the outsider's organisation). No one else gets in (404)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils import timezone

from relatives import services
from relatives.choices import ConsentDecider, ConsentMethod, ConsentScope, Relation, RelativeChannel
from relatives.models import Relative

STAFF = ["admin", "coordinator", "hospital_doctor", "home_nurse", "gp_doctor", "outsider"]
# The roles who see the world's own plan (Kirsten's): its three sectors and its coordinator.
IN_PLAN = {"coordinator", "hospital_doctor", "home_nurse", "gp_doctor"}
NAME = "Matrix Pårørende"


def _plan_rule(ok: int) -> dict[str, dict[str, int]]:
    """Own plan: every organisation taking part; foreign plan: only the outsider's."""
    return {
        "own": {role: ok if role in IN_PLAN else 404 for role in STAFF} | {"anonymous": 302},
        "other": {role: ok if role == "outsider" else 404 for role in STAFF} | {"anonymous": 302},
    }


ROWS: dict[str, tuple[str | None, dict[str, Any]]] = {
    "relatives:relative-create": ("plan", {"GET": _plan_rule(200), "POST": _plan_rule(302)}),
    # Reading a relative and the patient's decisions about them is a logged read of the plan.
    "relatives:relative-detail": ("plan-relative-consent", {"GET": _plan_rule(200)}),
    "relatives:relative-update": ("plan-relative-consent", {"GET": _plan_rule(200), "POST": _plan_rule(302)}),
    "relatives:relative-remove": ("plan-relative-consent", {"GET": _plan_rule(200), "POST": _plan_rule(302)}),
    "relatives:consent-record": ("plan-relative-consent", {"GET": _plan_rule(200), "POST": _plan_rule(302)}),
    "relatives:consent-revoke": ("plan-relative-consent", {"GET": _plan_rule(200), "POST": _plan_rule(302)}),
}


def _relative(plan: Any) -> Relative:
    """The plan's matrix relative, with the patient's consent to the whole plan (made where there is none,
    as build() makes them)."""
    found = plan.relatives.filter(name=NAME).first()
    if found is not None:
        return found
    return services.relative_add(
        actor=None,
        plan=plan,
        name=NAME,
        relation=Relation.SPOUSE,
        phone="22 41 63 18",
        preferred_channel=RelativeChannel.SMS,
        consent={"scope": ConsentScope.WHOLE_PLAN, "method": ConsentMethod.SPOKEN, "coercion_checked": True},
    )


def _version(relative: Relative) -> int:
    return Relative.objects.values_list("version", flat=True).get(pk=relative.pk)


def _opened_on(relative: Relative) -> str:
    """The decision form's hidden field: the decision it was opened on (the one that counts now)."""
    current = relative.latest_consent()
    return str(current.public_id) if current else services.NO_DECISION


def _relative_body(asker: Any) -> dict[str, Any]:
    relative = _relative(asker.plan)
    return {
        "name": "Matrix Pårørende Hansen",
        "relation": Relation.SPOUSE,
        "phone": relative.phone,
        "preferred_channel": RelativeChannel.SMS,
        "language": "da",
        "version": _version(relative),
    }


BODIES: dict[str, Callable[[Any], dict[str, Any]]] = {
    "relatives:relative-create": lambda _: {
        "name": "Ny Pårørende",
        "relation": Relation.CHILD,
        "phone": "22 33 44 55",
        "preferred_channel": RelativeChannel.SMS,
        "language": "da",
    },
    "relatives:relative-update": _relative_body,
    "relatives:relative-remove": lambda asker: {"confirm": "on", "version": _version(_relative(asker.plan))},
    "relatives:consent-record": lambda asker: {
        "expected_decision": _opened_on(_relative(asker.plan)),
        "scope": ConsentScope.APPOINTMENTS,
        "method": ConsentMethod.SPOKEN,
        "coercion_checked": "on",
        "decided_by": ConsentDecider.PATIENT,
        "valid_from": timezone.localdate().isoformat(),
    },
    "relatives:consent-revoke": lambda _: {"method": ConsentMethod.SPOKEN, "confirm": "on"},
}
CHANGES: set[str] = set(BODIES)
URL_KINDS: dict[str, Callable[[Any, Any], list[Any]]] = {
    "plan-relative-consent": lambda _world, plan: [plan.public_id, _relative(plan).public_id],
}
# Relatives and the patient's decisions are read and written on the plan's pages only (not in the admin).
ADMIN_MODELS: dict[str, tuple[str | None, frozenset[str]]] = {}
ADMIN_ADD_BODIES: dict[str, Callable[[Any], dict[str, Any]]] = {}
ADMIN_ROWS_OF: dict[str, Callable[[Any], Any]] = {}


def build(world: Any) -> None:
    """A relative with consent to the whole plan in each plan (`_relative`), made once in the world."""
    for plan in (world.plan, world.other_plan):
        _relative(plan)
