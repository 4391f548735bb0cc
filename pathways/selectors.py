"""Reads for the staff pages. Each starts from access.py and fetches what its page shows in a
constant number of queries, whatever the number of patients, tasks or organisations."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any
from uuid import UUID

from django.db.models import (
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from pathways import access, extensions
from pathways.choices import (
    PLAN_OPEN_STATUSES,
    TASK_OPEN_STATUSES,
    TASK_TRANSITIONS,
    AccessAction,
    Sector,
    TaskStatus,
)
from pathways.history import HistoryEntry, history_entries, plan_history_models
from pathways.models import (
    AccessLog,
    AuditEvent,
    EmergencyAccess,
    Goal,
    Notification,
    Organisation,
    PathwayPlan,
    PlanCondition,
    PlanParticipant,
    Task,
    User,
    event_model_label,
)

CASELOAD_SORTS: dict[str, tuple[Any, ...]] = {
    "name": ("patient__family_name", "patient__given_name", "id"),
    "overdue": (F("overdue_count").desc(), "patient__family_name", "id"),
    "next": (F("next_task_due").asc(nulls_last=True), "patient__family_name", "id"),
    "changed": ("-updated_at", "id"),
    "age": ("patient__birth_date", "id"),
}


def caseload_for(
    actor: User,
    *,
    query: str = "",
    sector: str = "",
    status: str = "",
    overdue_only: bool = False,
    sort: str = "name",
    cpr: str = "",
    flags: tuple[str, ...] = (),
) -> QuerySet[PathwayPlan]:
    """The current plans the actor may see, with what the caseload table shows per row."""
    today = timezone.localdate()
    open_tasks = Task.objects.filter(plan=OuterRef("pk"), status__in=TASK_OPEN_STATUSES)
    next_task = open_tasks.filter(due_date__isnull=False).order_by("due_date", "id")
    overdue = (
        open_tasks.filter(due_date__lt=today).order_by().values("plan").annotate(n=Count("id")).values("n")
    )
    sorts = caseload_sorts()
    plans = (
        access.plans_visible_to(actor)
        .filter(status__in=PLAN_OPEN_STATUSES)
        .select_related("patient", "coordinator", "coordinator_organisation")
        .prefetch_related(Prefetch("conditions", queryset=PlanCondition.objects.order_by("id")))
        .annotate(
            next_task_title=Subquery(next_task.values("title")[:1]),
            next_task_due=Subquery(next_task.values("due_date")[:1]),
            overdue_count=Coalesce(Subquery(overdue, output_field=IntegerField()), Value(0)),
        )
    )
    for extension in extensions.CASELOAD_EXTENSIONS:
        plans = extension.annotate(plans, actor)
    plans = plans.order_by(*sorts.get(sort, sorts["name"]))
    for word in query.split():
        plans = plans.filter(Q(patient__given_name__icontains=word) | Q(patient__family_name__icontains=word))
    if cpr:
        plans = plans.filter(patient__cpr=cpr)
    if sector:
        plans = plans.filter(
            Exists(PlanParticipant.objects.filter(plan=OuterRef("pk"), organisation__sector=sector))
        )
    if status:
        plans = plans.filter(status=status)
    if overdue_only:
        plans = plans.filter(overdue_count__gt=0)
    for name in flags:
        narrow = caseload_flags().get(name)
        if narrow is not None:
            plans = narrow[1](plans, actor)
    return plans


def plan_url(plan: PathwayPlan, anchor: str = "") -> str:
    """The plan page's address, at `anchor` (a task row, a section) when given."""
    return reverse("pathways:plan-detail", args=[plan.public_id]) + (f"#{anchor}" if anchor else "")


def caseload_sorts() -> dict[str, tuple[Any, ...]]:
    """The caseload's sort keys: the hub's and those the apps above add (pathways.extensions)."""
    sorts = dict(CASELOAD_SORTS)
    for extension in extensions.CASELOAD_EXTENSIONS:
        sorts |= {name: order for name, (_label, order) in extension.sorts.items()}
    return sorts


def caseload_flags() -> dict[str, tuple[Any, Any]]:
    """Yes/no filters the apps above add to the caseload: GET parameter → (label, narrowing)."""
    flags: dict[str, tuple[Any, Any]] = {}
    for extension in extensions.CASELOAD_EXTENSIONS:
        flags |= extension.filters
    return flags


SECTOR_ORDER = [Sector.HOSPITAL, Sector.PSYCHIATRY, Sector.MUNICIPALITY, Sector.GENERAL_PRACTICE]
CLOSED_TASK_STATUSES = frozenset({TaskStatus.COMPLETED, TaskStatus.CANCELLED, TaskStatus.REJECTED})


