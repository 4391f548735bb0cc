"""Reads for the staff pages. Each starts from access.py and fetches what its page shows in a
constant number of queries, whatever the number of patients, tasks or organisations."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, cast
from uuid import UUID

from django.apps import apps
from django.db.models import (
    BooleanField,
    Count,
    DateField,
    DateTimeField,
    Exists,
    F,
    Field,
    IntegerField,
    Model,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.formats import date_format
from django.utils.functional import Promise
from django.utils.text import capfirst
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from pathways import access
from pathways.choices import PLAN_OPEN_STATUSES, TASK_OPEN_STATUSES, TASK_TRANSITIONS, Sector, TaskStatus
from pathways.models import (
    AccessLog,
    AuditEvent,
    EmergencyAccess,
    Goal,
    Membership,
    Organisation,
    PathwayPlan,
    Patient,
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
) -> QuerySet[PathwayPlan]:
    """The current plans the actor may see, with what the caseload table shows per row."""
    today = timezone.localdate()
    open_tasks = Task.objects.filter(plan=OuterRef("pk"), status__in=TASK_OPEN_STATUSES)
    next_task = open_tasks.filter(due_date__isnull=False).order_by("due_date", "id")
    overdue = (
        open_tasks.filter(due_date__lt=today).order_by().values("plan").annotate(n=Count("id")).values("n")
    )
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
        .order_by(*CASELOAD_SORTS.get(sort, CASELOAD_SORTS["name"]))
    )
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
    return plans


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
    # Emergency accesses to this plan the coordinator has not yet marked as seen (empty for others).
    emergency_alerts: list[EmergencyAccess] = field(default_factory=list)


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
    )


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


def plan_page_for(actor: User, public_id: UUID) -> PlanPage:
    """Everything the plan page shows; raises Http404 outside the access policy; logs the read."""
    plan = access.access_plan(
        actor,
        public_id,
        queryset=PathwayPlan.objects.select_related(
            "coordinator", "coordinator_organisation", "coordinator_substitute"
        ).prefetch_related("conditions"),
    )
    today = timezone.localdate()
    rights = access.plan_rights(actor, plan)
    rows = [task_row(t, rights, today) for t in plan_tasks(plan)]
    groups: dict[str, SectorGroup] = {
        s: SectorGroup(sector=s, label=str(Sector(s).label)) for s in [*SECTOR_ORDER, Sector.OTHER]
    }
    for row in rows:
        groups[_sector_group_key(row.task.responsible_organisation.sector)].rows.append(row)
    return PlanPage(
        plan=plan,
        rights=rights,
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


def _unseen_emergency_accesses(accesses: QuerySet[EmergencyAccess]) -> list[EmergencyAccess]:
    return list(
        accesses.filter(acknowledged_at__isnull=True)
        .select_related("actor", "organisation", "plan__patient")
        .order_by("-granted_at")[:20]
    )


def emergency_alerts_for(actor: User) -> list[EmergencyAccess]:
    """Emergency accesses to the plans the actor coordinates (or stands in for), not yet marked seen."""
    return _unseen_emergency_accesses(
        EmergencyAccess.objects.filter(Q(plan__coordinator=actor) | Q(plan__coordinator_substitute=actor))
    )


def plan_access_log(plan: PathwayPlan) -> QuerySet[AccessLog]:
    """Who has opened the patient's information, newest first (for the coordinator; paginated)."""
    return (
        AccessLog.objects.filter(patient_id=plan.patient_id)
        .select_related("actor", "organisation")
        .order_by("-at", "-id")
    )


# The audit trail as people read it. Events come from the database triggers (pathways.models, pghistory):
# a snapshot of the row per insert, update and delete; AuditEvent gives each event's difference to the
# snapshot before it.

