"""Reads for the staff pages. Each starts from access.py and fetches what its page shows in a
constant number of queries, whatever the number of patients, tasks or organisations."""

from __future__ import annotations

import logging
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
from pathways.audit import PatientRead, access_log_write
from pathways.choices import (
    PLAN_OPEN_STATUSES,
    STAY_OPEN_STATUSES,
    STAY_STARTS,
    TASK_OPEN_STATUSES,
    TASK_TRANSITIONS,
    AccessAction,
    DocumentKind,
    DocumentState,
    MedcomCode,
    ReceivedState,
    Sector,
    StayEnd,
    StayStatus,
    TaskStatus,
    TransitionEffectKind,
    TransitionKind,
    TransitionSource,
    TransitionState,
)
from pathways.history import HistoryEntry, history_entries, plan_history_models
from pathways.models import (
    AccessLog,
    AuditEvent,
    EmergencyAccess,
    Goal,
    HospitalStay,
    Notification,
    Organisation,
    PathwayPlan,
    PathwayTemplateVersion,
    PlanCondition,
    PlanDocument,
    PlanParticipant,
    PlanTemplate,
    ReceivedMessage,
    Task,
    Transition,
    TransitionEffect,
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
    # The pathway templates the plan was made from, with their versions (section "templates").
    templates: list[PlanTemplateRow] = field(default_factory=list)
    # The hospital stays and their events (section "stays").
    stays: StaysSection | None = None


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
        templates=plan_templates_of(plan),
    )
    page.stays = stays_section(actor, plan, [p for p, _accept in page.participants], rows)
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
        .prefetch_related("reader")  # portal reads: the patient or a relative (one query per kind)
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


def plan_organisation(plan: PathwayPlan, public_id: UUID) -> Organisation | None:
    """An active organisation taking part in the plan, by its public id (None: no such one)."""
    return Organisation.objects.filter(public_id=public_id, is_active=True, participations__plan=plan).first()


def plan_goal(plan: PathwayPlan, public_id: UUID) -> Goal | None:
    return plan.goals.filter(public_id=public_id).first()


def plan_task(plan: PathwayPlan, public_id: UUID) -> Task | None:
    return plan.tasks.filter(public_id=public_id).first()


def plan_is_open(plan_id: int) -> bool:
    """Whether the plan is open now (read fresh: a write checks it in its own transaction)."""
    return PathwayPlan.objects.filter(pk=plan_id, status__in=PLAN_OPEN_STATUSES).exists()


def task_for_api(task_id: int) -> Task:
    """A task as the API answers it after a change (the caller has been through the access policy)."""
    return Task.objects.select_related("plan", "responsible_organisation", "depends_on").get(pk=task_id)


def transition_for_api(transition_id: int) -> Transition:
    """A hospital event as the API answers it after recording it."""
    return Transition.objects.select_related("plan", "stay__hospital").get(pk=transition_id)


def plan_for_fhir(actor: User, public_id: UUID) -> access.PlanAccess:
    """One plan with what its FHIR export starts from (pathways.fhir.plan_bundle); only for those who take
    part in it (an emergency reader reads the plan page, but takes nothing into another system, as with
    printed plans); Http404 otherwise; logged as an export."""
    queryset = PathwayPlan.objects.select_related(
        "patient__general_practice", "coordinator", "coordinator_substitute", "coordinator_organisation"
    ).prefetch_related("conditions")
    return access.access_plan_taking_part(
        actor, public_id, action=AccessAction.FHIR_EXPORT, queryset=queryset
    )


def plans_for_patient_identifier(actor: User, cpr: str) -> list[PathwayPlan]:
    """The plans of the patient with CPR number `cpr` that the actor may see, newest first (a FHIR search
    by patient identifier); each found plan is logged as a search by CPR number."""
    plans = list(
        access.plans_visible_to(actor)
        .filter(patient__cpr=cpr)
        .select_related("patient")
        .order_by("-created_at", "-id")
    )
    access.access_log_plans(actor, plans, action=AccessAction.SEARCH_CPR)
    return plans


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
        .select_related("plan__patient", "task", "recipient_type")
        .prefetch_related("recipient")
        .order_by(F("read_at").desc(nulls_first=True), "due_at")
    )


# --- templates ---


@dataclass(frozen=True)
class PlanTemplateRow:
    """A pathway template the plan was made from: the version the plan has, and the template's latest."""

    plan_template: PlanTemplate
    latest_number: int

    @property
    def template(self) -> Any:
        return self.plan_template.template

    @property
    def number(self) -> int:
        return self.plan_template.version.number

    @property
    def has_update(self) -> bool:
        return self.latest_number > self.number


