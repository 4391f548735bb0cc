"""Pathway templates: publishing an administrator's edit as a frozen version, making a plan's goals and
tasks from one or more templates (merged by key, no duplicates), the discharge rules' follow-ups, and
"update from template" with a preview. Writes go through pathways.services, so rights, audit trail and
notifications are the hub's."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from pathways import access, outbox, selectors, services
from pathways.choices import (
    PLAN_OPEN_STATUSES,
    TASK_OPEN_STATUSES,
    GoalStatus,
    MunicipalService,
    ResponsibleParty,
    Sector,
    StayClass,
    TaskKind,
    TaskStatus,
    TemplateTrigger,
)
from pathways.models import (
    Goal,
    Organisation,
    PathwayPlan,
    PathwayTemplate,
    PathwayTemplateVersion,
    PlanCondition,
    PlanParticipant,
    PlanTemplate,
    Task,
    TemplateGoal,
    TemplateTask,
    Transition,
    User,
)

logger = logging.getLogger(__name__)

# The fields of a version's content (PathwayTemplateVersion's docstring), in the order they are written.
GOAL_FIELDS = ("key", "description", "expected_result")
TASK_FIELDS = (
    "key",
    "title",
    "description",
    "kind",
    "trigger",
    "responsible",
    "offset_days",
    "window_days",
    "goal_key",
    "depends_on_key",
    "visible_to_patient",
    "after_acute_ambulant",
)
# What of a plan-start task the template decides and "update from template" may change.
_TASK_TEXT_FIELDS = ("title", "description", "kind", "visible_to_patient")
# A task someone has started, finished or turned down is theirs now: an update leaves it alone.
_UNTOUCHED_STATUSES = (TaskStatus.REQUESTED, TaskStatus.ACCEPTED)

_MUNICIPAL_SERVICES = {
    ResponsibleParty.HOME_NURSING: MunicipalService.HOME_NURSING,
    ResponsibleParty.MUNICIPAL_REHABILITATION: MunicipalService.REHABILITATION,
    ResponsibleParty.MUNICIPAL_PREVENTION: MunicipalService.PREVENTION,
}


# --- Content and publishing --------------------------------------------------------------------------


def template_content(template: PathwayTemplate) -> dict[str, Any]:
    """The template's working copy in the shape of a version's content."""
    return {
        "name": template.name,
        "condition": template.condition,
        "icd10_code": template.icd10_code,
        "goals": [
            {name: getattr(goal, name) for name in GOAL_FIELDS}
            for goal in template.goals.order_by("sort_order", "id")
        ],
        "tasks": [
            {name: getattr(task, name) for name in TASK_FIELDS}
            for task in template.tasks.order_by("trigger", "sort_order", "id")
        ],
    }


def _cycle_through(key: str, depends: Mapping[str, str]) -> bool:
    seen = {key}
    current = depends.get(key, "")
    while current:
        if current in seen:
            return True
        seen.add(current)
        current = depends.get(current, "")
    return False


def content_validate(content: Mapping[str, Any]) -> None:
    """Refuse a template whose keys do not hold together: each key once, goals and dependencies by a key
    of the same template, no task waiting for itself through others, and no discharge rule waiting for a
    task made when the plan starts (a follow-up must not wait for something the discharge does not make).
    ValidationError with every problem found."""
    problems: list[str] = []
    goal_keys = [goal["key"] for goal in content.get("goals", [])]
    tasks = list(content.get("tasks", []))
    trigger_of = {task["key"]: task["trigger"] for task in tasks}
    for kind, keys in ((_("goal"), goal_keys), (_("task"), [task["key"] for task in tasks])):
        for key in sorted({k for k in keys if keys.count(k) > 1}):
            problems.append(
                _("The %(kind)s key “%(key)s” is used more than once.") % {"kind": kind, "key": key}
            )
    depends = {task["key"]: task["depends_on_key"] for task in tasks if task.get("depends_on_key")}
    for task in tasks:
        names = {"task": task["title"] or task["key"]}
        goal_key = task.get("goal_key", "")
        if goal_key and goal_key not in goal_keys:
            problems.append(
                _("“%(task)s” names the goal “%(key)s”, which is not in this template.")
                % (names | {"key": goal_key})
            )
        depends_on = task.get("depends_on_key", "")
        if not depends_on:
            continue
        if depends_on not in trigger_of:
            problems.append(
                _("“%(task)s” depends on “%(key)s”, which is not a task in this template.")
                % (names | {"key": depends_on})
            )
        elif (
            task["trigger"] == TemplateTrigger.DISCHARGE
            and trigger_of[depends_on] != TemplateTrigger.DISCHARGE
        ):
            problems.append(
                _(
                    "The discharge rule “%(task)s” cannot depend on “%(key)s”: "
                    "that task is made when the plan starts, not at discharge."
                )
                % (names | {"key": depends_on})
            )
        if _cycle_through(task["key"], depends):
            problems.append(_("“%(task)s” waits for itself through the tasks it depends on.") % names)
    if problems:
        raise ValidationError(problems)


def latest_version(template: PathwayTemplate) -> PathwayTemplateVersion | None:
    return PathwayTemplateVersion.objects.filter(template=template).order_by("-number").first()


@transaction.atomic
def template_publish(*, actor: User | None, template: PathwayTemplate) -> PathwayTemplateVersion | None:
    """Freeze the template as it is now as its next version; None when it is the same as the latest
    (saving without a change publishes nothing). Plans made from earlier versions are not touched: they
    are offered the update (plan_template_update_preview)."""
    locked = PathwayTemplate.objects.select_for_update().get(pk=template.pk)
    content = template_content(locked)
    content_validate(content)
    latest = latest_version(locked)
    if latest is not None and latest.content == content:
        return None
    return PathwayTemplateVersion.objects.create(
        template=locked,
        number=(latest.number if latest else 0) + 1,
        content=content,
        published_by=actor,
    )


# --- Who does it ---------------------------------------------------------------------------------------


def _the_municipality(code: str) -> Organisation | None:
    """The municipality itself (not one of its units)."""
    return (
        Organisation.objects.filter(
            is_active=True, municipality_code=code, municipal_service="", parent__isnull=True
        )
        .order_by("id")
        .first()
    )


def _participant_of_sector(plan: PathwayPlan, sector: Sector) -> Organisation | None:
    return (
        Organisation.objects.filter(is_active=True, sector=sector, participations__plan_id=plan.pk)
        .order_by("participations__id")
        .first()
    )


def responsible_organisation(
    *, plan: PathwayPlan, party: str, hospital: Organisation | None = None
) -> Organisation | None:
    """The organisation a template's `party` means for this plan's patient, None when there is none:
    a municipal service of the patient's home municipality (one already taking part in the plan first),
    else the municipality itself; the patient's GP; `hospital` (the discharging one) or the plan's
    hospital; the plan's psychiatry; the coordinator's organisation."""
    patient = plan.patient
    if party in _MUNICIPAL_SERVICES:
        taking_part = PlanParticipant.objects.filter(plan_id=plan.pk, organisation=OuterRef("pk"))
        unit = (
            Organisation.objects.filter(
                is_active=True,
                municipality_code=patient.home_municipality,
                municipal_service=_MUNICIPAL_SERVICES[ResponsibleParty(party)],
            )
            .annotate(taking_part=Exists(taking_part))
            .order_by("-taking_part", "id")
            .first()
        )
        return unit or _the_municipality(patient.home_municipality)
    if party == ResponsibleParty.HOME_MUNICIPALITY:
        return _the_municipality(patient.home_municipality)
    if party == ResponsibleParty.GENERAL_PRACTICE:
        gp = patient.general_practice
        return gp if gp is not None and gp.is_active else None
    if party == ResponsibleParty.HOSPITAL:
        return hospital if hospital is not None else _participant_of_sector(plan, Sector.HOSPITAL)
    if party == ResponsibleParty.PSYCHIATRY:
        return _participant_of_sector(plan, Sector.PSYCHIATRY)
    if party == ResponsibleParty.COORDINATOR:
        return plan.coordinator_organisation
    return None


# --- Making tasks from template items -------------------------------------------------------------------


@dataclass(frozen=True)
class Skipped:
    """A template item that made no task because its organisation could not be found for the patient."""

    template: str
    key: str
    title: str
    party: str

    @property
    def party_label(self) -> str:
        return str(ResponsibleParty(self.party).label)


class TasksMade(list[Task]):
    """The tasks made, and (`skipped`) the template items for which no organisation was found."""

    def __init__(self, tasks: Iterable[Task] = (), skipped: Iterable[Skipped] = ()) -> None:
        super().__init__(tasks)
        self.skipped = list(skipped)


def _window_start(due: date, window_days: int | None, earliest: date) -> date | None:
    if not window_days:
        return None
    return max(due - timedelta(days=window_days), min(earliest, due))


def _dependency_order(items: dict[str, dict[str, Any]]) -> list[str]:
    """The keys with each one after the key it depends on (when that is among them); the templates are
    validated free of cycles, and a loop across two templates is broken where it closes."""
    ordered: list[str] = []
    placed: set[str] = set()

    def place(key: str, visiting: frozenset[str]) -> None:
        if key in placed or key in visiting:
            return
        depends_on = items[key].get("depends_on_key", "")
        if depends_on in items:
            place(depends_on, visiting | {key})
        placed.add(key)
        ordered.append(key)

    for key in items:
        place(key, frozenset())
    return ordered


def _make_tasks(
    *,
    actor: User | None,
    plan: PathwayPlan,
    items: dict[str, tuple[str, dict[str, Any]]],
    due_of: Mapping[str, date],
    earliest: date,
    goals: Mapping[str, Goal],
    existing: Mapping[str, Task],
    hospital: Organisation | None = None,
    transition: Transition | None = None,
) -> TasksMade:
    """One task per key of `items` (key → (template name, item)), due on `due_of[key]`, in dependency
    order so a task's dependency exists before it; `existing` are the plan's tasks of earlier keys."""
    made: dict[str, Task] = {}
    skipped: list[Skipped] = []
    for key in _dependency_order({k: item for k, (_name, item) in items.items()}):
        name, item = items[key]
        organisation = responsible_organisation(plan=plan, party=item["responsible"], hospital=hospital)
        if organisation is None:
            skipped.append(Skipped(template=name, key=key, title=item["title"], party=item["responsible"]))
            continue
        due = due_of[key]
        depends_key = item.get("depends_on_key", "")
        made[key] = services.task_create(
            # A discharge's follow-ups are the product's doing (the rules say who does what), not that
            # of the person who recorded the discharge: they need not have the right to add the tasks.
            actor=None if transition is not None else actor,
            plan=plan,
            title=item["title"],
            description=item.get("description", ""),
            kind=TaskKind(item.get("kind") or TaskKind.OTHER),
            responsible_organisation=organisation,
            goal=goals.get(item.get("goal_key", "")),
            window_start=_window_start(due, item.get("window_days"), earliest),
            due_date=due,
            visible_to_patient=bool(item.get("visible_to_patient", True)),
            depends_on=made.get(depends_key) or existing.get(depends_key),
            template_key=key,
            created_by_transition=transition,
        )
    return TasksMade(made.values(), skipped)


def _latest_per_template(templates: Iterable[PathwayTemplate]) -> list[PathwayTemplateVersion]:
    versions = []
    for template in templates:
        version = latest_version(template)
        if version is None:
            raise ValidationError(
                _("The template “%(name)s” has not been published yet.") % {"name": template.name}
            )
        versions.append(version)
    return versions


def _plan_goals_by_key(plan: PathwayPlan) -> dict[str, Goal]:
    goals: dict[str, Goal] = {}
    for goal in plan.goals.exclude(template_key="").order_by("id"):
        goals.setdefault(goal.template_key, goal)
    return goals


def _plan_tasks_by_key(plan: PathwayPlan) -> dict[str, Task]:
    """The plan's tasks made from a template item when the plan started (not a discharge's follow-ups),
    by key; the open one when there are several."""
    tasks: dict[str, Task] = {}
    rows = plan.tasks.exclude(template_key="").filter(created_by_transition__isnull=True).order_by("id")
    for task in rows:
        # Several with one key (a task done and made anew by hand): the open one counts.
        earlier = tasks.get(task.template_key)
        if earlier is not None and (
            earlier.status in TASK_OPEN_STATUSES or task.status not in TASK_OPEN_STATUSES
        ):
            continue
        tasks[task.template_key] = task
    return tasks


def _require_editable(actor: User | None, plan: PathwayPlan) -> None:
    if not access.may_change(
        actor, plan, lambda rights: rights.can_edit_plan, admin_permission="pathways.change_pathwayplan"
    ):
        raise PermissionDenied
    if plan.status not in PLAN_OPEN_STATUSES:
        raise ValidationError(_("A closed plan cannot be changed from a template."), code="plan_closed")


def _add_goals(
    *, actor: User | None, plan: PathwayPlan, wanted: Iterable[dict[str, Any]], goals: dict[str, Goal]
) -> list[Goal]:
    added = []
    for item in wanted:
        if item["key"] in goals:
            continue
        goal = services.goal_create(
            actor=actor,
            plan=plan,
            description=item["description"],
            expected_result=item.get("expected_result", ""),
            template_key=item["key"],
        )
        goals[item["key"]] = goal
        added.append(goal)
    return added


def _add_condition(plan: PathwayPlan, content: Mapping[str, Any]) -> None:
    display, code = content.get("condition", ""), content.get("icd10_code", "")
    if not display:
        return
    conditions = plan.conditions.all()
    if conditions.filter(display__iexact=display).exists() or (
        code and conditions.filter(icd10_code__iexact=code).exists()
    ):
        return
    PlanCondition.objects.create(plan=plan, display=display, icd10_code=code)


@transaction.atomic
def plan_templates_apply(
    *,
    actor: User | None,
    plan: PathwayPlan,
    templates: list[PathwayTemplate],
    start: date | None = None,
) -> TasksMade:
    """Put the latest version of each template on the plan: its condition, goals and the tasks made when
    the plan starts (due `offset_days` after `start`, today by default). Several templates merge: one
    goal and one task per key (the earliest due date wins), and nothing the plan already has from a
    template is made again. The plan records each template's version. Tasks whose organisation cannot be
    found for the patient are not made: they are in the result's `skipped`. A template already on the
    plan is left as it is (its newer versions are offered as an update)."""
    locked = PathwayPlan.objects.select_for_update().select_related("patient").get(pk=plan.pk)
    _require_editable(actor, locked)
    start = start or timezone.localdate()
    on_plan = set(PlanTemplate.objects.filter(plan=locked).values_list("template_id", flat=True))
    versions = [v for v in _latest_per_template(templates) if v.template_id not in on_plan]
    goals = _plan_goals_by_key(locked)
    existing = _plan_tasks_by_key(locked)
    items: dict[str, tuple[str, dict[str, Any]]] = {}
    due_of: dict[str, date] = {}
    for version in versions:
        content = version.content
        _add_condition(locked, content)
        _add_goals(actor=actor, plan=locked, wanted=content["goals"], goals=goals)
        for item in content["tasks"]:
            if item["trigger"] != TemplateTrigger.PLAN_START or item["key"] in existing:
                continue
            due = start + timedelta(days=item["offset_days"])
            if item["key"] not in items or due < due_of[item["key"]]:
                items[item["key"]] = (content["name"], item)
                due_of[item["key"]] = due
    made = _make_tasks(
        actor=actor, plan=locked, items=items, due_of=due_of, earliest=start, goals=goals, existing=existing
    )
    PlanTemplate.objects.bulk_create(
        PlanTemplate(
            plan=locked, template_id=version.template_id, version=version, start_date=start, applied_by=actor
        )
        for version in versions
    )
    return made


# --- Discharge follow-ups -------------------------------------------------------------------------------


def discharge_rules(plan: PathwayPlan, stay_class: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """The discharge rules of the plan's templates (as their recorded versions have them), one per key
    (the earliest deadline wins); after an acute ambulant stay only those marked for it."""
    rules: dict[str, tuple[str, dict[str, Any]]] = {}
    for row in PlanTemplate.objects.filter(plan=plan).select_related("version").order_by("id"):
        content = row.version.content
        for item in content["tasks"]:
            if item["trigger"] != TemplateTrigger.DISCHARGE:
                continue
            if stay_class == StayClass.ACUTE_AMBULANT and not item.get("after_acute_ambulant"):
                continue
            known = rules.get(item["key"])
            if known is None or item["offset_days"] < known[1]["offset_days"]:
                rules[item["key"]] = (content["name"], item)
    return rules


@transaction.atomic
def followups_create(
    *,
    actor: User | None,
    plan: PathwayPlan,
    transition: Transition,
    discharge_day: date,
    stay_class: str,
    hospital: Organisation,
) -> list[Task]:
    """The follow-ups a discharge creates: the discharge rules of the plan's templates, one task per key,
    due `offset_days` after `discharge_day`, each assigned to the organisation its rule names for this
    patient (`hospital`: the discharging one) and marked as made by `transition`. A rule whose
    organisation cannot be found makes nothing (logged, without patient data). Called again for the same
    transition it makes nothing new. The caller has checked that `actor` may record the discharge."""
    locked = PathwayPlan.objects.select_for_update().select_related("patient").get(pk=plan.pk)
    # A follow-up waits only for another follow-up of the same discharge.
    existing = {
        task.template_key: task
        for task in Task.objects.filter(plan=locked, created_by_transition=transition).order_by("id")
    }
    rules = {key: rule for key, rule in discharge_rules(locked, stay_class).items() if key not in existing}
    if not rules:
        return []
    made = _make_tasks(
        actor=actor,
        plan=locked,
        items=rules,
        due_of={
            key: discharge_day + timedelta(days=item["offset_days"]) for key, (_n, item) in rules.items()
        },
        earliest=discharge_day,
        goals=_plan_goals_by_key(locked),
        existing=existing,
        hospital=hospital,
        transition=transition,
    )
    for skipped in made.skipped:
        logger.warning(
            "discharge rule %s skipped: no organisation for %s (transition %s)",
            skipped.key,
            skipped.party,
            transition.public_id,
        )
    outbox.tasks_assigned_to_organisations(tasks=made)
    return list(made)


# --- Update from template --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemChange:
    """A goal, task or discharge rule that differs between the plan's version and the latest: `before`
    None when it is new, `after` None when it was taken out. For a plan-start task, `task` is the plan's
    task of that key and `will_update` whether the update changes it (it is still as the old version made
    it: not started, not reworded, not re-dated)."""

    key: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    task: Task | None = None
    goal: Goal | None = None
    will_update: bool = False

    @property
    def title(self) -> str:
        item = self.after or self.before or {}
        return str(item.get("title") or item.get("description") or self.key)

    @property
    def item(self) -> dict[str, Any]:
        return self.after or self.before or {}

    @property
    def changed_fields(self) -> list[str]:
        if self.before is None or self.after is None:
            return []
        return [name for name in self.after if name != "key" and self.before.get(name) != self.after[name]]

    @property
    def changed_labels(self) -> list[str]:
        """The changed fields as the admin names them."""
        model = TemplateTask if "title" in self.item else TemplateGoal
        return [
            str(getattr(model._meta.get_field(name), "verbose_name", name)) for name in self.changed_fields
        ]

    @property
    def responsible_label(self) -> str:
        party = self.item.get("responsible", "")
        return str(ResponsibleParty(party).label) if party in ResponsibleParty.values else ""

    @property
    def kind_label(self) -> str:
        kind = self.item.get("kind", "")
        return str(TaskKind(kind).label) if kind in TaskKind.values else ""


@dataclass
class TemplateUpdate:
    """What updating the plan to the template's latest version would do."""

    plan_template: PlanTemplate
    latest: PathwayTemplateVersion
    condition: str = ""  # the condition the plan would get (empty: none new)
    added_goals: list[ItemChange] = field(default_factory=list)
    changed_goals: list[ItemChange] = field(default_factory=list)
    added_tasks: list[ItemChange] = field(default_factory=list)
    changed_tasks: list[ItemChange] = field(default_factory=list)
    # Taken out of the template: never deleted from the plan; people decide.
    removed_tasks: list[ItemChange] = field(default_factory=list)
    # Added, changed or taken out; they act at the next discharge.
    changed_rules: list[ItemChange] = field(default_factory=list)

    @property
    def template(self) -> PathwayTemplate:
        return self.plan_template.template

    @property
    def current(self) -> PathwayTemplateVersion:
        return self.plan_template.version

    @property
    def has_changes(self) -> bool:
        return bool(
            self.condition
            or self.added_goals
            or self.changed_goals
            or self.added_tasks
            or self.changed_tasks
            or self.removed_tasks
            or self.changed_rules
        )