HISTORY_KIND_LABELS: dict[str, Promise] = {
    "insert": _("Created"),
    "update": _("Changed"),
    "delete": _("Deleted"),
}
# Bookkeeping a reader does not need: keys, counters, timestamps the event itself carries, the back
# reference to the plan the history belongs to, and who created the row (the event's actor says so).
HISTORY_HIDDEN_FIELDS = frozenset(
    {"id", "public_id", "version", "created_at", "updated_at", "created_by", "added_by", "added_at",
     "completed_at", "sort_order", "plan"}
)  # fmt: skip
# Goals and tasks are named after their own snapshots (so a deleted one keeps its name); other objects
# that events point to are read from their tables.
_NAMED_BY_SNAPSHOT: tuple[type[Model], ...] = (Goal, Task)
PLAN_HISTORY_MODELS: tuple[type[Model], ...] = (PathwayPlan, PlanCondition, PlanParticipant, Goal, Task)


@dataclass(frozen=True)
class FieldChange:
    label: str
    before: str
    after: str


@dataclass(frozen=True)
class HistoryEntry:
    """One recorded change: who (None: no signed-in user, e.g. a command or a background job), when,
    what (the kind of record and its name) and each changed field as before → after, in readable values.
    `earlier_values_unknown`: the row was changed but its previous state predates the audit trail."""

    key: str
    at: datetime
    kind: str
    kind_label: str
    actor: User | None
    actor_name: str  # "" without a user; "#<id>" for a user who no longer exists
    url: str
    record_type: str
    record: str
    changes: list[FieldChange]
    earlier_values_unknown: bool = False


class _Lookup:
    """The objects event rows point to, fetched with one query per model once all are known."""

    def __init__(self) -> None:
        self.wanted: dict[type[Model], set[Any]] = {}
        self.objects: dict[tuple[type[Model], Any], Model] = {}
        self.names: dict[tuple[type[Model], Any], str] = {}

    def want(self, model: type[Model], pk: Any) -> None:
        if pk is not None and pk != "":
            self.wanted.setdefault(model, set()).add(pk)

    def name_from_snapshot(self, model: type[Model], pk: Any, name: str) -> None:
        self.names.setdefault((model, pk), name)

    def fetch(self) -> None:
        for model, pks in self.wanted.items():
            missing = [pk for pk in pks if (model, pk) not in self.names]
            for obj in model._default_manager.filter(pk__in=missing) if missing else []:
                self.objects[(model, obj.pk)] = obj
                self.names[(model, obj.pk)] = str(obj)

    def name(self, model: type[Model], pk: Any) -> str:
        return self.names.get((model, pk), f"#{pk}")

    def user(self, pk: Any) -> User | None:
        return cast(User | None, self.objects.get((User, pk)))


def _fields_by_column(model: type[Model]) -> dict[str, Field[Any, Any]]:
    return {f.column: f for f in model._meta.concrete_fields}


def _shown(model: type[Model], data: dict[str, Any]) -> list[tuple[Field[Any, Any], Any]]:
    """The fields of a snapshot or difference (keyed by column) a reader sees, in the model's order."""
    return [
        (field, data[field.column])
        for field in model._meta.concrete_fields
        if field.column in data and field.name not in HISTORY_HIDDEN_FIELDS
    ]


def _related_model(field: Field[Any, Any]) -> type[Model] | None:
    related = field.related_model
    return related if isinstance(related, type) and issubclass(related, Model) else None


def _readable(model: type[Model], field: Field[Any, Any], value: Any, lookup: _Lookup) -> str:
    if value is None or value == "":
        return ""
    if model is Patient and field.name == "cpr":
        return f"{str(value)[:6]}-xxxx"  # the full CPR number is shown only by its own, logged, reveal
    related = _related_model(field)
    if related is not None:
        return lookup.name(related, value)
    if field.choices:
        return str(dict(field.flatchoices).get(value, value))
    if isinstance(field, BooleanField):
        return gettext("Yes") if value else gettext("No")
    if isinstance(field, DateTimeField):
        moment = parse_datetime(str(value))
        return date_format(timezone.localtime(moment), "j. F Y H:i") if moment else str(value)
    if isinstance(field, DateField):
        day = parse_date(str(value))
        return date_format(day, "j. F Y") if day else str(value)
    return str(value)