def plan_templates_of(plan: PathwayPlan) -> list[PlanTemplateRow]:
    """The plan's templates with their versions and whether a newer one is out, in one query."""
    latest = (
        PathwayTemplateVersion.objects.filter(template=OuterRef("template_id"))
        .order_by("-number")
        .values("number")[:1]
    )
    rows = (
        PlanTemplate.objects.filter(plan=plan)
        .select_related("template", "version")
        .annotate(latest_number=Subquery(latest))
        .order_by("template__name", "id")
    )
    return [PlanTemplateRow(row, row.latest_number or row.version.number) for row in rows]


# --- stays ---

# Who records hospital events by hand: staff acting for a hospital or psychiatry organisation taking part.
HOSPITAL_EVENT_SECTORS = (Sector.HOSPITAL, Sector.PSYCHIATRY)


def hospital_event_organisations(actor: User, participants: Iterable[PlanParticipant]) -> list[Organisation]:
    """The organisations taking part in the plan (`participants`, with their organisations) for which the
    actor records hospital events by hand: the hospitals and psychiatry they act for (their own and the
    departments under them)."""
    acting = access.acting_organisation_ids(actor)
    return [
        p.organisation
        for p in participants
        if p.organisation.sector in HOSPITAL_EVENT_SECTORS and p.organisation_id in acting
    ]


def hospital_event_organisations_of(actor: User, plan: PathwayPlan) -> list[Organisation]:
    participants = plan.participants.select_related("organisation").order_by("organisation__name", "id")
    return hospital_event_organisations(actor, participants)


@dataclass(frozen=True)
class StayEvent:
    """A hospital event as the plan page shows it: what it changed (while it is in effect) and what the
    reader may do with it."""

    transition: Transition
    paused: list[Task]
    kept_on_hold: list[Task]
    resumed: list[Task]
    redated: list[Task]
    created: list[Task]
    plan_completed: bool
    reminders_cancelled: int | None
    can_correct: bool
    can_cancel: bool

    @property
    def in_effect(self) -> bool:
        return self.transition.state == TransitionState.APPLIED

    @property
    def changed_something(self) -> bool:
        return bool(
            self.paused
            or self.kept_on_hold
            or self.resumed
            or self.redated
            or self.created
            or self.plan_completed
            or self.reminders_cancelled
        )


@dataclass(frozen=True)
class StayRow:
    stay: HospitalStay
    events: list[StayEvent]

    @property
    def is_open(self) -> bool:
        return self.stay.status in STAY_OPEN_STATUSES


@dataclass(frozen=True)
class StaysSection:
    """The plan's hospital stays, newest first, each with its events in the order they happened."""

    stays: list[StayRow]
    open_stay: HospitalStay | None
    # New events are recorded in a current plan; those entered by hand are corrected or cancelled in a
    # closed one too (a death completes the plan).
    can_record: bool


def stays_section(
    actor: User, plan: PathwayPlan, participants: Iterable[PlanParticipant], rows: Iterable[TaskRow]
) -> StaysSection:
    """The stays section of the plan page in two queries, whatever the number of stays and events (one for
    a plan without stays): the events with their stays and hospitals, and what they did (the tasks are the
    page's own rows)."""
    records = bool(hospital_event_organisations(actor, participants))
    tasks = {row.task.pk: row.task for row in rows}
    transitions = list(
        plan.transitions.select_related("stay__hospital").order_by("stay__started_at", "occurred_at", "id")
    )
    effects: dict[int, list[TransitionEffect]] = {}
    in_effect = TransitionEffect.objects.filter(transition__plan=plan, reversed_at__isnull=True)
    for effect in in_effect.order_by("id") if transitions else []:
        effects.setdefault(effect.transition_id, []).append(effect)
    by_stay: dict[int, list[Transition]] = {}
    stays: dict[int, HospitalStay] = {}
    for transition in transitions:
        by_stay.setdefault(transition.stay_id, []).append(transition)
        stays[transition.stay_id] = transition.stay
    rows_out = []
    starts = [s.started_at for s in stays.values() if s.status != StayStatus.CANCELLED]
    for stay_id, events in by_stay.items():
        stay = stays[stay_id]
        applied = [t for t in events if t.state == TransitionState.APPLIED]
        last_applied = applied[-1] if applied else None
        # Events of a stay another one followed are not cancelled (the service refuses: that one first).
        followed = stay.end_reason in (StayEnd.TRANSFERRED, StayEnd.CONVERTED) or any(
            start > stay.started_at for start in starts
        )
        rows_out.append(
            StayRow(
                stay=stay,
                events=[
                    _stay_event(
                        transition,
                        effects.get(transition.pk, []),
                        tasks,
                        may_change=records,
                        is_last=transition == last_applied,
                        followed=followed,
                    )
                    for transition in events
                ],
            )
        )
    rows_out.sort(key=lambda row: (row.stay.started_at, row.stay.pk), reverse=True)
    open_stay = next((row.stay for row in rows_out if row.is_open), None)
    return StaysSection(
        stays=rows_out, open_stay=open_stay, can_record=records and plan.status in PLAN_OPEN_STATUSES
    )