def _by_key(items: Iterable[dict[str, Any]], trigger: str | None = None) -> dict[str, dict[str, Any]]:
    return {item["key"]: item for item in items if trigger is None or item["trigger"] == trigger}


def _expected_window(due: date, window_days: int | None, start: date) -> date | None:
    return _window_start(due, window_days, start)


def _as_made(task: Task, item: Mapping[str, Any], start: date) -> bool:
    """Whether the plan's task is still as the template item made it: not started, same text and dates."""
    if task.status not in _UNTOUCHED_STATUSES:
        return False
    if any(getattr(task, name) != item.get(name, getattr(task, name)) for name in _TASK_TEXT_FIELDS):
        return False
    due = start + timedelta(days=item["offset_days"])
    return task.due_date == due and task.window_start == _expected_window(due, item.get("window_days"), start)


def _goal_as_made(goal: Goal, item: Mapping[str, Any]) -> bool:
    return (
        goal.status in (GoalStatus.PROPOSED, GoalStatus.ACTIVE)
        and goal.description == item["description"]
        and goal.expected_result == item.get("expected_result", "")
    )


def _update_of(row: PlanTemplate, latest: PathwayTemplateVersion, plan: PathwayPlan) -> TemplateUpdate:
    old, new = row.version.content, latest.content
    update = TemplateUpdate(plan_template=row, latest=latest)
    condition = new.get("condition", "")
    if (
        condition
        and condition != old.get("condition")
        and not plan.conditions.filter(display__iexact=condition).exists()
    ):
        update.condition = condition
    goals = _plan_goals_by_key(plan)
    old_goals, new_goals = _by_key(old["goals"]), _by_key(new["goals"])
    for key, item in new_goals.items():
        before = old_goals.get(key)
        if before is None:
            if key not in goals:
                update.added_goals.append(ItemChange(key=key, before=None, after=item))
        elif before != item:
            goal = goals.get(key)
            will = goal is not None and _goal_as_made(goal, before)
            update.changed_goals.append(ItemChange(key, before, item, goal=goal, will_update=will))
    tasks = _plan_tasks_by_key(plan)
    old_tasks = _by_key(old["tasks"], TemplateTrigger.PLAN_START)
    new_tasks = _by_key(new["tasks"], TemplateTrigger.PLAN_START)
    for key, item in new_tasks.items():
        before = old_tasks.get(key)
        task = tasks.get(key)
        if before is None:
            if task is None:
                update.added_tasks.append(ItemChange(key=key, before=None, after=item))
        elif before != item:
            will = task is not None and _as_made(task, before, row.start_date)
            update.changed_tasks.append(ItemChange(key, before, item, task=task, will_update=will))
    for key, before in old_tasks.items():
        if key not in new_tasks:
            update.removed_tasks.append(ItemChange(key, before, None, task=tasks.get(key)))
    old_rules = _by_key(old["tasks"], TemplateTrigger.DISCHARGE)
    new_rules = _by_key(new["tasks"], TemplateTrigger.DISCHARGE)
    for key in [*new_rules, *(k for k in old_rules if k not in new_rules)]:
        if old_rules.get(key) != new_rules.get(key):
            update.changed_rules.append(ItemChange(key, old_rules.get(key), new_rules.get(key)))
    return update


