"""Reads for the staff pages. Each starts from access.py and fetches what its page shows in a
constant number of queries, whatever the number of patients, tasks or organisations."""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID

from django.db.models import Count, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from pathways import access
from pathways.choices import PLAN_OPEN_STATUSES, TASK_OPEN_STATUSES, Sector
from pathways.models import Goal, PathwayPlan, PlanCondition, PlanParticipant, Task, User


def caseload_for(actor: User, *, query: str = "") -> QuerySet[PathwayPlan]:
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
        .order_by("patient__family_name", "patient__given_name", "id")
    )
    for word in query.split():
        plans = plans.filter(Q(patient__given_name__icontains=word) | Q(patient__family_name__icontains=word))
    return plans


SECTOR_ORDER = [Sector.HOSPITAL, Sector.PSYCHIATRY, Sector.MUNICIPALITY, Sector.GENERAL_PRACTICE]


@dataclass
class SectorGroup:
    sector: str
    label: str
    tasks: list[Task] = field(default_factory=list)


@dataclass
class PlanPage:
    plan: PathwayPlan
    goals: list[Goal]
    tasks: list[Task]
    participants: list[PlanParticipant]
    by_sector: list[SectorGroup]
    today: object


def _sector_group_key(sector: str) -> str:
    return sector if sector in SECTOR_ORDER else Sector.OTHER


def plan_page_for(actor: User, public_id: UUID) -> PlanPage:
    """Everything the plan page shows; raises Http404 outside the access policy; logs the read."""
    plan = access.access_plan(
        actor,
        public_id,
        queryset=PathwayPlan.objects.select_related(
            "coordinator", "coordinator_organisation", "coordinator_substitute"
        ).prefetch_related("conditions"),
    )
    goals = list(plan.goals.order_by("sort_order", "id"))
    tasks = list(
        plan.tasks.select_related(
            "responsible_organisation", "responsible_person", "depends_on", "goal"
        ).order_by("due_date", "id")
    )
    participants = list(
        plan.participants.select_related("organisation", "accepted_by").order_by("organisation__name")
    )
    groups: dict[str, SectorGroup] = {
        s: SectorGroup(sector=s, label=str(Sector(s).label)) for s in [*SECTOR_ORDER, Sector.OTHER]
    }
    for task in tasks:
        groups[_sector_group_key(task.responsible_organisation.sector)].tasks.append(task)
    return PlanPage(
        plan=plan,
        goals=goals,
        tasks=tasks,
        participants=participants,
        by_sector=[g for g in groups.values() if g.tasks],
        today=timezone.localdate(),
    )