def _stay_event(
    transition: Transition,
    effects: list[TransitionEffect],
    tasks: dict[int, Task],
    *,
    may_change: bool,
    is_last: bool,
    followed: bool,
) -> StayEvent:
    def of(kind: str, *, carried: bool | None = None) -> list[Task]:
        found = []
        for effect in effects:
            if effect.kind != kind or effect.task_id not in tasks:
                continue
            if carried is not None and (effect.status_before == TaskStatus.ON_HOLD) != carried:
                continue
            found.append(tasks[effect.task_id])
        return found

    counted = [e.count for e in effects if e.kind == TransitionEffectKind.REMINDERS_CANCELLED]
    manual = transition.source == TransitionSource.MANUAL and transition.state == TransitionState.APPLIED
    # An admission is cancelled with everything after it in its stay; another event only while it is the
    # stay's last; nothing of a stay another one followed (the service says so too).
    cancellable = not followed and (transition.kind in STAY_STARTS or is_last)
    return StayEvent(
        transition=transition,
        paused=of(TransitionEffectKind.TASK_PAUSED, carried=False),
        kept_on_hold=of(TransitionEffectKind.TASK_PAUSED, carried=True),
        resumed=of(TransitionEffectKind.TASK_RESUMED),
        redated=of(TransitionEffectKind.TASK_REDATED),
        created=of(TransitionEffectKind.TASK_CREATED),
        plan_completed=any(e.kind == TransitionEffectKind.PLAN_COMPLETED for e in effects),
        reminders_cancelled=counted[0] if counted else None,
        can_correct=may_change and manual,
        can_cancel=may_change and manual and cancellable,
    )


def recent_hospital_events(plan_ids: Iterable[int], *, days: int = 7) -> list[Transition]:
    """Admissions and discharges in effect of the last `days` days in the plans, newest first (the
    coordinator's worklist), with their stays' hospitals."""
    since = timezone.now() - timedelta(days=days)
    return list(
        Transition.objects.filter(
            plan_id__in=list(plan_ids),
            state=TransitionState.APPLIED,
            kind__in=[*STAY_STARTS, TransitionKind.DISCHARGE],
            occurred_at__gte=since,
        )
        .select_related("stay__hospital")
        .order_by("-occurred_at", "-id")
    )


# --- ingest ---
# "Admissions without a plan": the receiving organisation's hospital notices about citizens with no plan.
# Who reads them: the staff of the receiving organisation, of the units under it (a municipality's home
# nursing reads what the municipality receives: it is the service that pauses), and of the organisation
# above a receiving unit (a municipality's staff act for its units, as access.acting_organisation_ids
# says). Other organisations see none of them. The link to the list costs the pages showing it one query.

# A citizen with this many admissions in 12 months is a candidate for a plan and a coordinator.
ADMISSIONS_CANDIDATE = 3
_ADMISSION_CODES = [MedcomCode.STAA, MedcomCode.STIN]
_ADMISSION_CANCELS = [MedcomCode.AN_STAA, MedcomCode.AN_STIN]
_access_log_file = logging.getLogger("faelles_forloeb.access")


def _notice_receivers(own: frozenset[int]) -> QuerySet[Organisation, int]:
    """The organisations whose notices the staff of `own` read (see above), as one subquery."""
    return Organisation.objects.filter(
        Q(id__in=own) | Q(parent_id__in=own) | Q(children__id__in=own, sector=Sector.MUNICIPALITY)
    ).values_list("id", flat=True)


def notice_receivers_for(user: User) -> frozenset[int]:
    """The organisations whose received hospital notices the user reads (see above)."""
    own = access.active_organisation_ids(user)
    if not own:
        return frozenset()
    return frozenset(_notice_receivers(own))