@dataclass(frozen=True)
class TaskRow:
    """A task as the plan page shows it, with what the viewer may do and what stands out."""

    task: Task
    can_edit: bool
    next_statuses: list[tuple[str, str]]
    is_closed: bool
    is_overdue: bool
    is_due_this_week: bool
    is_blocked: bool
    # Its dependency is done and it has not started: released, no longer waiting.
    is_ready: bool = False
    markers: tuple[extensions.TaskMarker, ...] = ()


@dataclass
class SectorGroup:
    sector: str
    label: str
    rows: list[TaskRow] = field(default_factory=list)


@dataclass(frozen=True)
class Timeline:
    past: list[TaskRow]
    today: list[TaskRow]
    coming: list[TaskRow]
    undated: list[TaskRow]


@dataclass
class PlanPage:
    plan: PathwayPlan
    rights: access.PlanRights
    goals: list[Goal]
    rows: list[TaskRow]
    participants: list[tuple[PlanParticipant, bool]]
    by_sector: list[SectorGroup]
    timeline: Timeline
    today: date
    # The emergency access the reader opened the plan with (read only), None for the plan's own staff.
    emergency: EmergencyAccess | None
    # Emergency accesses to this plan the coordinator has not yet marked as seen (empty for others).
    emergency_alerts: list[EmergencyAccess] = field(default_factory=list)
    # The sections the apps above add (pathways.extensions.PlanSection): (template, context) in order.
    sections: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


def _sector_group_key(sector: str) -> str:
    return sector if sector in SECTOR_ORDER else Sector.OTHER


def task_row(task: Task, rights: access.PlanRights, today: date) -> TaskRow:
    closed = task.status in CLOSED_TASK_STATUSES
    can_edit = rights.can_edit_task(task)
    allowed = TASK_TRANSITIONS[task.status]
    blocker = task.depends_on
    return TaskRow(
        task=task,
        can_edit=can_edit,
        next_statuses=[(v, str(label)) for v, label in TaskStatus.choices if v in allowed]
        if can_edit
        else [],
        is_closed=closed,
        is_overdue=not closed and task.due_date is not None and task.due_date < today,
        is_due_this_week=not closed
        and task.due_date is not None
        and today <= task.due_date <= today + timedelta(days=7),
        is_blocked=not closed and blocker is not None and blocker.status != TaskStatus.COMPLETED,
        is_ready=blocker is not None
        and blocker.status == TaskStatus.COMPLETED
        and task.status in (TaskStatus.REQUESTED, TaskStatus.ACCEPTED),
    )


def task_rows_of(
    actor: User,
    access_to_plan: access.PlanAccess,
    *,
    task_ids: Iterable[int] = (),
    waiting_for: Task | None = None,
) -> list[TaskRow]:
    """Rows of the plan's tasks as the plan page shows them (with markers), to swap in after a change
    that altered them: the tasks `task_ids`, or those waiting for `waiting_for`. The caller has the plan
    from access.access_plan; tasks of other plans are never among them."""
    tasks = access_to_plan.plan.tasks.select_related(
        "responsible_organisation", "responsible_person", "depends_on", "goal"
    )
    tasks = tasks.filter(depends_on=waiting_for) if waiting_for is not None else tasks.filter(pk__in=task_ids)
    rows = [task_row(task, access_to_plan.rights, timezone.localdate()) for task in tasks]
    return with_markers(actor, access_to_plan.plan, rows)


def with_markers(actor: User, plan: PathwayPlan, rows: list[TaskRow]) -> list[TaskRow]:
    """The rows with the markers the apps above put on tasks (one read per app for all rows)."""
    if not extensions.TASK_MARKERS or not rows:
        return rows
    found: dict[int, list[extensions.TaskMarker]] = {}
    for markers_of in extensions.TASK_MARKERS:
        for task_id, markers in markers_of(actor, plan, [row.task for row in rows]).items():
            found.setdefault(task_id, []).extend(markers)
    return [replace(row, markers=tuple(found.get(row.task.pk, ()))) for row in rows]


def _timeline(rows: list[TaskRow], today: date) -> Timeline:
    def when(row: TaskRow) -> date | None:
        return row.task.due_date

    return Timeline(
        past=[r for r in rows if (d := when(r)) is not None and d < today],
        today=[r for r in rows if when(r) == today],
        coming=[r for r in rows if (d := when(r)) is not None and d > today],
        undated=[r for r in rows if when(r) is None],
    )


def plan_tasks(plan: PathwayPlan) -> list[Task]:
    return list(
        plan.tasks.select_related(
            "responsible_organisation", "responsible_person", "depends_on", "goal"
        ).order_by("due_date", "id")
    )


def plan_participants(plan: PathwayPlan, rights: access.PlanRights) -> list[tuple[PlanParticipant, bool]]:
    participants = plan.participants.select_related("organisation", "accepted_by").order_by(
        "organisation__name"
    )
    return [(p, p.accepted_at is None and rights.can_accept(p)) for p in participants]


