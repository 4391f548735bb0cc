"""The access matrix's rows for relatives: children (merged by tests/test_access_matrix.py, PARTS).

A step of a child's checklist is worked by those who manage the plan's relatives: the plan's coordinator
and staff of every organisation taking part (in the own plan: all four of its roles; in the foreign plan,
which has no coordinator, the outsider's organisation). Everyone else is refused as for a plan they do
not see."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from relatives import services
from relatives.choices import ChecklistStatus, ChildCareStep, Relation
from relatives.models import ChildChecklistItem, Relative

STAFF = ["admin", "coordinator", "hospital_doctor", "home_nurse", "gp_doctor", "outsider"]
IN_PLAN = {"coordinator", "hospital_doctor", "home_nurse", "gp_doctor"}


def _plan_rule(ok: int) -> dict[str, dict[str, int]]:
    return {
        "own": {role: ok if role in IN_PLAN else 404 for role in STAFF} | {"anonymous": 302},
        "other": {role: ok if role == "outsider" else 404 for role in STAFF} | {"anonymous": 302},
    }


def _refused_method() -> dict[str, dict[str, int]]:
    rule = dict.fromkeys(STAFF, 405) | {"anonymous": 302}
    return {"own": rule, "other": rule}


ROWS: dict[str, tuple[str | None, dict[str, Any]]] = {
    # Changes are POST only (answered with the step for htmx, else back to the plan): a GET is refused
    # before anything is looked up.
    "relatives:checklist-item-update-partial": (
        "plan-checklist-item",
        {"GET": _refused_method(), "POST": _plan_rule(302)},
    ),
}


def _child(plan: Any) -> Relative:
    """The plan's child relative, recorded where there is none (with the checklist's rows)."""
    found = Relative.objects.filter(plan=plan, is_child=True).order_by("pk").first()
    return found or services.relative_add(
        actor=None, plan=plan, name="Matrix-barn", relation=Relation.GRANDCHILD, is_child=True, child_age=9
    )


def _item(plan: Any) -> ChildChecklistItem:
    return ChildChecklistItem.objects.get(relative=_child(plan), step=ChildCareStep.CONVERSATION)


BODIES: dict[str, Callable[[Any], dict[str, Any]]] = {
    "relatives:checklist-item-update-partial": lambda asker: {
        "status": ChecklistStatus.DONE,
        "note": "Samtale tilbudt ved hjemmebesøget.",
        "version": ChildChecklistItem.objects.values_list("version", flat=True).get(pk=_item(asker.plan).pk),
    },
}
CHANGES: set[str] = {"relatives:checklist-item-update-partial"}
URL_KINDS: dict[str, Callable[[Any, Any], list[Any]]] = {
    "plan-checklist-item": lambda _world, plan: [plan.public_id, _item(plan).public_id],
}
ADMIN_MODELS: dict[str, tuple[str | None, frozenset[str]]] = {}
ADMIN_ADD_BODIES: dict[str, Callable[[Any], dict[str, Any]]] = {}
ADMIN_ROWS_OF: dict[str, Callable[[Any], Any]] = {}


def build(world: Any) -> None:
    """A child relative with the checklist in each plan (`_child`), made once in the matrix's world."""
    for plan in (world.plan, world.other_plan):
        _child(plan)