def admissions_without_plan_for(user: User) -> QuerySet[ReceivedMessage]:
    """The notices about citizens without a plan received by the user's organisations, newest first, each
    with `admissions_12m`: the citizen's admissions (distinct stays, cancelled ones left out) received by
    the same organisation in the last 12 months, counted in the same query."""
    receivers = notice_receivers_for(user)
    if not receivers:
        return ReceivedMessage.objects.none()
    cancelled = ReceivedMessage.objects.filter(
        sender_id=OuterRef("sender_id"), refers_to=OuterRef("message_id"), code__in=_ADMISSION_CANCELS
    )
    admissions = (
        ReceivedMessage.objects.filter(
            citizen_key=OuterRef("citizen_key"),
            receiver_id=OuterRef("receiver_id"),
            code__in=_ADMISSION_CODES,
            event_at__gte=timezone.now() - timedelta(days=365),
        )
        .exclude(Exists(cancelled))
        .order_by()
        .values("citizen_key")
        .annotate(stays=Count("episode_id", distinct=True))
        .values("stays")
    )
    return (
        ReceivedMessage.objects.filter(state=ReceivedState.NO_PLAN, receiver_id__in=receivers)
        .select_related("sender", "receiver")
        .annotate(admissions_12m=Coalesce(Subquery(admissions, output_field=IntegerField()), Value(0)))
        .order_by("-event_at", "-id")
    )


def admissions_without_plan_exist(user: User) -> bool:
    """Whether the user has an "admissions without a plan" list to read (for the link to it)."""
    own = access.active_organisation_ids(user)
    return bool(own) and (
        ReceivedMessage.objects.filter(
            state=ReceivedState.NO_PLAN, receiver_id__in=_notice_receivers(own)
        ).exists()
    )


def admissions_without_plan_log(user: User, notices: Iterable[ReceivedMessage]) -> None:
    """Log the page as the read of patient data it is. A notice about a patient the product knows is an
    access-log row of that patient (a list read, through the receiving organisation), in one INSERT. Most
    notices are about citizens the product does not know: the access log has no row for someone who is no
    patient of the product, so those reads go to the access log file (faelles_forloeb.access) by the
    notices' public ids, never the CPR number or the name; the notice ties the id to the citizen while it
    is kept (MEDCOM_NO_PLAN_KEEP_DAYS)."""
    notices = list(notices)
    known = [
        PatientRead(patient_id=notice.patient_id, organisation_id=notice.receiver_id)
        for notice in notices
        if notice.patient_id is not None
    ]
    if known:
        access_log_write(actor=user, reads=known, action=AccessAction.LIST)
    unknown = [str(notice.public_id) for notice in notices if notice.patient_id is None]
    if unknown:
        _access_log_file.info("list admissions_without_plan user=%s notices=%s", user.pk, ",".join(unknown))


# --- printable documents (issue 15) ---

# The documents staff ask for on a plan's pages, in the order the pages offer them (letters are made by the
# outbox and listed on the print queue).
STAFF_DOCUMENT_KINDS = (DocumentKind.PATIENT, DocumentKind.LARGE_PRINT, DocumentKind.STAFF)


@dataclass(frozen=True)
class DocumentShelf:
    """One kind of printable document of a plan: every version made, newest first."""

    kind: str
    label: str
    versions: list[PlanDocument]


def plan_documents(plan: PathwayPlan) -> list[DocumentShelf]:
    """The plan's printable documents by kind, each version with its date, who asked and its state, newest
    first; in one query (two when the patient or a relative asked for some in the portal), whatever the
    number of versions. The caller has the plan from the access policy."""
    found = (
        PlanDocument.objects.listed()
        .filter(plan=plan, kind__in=STAFF_DOCUMENT_KINDS)
        .select_related("requested_by")
        .prefetch_related("requester")
        .order_by("kind", "-number")
    )
    by_kind: dict[str, list[PlanDocument]] = {kind: [] for kind in STAFF_DOCUMENT_KINDS}
    for document in found:
        by_kind[document.kind].append(document)
    return [
        DocumentShelf(kind=kind, label=str(DocumentKind(kind).label), versions=versions)
        for kind, versions in by_kind.items()
    ]


def letter_documents(letters: Iterable[Notification]) -> dict[int, PlanDocument]:
    """The PDFs of letters the caller has from the print queue (access.letters_visible_to), by letter id, in
    one query; a letter the worker has not made a PDF for yet has none."""
    ids = [letter.pk for letter in letters]
    if not ids:
        return {}
    documents = PlanDocument.objects.listed().filter(kind=DocumentKind.LETTER, notification_id__in=ids)
    return {document.notification_id: document for document in documents if document.notification_id}


def document_pdf(document: PlanDocument) -> bytes | None:
    """The document's PDF, None until it is made. The caller has the document from the access policy."""
    pdf = (
        PlanDocument.objects.filter(pk=document.pk, state=DocumentState.DONE)
        .values_list("pdf", flat=True)
        .first()
    )
    return None if pdf is None else bytes(pdf)