def plan_template_update_preview(*, plan: PathwayPlan) -> list[TemplateUpdate]:
    """For each of the plan's templates with a newer version than the plan's: what the update would add
    and change, what the template no longer has (left on the plan for people to decide) and which
    discharge rules change. Reads only; the caller has the plan through the access policy."""
    updates = []
    for row in selectors.plan_templates_of(plan):
        if row.has_update:
            latest = PathwayTemplateVersion.objects.get(template_id=row.template.pk, number=row.latest_number)
            updates.append(_update_of(row.plan_template, latest, plan))
    return updates


@dataclass
class TemplateUpdateDone:
    added: list[Task] = field(default_factory=list)
    updated: list[Task] = field(default_factory=list)
    goals_added: list[Goal] = field(default_factory=list)
    goals_updated: list[Goal] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    # Tasks the update left as they are (changed in the template, but someone has made them their own).
    kept: list[ItemChange] = field(default_factory=list)
    version: PathwayTemplateVersion | None = None


def _update_task(
    actor: User | None, plan: PathwayPlan, change: ItemChange, start: date, goals: Mapping[str, Goal]
) -> Task:
    assert change.task is not None
    assert change.after is not None
    assert change.before is not None
    task, item = change.task, change.after
    organisation = task.responsible_organisation
    if item["responsible"] != change.before["responsible"]:
        organisation = responsible_organisation(plan=plan, party=item["responsible"]) or organisation
    due = start + timedelta(days=item["offset_days"])
    depends_on = task.depends_on
    if item.get("depends_on_key", "") != change.before.get("depends_on_key", ""):
        depends_on = _plan_tasks_by_key(plan).get(item.get("depends_on_key", ""))
    goal = task.goal
    if item.get("goal_key", "") != change.before.get("goal_key", ""):
        goal = goals.get(item.get("goal_key", ""))
    return services.task_update(
        actor=actor,
        task=task,
        expected_version=task.version,
        title=item["title"],
        kind=TaskKind(item.get("kind") or TaskKind.OTHER),
        responsible_organisation=organisation,
        responsible_person=task.responsible_person
        if organisation.pk == task.responsible_organisation_id
        else None,
        window_start=_expected_window(due, item.get("window_days"), start),
        due_date=due,
        description=item.get("description", ""),
        goal=goal,
        depends_on=depends_on,
        visible_to_patient=bool(item.get("visible_to_patient", True)),
    )


