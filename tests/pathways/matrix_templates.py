"""The access matrix's rows for templates (issue 12) (merged by tests/test_access_matrix.py,
see its PARTS)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from pathways import pathway_templates
from pathways.choices import ResponsibleParty, TaskKind, TemplateTrigger
from pathways.models import PathwayTemplate, PathwayTemplateVersion, PlanTemplate, TemplateTask

STAFF = ["admin", "coordinator", "hospital_doctor", "home_nurse", "gp_doctor", "outsider"]
IN_PLAN = {"coordinator", "hospital_doctor", "home_nurse", "gp_doctor"}
CODE = "matrix-skabelon"


def _everyone(status: int, anonymous: int = 302) -> dict[str, int]:
    return dict.fromkeys(STAFF, status) | {"anonymous": anonymous}


def _plan_editors(ok: int) -> dict[str, dict[str, int]]:
    """Those who may edit the plan: its coordinator; the plan's other sectors are refused, outsiders see
    nothing. The foreign plan has no coordinator: the outsider sees it but may not update it."""
    return {
        "own": {role: 403 if role in IN_PLAN else 404 for role in STAFF}
        | {"coordinator": ok, "anonymous": 302},
        "other": {role: 403 if role == "outsider" else 404 for role in STAFF} | {"anonymous": 302},
    }


ROWS: dict[str, tuple[str | None, dict[str, Any]]] = {
    # The preview of "update from template" and the update: for those who may edit the plan.
    "pathways:plan-template-update": (
        "plan-template",
        {"GET": _plan_editors(200), "POST": _plan_editors(302)},
    ),
}
BODIES: dict[str, Callable[[Any], dict[str, Any]]] = {
    "pathways:plan-template-update": lambda _asker: {"version": str(_template().versions.count())},
}
CHANGES: set[str] = {"pathways:plan-template-update"}
URL_KINDS: dict[str, Callable[[Any, Any], list[Any]]] = {
    "plan-template": lambda _world, plan: [plan.public_id, _on_plan(plan).public_id],
}
# admin model ("app_model") → (the ADMIN_ROWS_OF name its object URLs use or None, what an
# administrator may do besides reading: a frozenset of "add", "change", "delete")
ADMIN_MODELS: dict[str, tuple[str | None, frozenset[str]]] = {
    # Edited (and so published) in the admin; retired by no longer offering it, never deleted: plans
    # record the versions they were made from.
    "pathways_pathwaytemplate": ("template", frozenset({"add", "change"})),
    # A published version is frozen.
    "pathways_pathwaytemplateversion": ("template_version", frozenset()),
}


def _inline(prefix: str) -> dict[str, str]:
    return {f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"}


ADMIN_ADD_BODIES: dict[str, Callable[[Any], dict[str, Any]]] = {
    "pathways_pathwaytemplate": lambda _world: {
        "code": "matrix-ny",
        "name": "Ny skabelon",
        "is_active": "on",
        **_inline("goals"),
        **_inline("plan_start_tasks"),
        **_inline("discharge_rules"),
        **_inline("versions"),
    },
}
ADMIN_ROWS_OF: dict[str, Callable[[Any], Any]] = {
    "template": lambda _world: _template(),
    "template_version": lambda _world: _template().versions.order_by("number").first(),
}


def _template() -> PathwayTemplate:
    """The matrix's template (made where the world has none, e.g. tests/test_hostile_input.py's): version 1
    with a task for the patient's GP, version 2 adding one for the patient's home nursing."""
    template = PathwayTemplate.objects.filter(code=CODE).first()
    if template is not None:
        return template
    template = PathwayTemplate.objects.create(code=CODE, name="Matrixskabelon")
    for key, title, kind, party, offset in (
        ("kontrol", "Kontrol", TaskKind.APPOINTMENT, ResponsibleParty.GENERAL_PRACTICE, 30),
        ("besoeg", "Besøg", TaskKind.HOME_VISIT, ResponsibleParty.HOME_NURSING, 14),
    ):
        TemplateTask.objects.create(
            template=template,
            key=key,
            title=title,
            kind=kind,
            trigger=TemplateTrigger.PLAN_START,
            responsible=party,
            offset_days=offset,
        )
        version = pathway_templates.template_publish(actor=None, template=template)
        assert isinstance(version, PathwayTemplateVersion)
    return template


def _on_plan(plan: Any) -> PathwayTemplate:
    """The matrix's template on the plan at version 1, so version 2 is offered as an update."""
    template = _template()
    if not PlanTemplate.objects.filter(plan=plan, template=template).exists():
        PlanTemplate.objects.create(
            plan=plan, template=template, version=template.versions.get(number=1), start_date=date.today()
        )
    return template


def build(world: Any) -> None:
    """The template on both plans, one version behind: the preview has something to show and the update
    something to do (a task for the patient's home nursing, which either plan's patient has)."""
    for plan in (world.plan, world.other_plan):
        _on_plan(plan)