def task_organisations(plan: PathwayPlan, rights: access.PlanRights) -> QuerySet[Organisation]:
    """The organisations a user may make responsible for a task in this plan."""
    participating = Organisation.objects.filter(participations__plan=plan)
    if not rights.is_coordinator:
        participating = participating.filter(pk__in=rights.acting_organisation_ids)
    return participating.order_by("name")


def plan_page_for(actor: User, public_id: UUID) -> PlanPage:
    """Everything the plan page shows; raises Http404 outside the access policy; logs the read."""
    granted = access.access_plan(
        actor,
        public_id,
        queryset=PathwayPlan.objects.select_related(
            "coordinator", "coordinator_organisation", "coordinator_substitute"
        ).prefetch_related("conditions"),
    )
    plan, rights = granted.plan, granted.rights
    today = timezone.localdate()
    rows = with_markers(actor, plan, [task_row(t, rights, today) for t in plan_tasks(plan)])
    groups: dict[str, SectorGroup] = {
        s: SectorGroup(sector=s, label=str(Sector(s).label)) for s in [*SECTOR_ORDER, Sector.OTHER]
    }
    for row in rows:
        groups[_sector_group_key(row.task.responsible_organisation.sector)].rows.append(row)
    page = PlanPage(
        plan=plan,
        rights=rights,
        emergency=granted.emergency,
        goals=list(plan.goals.order_by("sort_order", "id")),
        rows=rows,
        participants=plan_participants(plan, rights),
        by_sector=[g for g in groups.values() if g.rows],
        timeline=_timeline(rows, today),
        today=today,
        emergency_alerts=_unseen_emergency_accesses(plan.emergency_accesses.all())
        if rights.is_coordinator
        else [],
    )
    for section in extensions.PLAN_SECTIONS:
        context = section.context(actor, page)
        if context is not None:
            page.sections.append((section.template, context))
    return page


def _unseen_emergency_accesses(accesses: QuerySet[EmergencyAccess]) -> list[EmergencyAccess]:
    return list(
        accesses.filter(acknowledged_at__isnull=True)
        .select_related("actor", "organisation", "plan__patient")
        .order_by("-granted_at")[:20]
    )


def emergency_alerts_for(actor: User) -> list[EmergencyAccess]:
    """Emergency accesses to the plans the actor coordinates (or stands in for), not yet marked seen."""
    return _unseen_emergency_accesses(
        EmergencyAccess.objects.filter(access.coordinated_by(actor, via="plan__"))
    )


def plan_access_log(plan: PathwayPlan) -> QuerySet[AccessLog]:
    """Who has opened the patient's information, newest first (for the coordinator; paginated)."""
    return (
        AccessLog.objects.filter(patient_id=plan.patient_id)
        .select_related("actor", "organisation")
        .order_by("-at", "-id")
    )


def plan_history(*, plan: PathwayPlan) -> list[HistoryEntry]:
    """Who changed what and when in the plan and its conditions, participants, goals and tasks, newest
    first. The caller has the plan from access.access_plan (which checks and logs the read).

    Saves that changed nothing a reader sees (only bookkeeping such as the version) are left out.
    A fixed number of queries whatever the length of the history.
    """
    event_models = [event_model_label(m) for m in plan_history_models()]
    events = AuditEvent.objects.across(*event_models).references(plan).order_by("-pgh_created_at", "-pgh_id")
    return [
        entry
        for entry in history_entries(events)
        if entry.kind != "update" or entry.changes or entry.earlier_values_unknown
    ]


def plan_for_api(actor: User, public_id: UUID) -> PathwayPlan:
    """One plan with what the API's plan detail shows; Http404 outside the access policy; logged."""
    queryset = PathwayPlan.objects.select_related("coordinator").prefetch_related(
        "conditions", "goals", "participants__organisation"
    )
    return access.access_plan(actor, public_id, action=AccessAction.API_READ, queryset=queryset).plan


def notifications_for(actor: User) -> QuerySet[Notification]:
    """The actor's in-app messages (those that have arrived, in plans they may still see), newest first,
    with the patient and the task each row shows. The caller logs the plans of the rows it shows."""
    return (
        access.notifications_visible_to(actor)
        .select_related("plan__patient", "task")
        .order_by("-due_at", "-id")
    )


def unread_notification_count(actor: User) -> int:
    """The number on the bell: the actor's unread in-app messages in plans they may still see. One query
    (the actor's organisations are looked up once per request and kept on the user)."""
    return access.notifications_visible_to(actor).unread_in_app().count()


def letters_for(user: Any) -> QuerySet[Notification]:
    """The user's print queue: letters still to print first (oldest first), then printed ones (newest
    first), each with its patient, address and task."""
    return (
        access.letters_visible_to(user)
        .select_related("plan__patient", "task")
        .order_by(F("read_at").desc(nulls_first=True), "due_at")
    )


# --- templates ---


# --- stays ---


# --- ingest ---