def _record_name(model: type[Model], data: dict[str, Any], lookup: _Lookup) -> str:
    if model is PlanParticipant:
        return lookup.name(Organisation, data.get("organisation_id"))
    if model is Membership:
        user = lookup.name(User, data.get("user_id"))
        return f"{user} · {lookup.name(Organisation, data.get('organisation_id'))}"
    if model is Patient:
        return f"{data.get('given_name', '')} {data.get('family_name', '')}"
    # The others name themselves from their own columns (title, description, display).
    fields = _fields_by_column(model)
    own = {fields[c].attname: v for c, v in data.items() if c in fields and not fields[c].is_relation}
    return str(model(**own))


def _changes(model: type[Model], event: AuditEvent, lookup: _Lookup) -> list[FieldChange]:
    def change(field: Field[Any, Any], before: Any, after: Any) -> FieldChange:
        return FieldChange(
            label=capfirst(str(field.verbose_name)),
            before=_readable(model, field, before, lookup),
            after=_readable(model, field, after, lookup),
        )

    if event.pgh_label == "update":
        return [
            change(field, before, after) for field, (before, after) in _shown(model, event.pgh_diff or {})
        ]
    if event.pgh_label == "insert":
        return [
            change(field, None, value)
            for field, value in _shown(model, event.pgh_data)
            if value not in (None, "")
        ]
    return []


def history_entries(events: Iterable[AuditEvent]) -> list[HistoryEntry]:
    """The events as readable entries, in the order given. A fixed number of queries: one per kind of
    object the events point to (users, organisations, patients), whatever the number of events."""
    events = list(events)
    lookup = _Lookup()
    models = {label: apps.get_model(label) for label in {e.pgh_obj_model for e in events}}
    for event in events:
        model = models[event.pgh_obj_model]
        lookup.want(User, event.user_id)
        if model in _NAMED_BY_SNAPSHOT:
            lookup.name_from_snapshot(
                model, event.pgh_data.get("id"), _record_name(model, event.pgh_data, lookup)
            )
        values = [*_shown(model, event.pgh_data)]
        values += [(f, v) for f, pair in _shown(model, event.pgh_diff or {}) for v in pair]
        for shown_field, value in values:
            if (related := _related_model(shown_field)) is not None:
                lookup.want(related, value)
    lookup.fetch()
    return [
        HistoryEntry(
            key=event.pgh_slug,
            at=event.pgh_created_at,
            kind=event.pgh_label,
            kind_label=str(HISTORY_KIND_LABELS.get(event.pgh_label, event.pgh_label)),
            actor=lookup.user(event.user_id),
            actor_name=lookup.name(User, event.user_id) if event.user_id is not None else "",
            url=event.url or "",
            record_type=capfirst(str(models[event.pgh_obj_model]._meta.verbose_name)),
            record=_record_name(models[event.pgh_obj_model], event.pgh_data, lookup),
            changes=_changes(models[event.pgh_obj_model], event, lookup),
            earlier_values_unknown=event.pgh_label == "update" and event.pgh_diff is None,
        )
        for event in events
    ]


def plan_history(*, plan: PathwayPlan) -> list[HistoryEntry]:
    """Who changed what and when in the plan and its conditions, participants, goals and tasks, newest
    first. The caller has the plan from access.access_plan (which checks and logs the read).

    Saves that changed nothing a reader sees (only bookkeeping such as the version) are left out.
    A fixed number of queries whatever the length of the history.
    """
    event_models = [event_model_label(m) for m in PLAN_HISTORY_MODELS]
    events = AuditEvent.objects.across(*event_models).references(plan).order_by("-pgh_created_at", "-pgh_id")
    return [
        entry
        for entry in history_entries(events)
        if entry.kind != "update" or entry.changes or entry.earlier_values_unknown
    ]