@transaction.atomic
def plan_template_update_apply(
    *, actor: User | None, plan: PathwayPlan, template: PathwayTemplate, expected_version_number: int
) -> TemplateUpdateDone:
    """Update the plan to the template's latest version, as previewed: add its new goals and tasks,
    change the tasks (and goals) still as the old version made them, delete nothing (what the template
    no longer has stays for people to decide) and record the new version (the discharge rules of the
    new version act from the next discharge). `expected_version_number` is the version the preview
    showed: a newer one published since is refused (ValidationError), so nobody applies what they have
    not seen. Applying again changes nothing."""
    locked = PathwayPlan.objects.select_for_update().select_related("patient").get(pk=plan.pk)
    _require_editable(actor, locked)
    row = (
        PlanTemplate.objects.select_for_update()
        .select_related("template", "version")
        .filter(plan=locked, template=template)
        .first()
    )
    if row is None:
        raise ValidationError(_("The plan was not made from this template."), code="not_on_plan")
    latest = latest_version(template)
    assert latest is not None  # the plan's version is one
    if row.version_id == latest.pk:
        return TemplateUpdateDone(version=latest)
    if latest.number != expected_version_number:
        raise ValidationError(
            _("The template has changed again since you looked. See what the update does now."),
            code="template_changed",
        )
    update = _update_of(row, latest, locked)
    done = TemplateUpdateDone(version=latest)
    _add_condition(
        locked, {"condition": update.condition, "icd10_code": latest.content.get("icd10_code", "")}
    )
    goals = _plan_goals_by_key(locked)
    done.goals_added = _add_goals(
        actor=actor, plan=locked, wanted=[c.after for c in update.added_goals if c.after], goals=goals
    )
    for change in update.changed_goals:
        if change.will_update and change.goal is not None and change.after is not None:
            done.goals_updated.append(
                services.goal_update(
                    actor=actor,
                    goal=change.goal,
                    expected_version=change.goal.version,
                    description=change.after["description"],
                    expected_result=change.after.get("expected_result", ""),
                    target_date=change.goal.target_date,
                    status=GoalStatus(change.goal.status),
                )
            )
    today = timezone.localdate()
    items = {c.key: (latest.content["name"], c.after) for c in update.added_tasks if c.after}
    made = _make_tasks(
        actor=actor,
        plan=locked,
        items=items,
        # A task new in the template is due as if it had been there from the start, but not in the past.
        due_of={
            key: max(row.start_date + timedelta(days=item["offset_days"]), today)
            for key, (_name, item) in items.items()
        },
        earliest=today,
        goals=goals,
        existing=_plan_tasks_by_key(locked),
    )
    done.added, done.skipped = list(made), made.skipped
    for change in update.changed_tasks:
        if change.will_update:
            done.updated.append(_update_task(actor, locked, change, row.start_date, goals))
        else:
            done.kept.append(change)
    row.version = latest
    row.applied_at = timezone.now()
    row.applied_by = actor
    row.save(update_fields=["version", "applied_at", "applied_by"])
    return done
