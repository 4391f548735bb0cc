"""The complete plan for staff as a printable document (issue 15, DocumentKind.STAFF).

`staff_plan_html(plan, content)` is the builder registered in CoordinationConfig.ready() through
pathways.extensions: pathways.documents calls it inside the document's language, takes the HTML's
fingerprint and has a worker render it. It reads the whole plan — patient, coordination, conditions, what
matters and the goals, every task of every sector with its dependency, the organisations taking part and
their acceptance, open responsibility disputes with their escalation clock, relatives and the consent
that counts, the need assessment and the hospital stays — in a fixed number of queries however many
tasks, stays or relatives there are.

Who may have it is the caller's question (the access policy, which logs the read); nothing here reads
for a person, so nothing here depends on who asks. The CPR number is printed masked, as the plan page
shows it. What the document says depends on the plan only, never on the day it is asked for (no "overdue"
or "open for 12 days": dates instead, the printed date is on every page), so the same plan asked for again
is the same document and is rendered once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.db.models import Prefetch
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import get_language

from coordination.choices import NeedCriterion
from coordination.models import Dispute, DisputeEscalation, EscalationStep, NeedAssessment
from pathways import access as hub_access
from pathways import outbox
from pathways import selectors as hub_selectors
from pathways.choices import DocumentContent, DocumentKind, Sector, TaskStatus
from pathways.documents import STAMP
from pathways.models import (
    Goal,
    Membership,
    Organisation,
    PathwayPlan,
    PlanParticipant,
    Task,
    User,
)
from relatives import access as relatives_access
from relatives.choices import ConsentScope
from relatives.models import Relative, RelativeConsent
from relatives.selectors import open_child_checklists

TEMPLATE = "coordination/documents/staff_plan.html"


@dataclass(frozen=True)
class TaskLine:
    """A task as the document lists it: numbered in the document's order (#1, #2 …), so a dependency, a
    dispute or a hospital event can name it by number."""

    number: int
    task: Task
    goal_number: int | None
    depends_on_number: int | None
    # Its dependency is not done yet (and it is itself still open): it waits.
    waiting: bool
    disputed: bool


@dataclass(frozen=True)
class SectorTasks:
    sector: str
    label: str
    lines: list[TaskLine]


@dataclass(frozen=True)
class Person:
    """The coordinator or the substitute: name, organisation and the phone to call."""

    name: str
    organisation: str
    phone: str


@dataclass(frozen=True)
class LadderStep:
    """A rung of the escalation ladder as it stands for one dispute: when it is reached (working days
    counted from the day it was raised) and when it was taken, if it was."""

    step: int
    after_working_days: int
    target: str
    reached_on: date
    taken_at: Any  # datetime | None


@dataclass(frozen=True)
class DisputeLine:
    dispute: Dispute
    task_number: int | None
    parties: list[Organisation]
    ladder: list[LadderStep]


@dataclass(frozen=True)
class RelativeLine:
    relative: Relative
    consent: RelativeConsent | None
    scope: str
    scope_label: str
    open_steps: list[str] = field(default_factory=list)  # a child's checklist steps still open


@dataclass(frozen=True)
class StayEventLine:
    """A hospital event and what it did to the plan while in effect, the tasks named by their numbers."""

    transition: Any  # pathways.models.Transition
    in_effect: bool
    paused: list[int]
    kept_on_hold: list[int]
    resumed: list[int]
    redated: list[int]
    created: list[int]
    reminders_cancelled: int | None
    plan_completed: bool


@dataclass(frozen=True)
class StayLine:
    stay: Any  # pathways.models.HospitalStay
    events: list[StayEventLine]


@dataclass(frozen=True)
class Assessment:
    assessment: NeedAssessment
    criteria: list[str]


def staff_plan_html(plan: PathwayPlan, content: str) -> str:
    """The whole HTML of the complete plan for staff, in the active language (the builder's shape:
    pathways.extensions.DocumentBuilder). Staff always get the whole plan."""
    if content != DocumentContent.WHOLE_PLAN:
        raise ValueError("the complete plan for staff is made of the whole plan only")
    return render_to_string(TEMPLATE, staff_plan_context(plan))


def staff_plan_context(plan: PathwayPlan) -> dict[str, Any]:
    """What the document shows, read in a fixed number of queries whatever the plan holds."""
    plan = (
        PathwayPlan.objects.select_related(
            "patient__general_practice", "coordinator", "coordinator_organisation", "coordinator_substitute"
        )
        .prefetch_related("conditions")
        .get(pk=plan.pk)
    )
    goals = list(Goal.objects.filter(plan=plan).order_by("sort_order", "id"))
    participants = [p for p, _may_accept in hub_selectors.plan_participants(plan, hub_access.READ_ONLY)]
    tasks = list(
        plan.tasks.select_related(
            "responsible_organisation", "responsible_person", "depends_on", "created_by_transition"
        ).order_by("due_date", "id")
    )
    disputes = _open_disputes(plan)
    sectors, numbers = _task_lines(tasks, goals, {d.task_id for d in disputes})
    rows = [hub_selectors.task_row(task, hub_access.READ_ONLY, timezone.localdate()) for task in tasks]
    # Read as nobody: the section asks who may record an event, and a printed plan records none.
    nobody: Any = AnonymousUser()
    stays = hub_selectors.stays_section(nobody, plan, participants, rows)
    return {
        "language": get_language(),
        "stamp": STAMP,
        "title_kind": DocumentKind.STAFF.label,
        "plan": plan,
        "patient": plan.patient,
        "conditions": list(plan.conditions.all()),
        "templates": hub_selectors.plan_templates_of(plan),
        "coordinator": _coordinator(plan),
        "substitute": _substitute(plan, participants),
        "goals": list(enumerate(goals, start=1)),
        "assessment": _latest_assessment(plan),
        "participants": participants,
        "sectors": sectors,
        "task_count": len(tasks),
        "disputes": _dispute_lines(disputes, numbers),
        "stays": _stay_lines(stays.stays, numbers),
        "relatives": _relative_lines(plan),
    }


def _task_lines(
    tasks: list[Task], goals: list[Goal], disputed: set[int]
) -> tuple[list[SectorTasks], dict[int, int]]:
    """The tasks grouped by the responsible organisation's sector in the plan page's order, numbered in
    the order the document lists them; {task id: number}."""
    order = [*hub_selectors.SECTOR_ORDER, Sector.OTHER]
    grouped: dict[str, list[Task]] = {sector: [] for sector in order}
    for task in tasks:
        sector = task.responsible_organisation.sector
        grouped[sector if sector in hub_selectors.SECTOR_ORDER else Sector.OTHER].append(task)
    numbers: dict[int, int] = {}
    for sector in order:
        for task in grouped[sector]:
            numbers[task.pk] = len(numbers) + 1
    goal_numbers = {goal.pk: number for number, goal in enumerate(goals, start=1)}
    groups = []
    for sector in order:
        if not grouped[sector]:
            continue
        lines = []
        for task in grouped[sector]:
            blocker = task.depends_on
            lines.append(
                TaskLine(
                    number=numbers[task.pk],
                    task=task,
                    goal_number=goal_numbers.get(task.goal_id) if task.goal_id else None,
                    depends_on_number=numbers.get(task.depends_on_id) if task.depends_on_id else None,
                    waiting=blocker is not None
                    and blocker.status != TaskStatus.COMPLETED
                    and task.status not in hub_selectors.CLOSED_TASK_STATUSES,
                    disputed=task.pk in disputed,
                )
            )
        groups.append(SectorTasks(sector=sector, label=str(Sector(sector).label), lines=lines))
    return groups, numbers


def _coordinator(plan: PathwayPlan) -> Person | None:
    if plan.coordinator is None:
        return None
    organisation = plan.coordinator_organisation
    return Person(
        name=_name(plan.coordinator),
        organisation=organisation.name if organisation else "",
        phone=plan.coordinator_phone or (organisation.phone if organisation else ""),
    )


def _substitute(plan: PathwayPlan, participants: Iterable[PlanParticipant]) -> Person | None:
    """The substitute with the organisation they work in among the plan's (the coordinator's first) and
    that organisation's phone: a staff member's own phone is not printed."""
    substitute = plan.coordinator_substitute
    if substitute is None:
        return None
    in_plan = {p.organisation_id for p in participants}
    if plan.coordinator_organisation_id is not None:
        in_plan.add(plan.coordinator_organisation_id)
    memberships = list(
        Membership.objects.active()
        .filter(user=substitute, organisation_id__in=in_plan)
        .select_related("organisation")
        .order_by("organisation__name", "id")
    )
    chosen = next(
        (m for m in memberships if m.organisation_id == plan.coordinator_organisation_id),
        memberships[0] if memberships else None,
    )
    return Person(
        name=_name(substitute),
        organisation=chosen.organisation.name if chosen else "",
        phone=chosen.organisation.phone if chosen else "",
    )


def _name(user: User) -> str:
    return user.get_full_name() or user.username


def _latest_assessment(plan: PathwayPlan) -> Assessment | None:
    assessment = (
        NeedAssessment.objects.filter(plan=plan)
        .select_related("assessed_by", "assessed_by_organisation")
        .order_by("-assessed_on", "-id")
        .first()
    )
    if assessment is None:
        return None
    labels = dict(NeedCriterion.choices)
    return Assessment(assessment, [str(labels[c]) for c in assessment.criteria if c in labels])


def _open_disputes(plan: PathwayPlan) -> list[Dispute]:
    return list(
        Dispute.objects.open()
        .filter(plan=plan)
        .select_related("task", "interim_organisation", "raised_by", "raised_by_organisation")
        .prefetch_related(
            Prefetch("parties", queryset=Organisation.objects.order_by("name", "id")),
            Prefetch("escalations", queryset=DisputeEscalation.objects.order_by("step")),
        )
        .order_by("raised_at", "id")
    )


def working_day_after(day: date, count: int) -> date:
    """The day `count` working days after `day` (weekends and Danish public holidays skipped): the day a
    rung of the ladder is reached, counted as coordination.services.working_days_between counts."""
    current = day
    while count > 0:
        current += timedelta(days=1)
        if outbox.is_working_day(current):
            count -= 1
    return current


def _dispute_lines(disputes: list[Dispute], numbers: dict[int, int]) -> list[DisputeLine]:
    """The open disputes, each with its escalation clock: every rung, the day it is reached and whether
    it was taken."""
    ladder = list(EscalationStep.objects.order_by("step")) if disputes else []
    lines = []
    for dispute in disputes:
        raised_on = timezone.localtime(dispute.raised_at).date()
        taken = {escalation.step: escalation.escalated_at for escalation in dispute.escalations.all()}
        steps = [
            LadderStep(
                step=rung.step,
                after_working_days=rung.after_working_days,
                target=str(rung.get_target_display()),
                reached_on=working_day_after(raised_on, rung.after_working_days),
                taken_at=taken.get(rung.step),
            )
            for rung in ladder
        ]
        lines.append(DisputeLine(dispute, numbers.get(dispute.task_id), list(dispute.parties.all()), steps))
    return lines


def _stay_lines(stays: list[hub_selectors.StayRow], numbers: dict[int, int]) -> list[StayLine]:
    def numbered(tasks: list[Task]) -> list[int]:
        return sorted(numbers[task.pk] for task in tasks if task.pk in numbers)

    return [
        StayLine(
            stay=row.stay,
            events=[
                StayEventLine(
                    transition=event.transition,
                    in_effect=event.in_effect,
                    paused=numbered(event.paused),
                    kept_on_hold=numbered(event.kept_on_hold),
                    resumed=numbered(event.resumed),
                    redated=numbered(event.redated),
                    created=numbered(event.created),
                    reminders_cancelled=event.reminders_cancelled,
                    plan_completed=event.plan_completed,
                )
                for event in row.events
            ],
        )
        for row in stays
    ]


def _relative_lines(plan: PathwayPlan) -> list[RelativeLine]:
    """The relatives on the plan, closest first, each with the patient's decision that counts and what it
    lets them see now (relatives.access: the one rule); a child with the checklist steps still open. The
    relative's own support record is not the plan's and is not printed."""
    relatives = list(Relative.objects.current().filter(plan=plan).order_by("-is_closest", "name", "id"))
    consents = relatives_access.latest_consents(relatives)
    open_steps: dict[int, list[str]] = {}
    if any(relative.is_child for relative in relatives):
        open_steps = {child.relative.pk: child.open_steps for child in open_child_checklists([plan.pk])}
    lines = []
    for relative in relatives:
        consent = consents.get(relative.pk)
        scope = relatives_access.scope_of(relative, consent)
        lines.append(
            RelativeLine(
                relative=relative,
                consent=consent,
                scope=str(scope),
                scope_label=str(ConsentScope(scope).label),
                open_steps=open_steps.get(relative.pk, []),
            )
        )
    return lines
