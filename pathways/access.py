"""The access policy: the one place that decides which patients, plans and tasks a user may see.

A staff user sees a plan when one of their organisations (active membership) takes part in it, or when
they are its coordinator or substitute coordinator. Everything else is invisible: the getters raise
Http404 for "missing" and "forbidden" alike, and a user matching no rule gets an empty queryset.
Every grant of patient data goes through here and writes an access-log row.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404

from pathways.choices import AccessAction, AccessPurpose
from pathways.models import (
    AccessLog,
    Membership,
    Organisation,
    PathwayPlan,
    Patient,
    PlanParticipant,
    Task,
    User,
)

_ORG_CACHE_ATTR = "_ff_active_organisation_ids"
_ACTING_CACHE_ATTR = "_ff_acting_organisation_ids"


def active_organisation_ids(user: Any) -> frozenset[int]:
    """The organisations the user currently belongs to; cached on the user object for the request."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return frozenset()
    cached: frozenset[int] | None = getattr(user, _ORG_CACHE_ATTR, None)
    if cached is None:
        cached = frozenset(
            Membership.objects.active().filter(user=user).values_list("organisation_id", flat=True)
        )
        setattr(user, _ORG_CACHE_ATTR, cached)
    return cached


def plans_visible_to(user: Any) -> QuerySet[PathwayPlan]:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return PathwayPlan.objects.none()
    org_ids = active_organisation_ids(user)
    by_role = Q(coordinator=user) | Q(coordinator_substitute=user)
    if not org_ids:
        return PathwayPlan.objects.filter(by_role)
    by_organisation = Exists(PlanParticipant.objects.filter(plan=OuterRef("pk"), organisation_id__in=org_ids))
    return PathwayPlan.objects.filter(by_role | by_organisation)


def patients_visible_to(user: Any) -> QuerySet[Patient]:
    return Patient.objects.filter(Exists(plans_visible_to(user).filter(patient=OuterRef("pk"))))


def tasks_visible_to(user: Any) -> QuerySet[Task]:
    return Task.objects.filter(Exists(plans_visible_to(user).filter(pk=OuterRef("plan_id"))))


def _organisation_per_plan(user: User, plan_ids: Iterable[int]) -> dict[int, int | None]:
    """For each plan, the user's organisation through which they see it, as the access log records it."""
    org_ids = active_organisation_ids(user)
    acting: dict[int, int | None] = dict.fromkeys(plan_ids)
    if org_ids and acting:
        rows = PlanParticipant.objects.filter(plan_id__in=list(acting), organisation_id__in=org_ids)
        for plan_id, organisation_id in rows.order_by("id").values_list("plan_id", "organisation_id"):
            if acting[plan_id] is None:
                acting[plan_id] = organisation_id
    return acting


def access_log_plans(
    user: User,
    plans: Iterable[PathwayPlan],
    *,
    action: AccessAction,
    purpose: AccessPurpose = AccessPurpose.TREATMENT,
) -> None:
    """Write one access-log row per plan the user has just been shown (one INSERT for all)."""
    plans = list(plans)
    if not plans:
        return
    acting = _organisation_per_plan(user, (p.pk for p in plans))
    AccessLog.objects.bulk_create(
        AccessLog(
            actor=user,
            organisation_id=acting[plan.pk] or plan.coordinator_organisation_id,
            patient_id=plan.patient_id,
            plan=plan,
            action=action,
            purpose=purpose,
        )
        for plan in plans
    )


def access_plan(
    user: Any,
    public_id: UUID | str,
    *,
    action: AccessAction = AccessAction.VIEW_PLAN,
    queryset: QuerySet[PathwayPlan] | None = None,
) -> PathwayPlan:
    """The plan if the user may see it (logged), otherwise Http404 — the same for missing and forbidden."""
    base = queryset if queryset is not None else PathwayPlan.objects.all()
    visible = base.filter(pk__in=plans_visible_to(user).values("pk"))
    try:
        plan = visible.select_related("patient").get(public_id=public_id)
    except (PathwayPlan.DoesNotExist, ValueError):
        raise Http404 from None
    access_log_plans(user, [plan], action=action)
    return plan


def access_task(user: Any, public_id: UUID | str) -> Task:
    """The task if the user may see its plan, otherwise Http404 (the caller logs the read)."""
    try:
        return (
            tasks_visible_to(user)
            .select_related("plan", "responsible_organisation", "depends_on")
            .get(public_id=public_id)
        )
    except (Task.DoesNotExist, ValueError):
        raise Http404 from None


def acting_organisation_ids(user: Any) -> frozenset[int]:
    """The organisations the user acts for: their own and the units directly under them (a municipality's
    staff act for its home nursing, a hospital's for its departments)."""
    cached: frozenset[int] | None = getattr(user, _ACTING_CACHE_ATTR, None)
    if cached is None:
        own = active_organisation_ids(user)
        children = Organisation.objects.filter(parent_id__in=own).values_list("id", flat=True) if own else []
        cached = own | frozenset(children)
        setattr(user, _ACTING_CACHE_ATTR, cached)
    return cached


@dataclass(frozen=True)
class PlanRights:
    """What a user who may see a plan may also change in it.

    The plan's coordinator (and substitute) changes everything; everyone else changes the tasks of the
    organisations they act for and accepts those organisations' commitments; the rest they only read.
    """

    is_coordinator: bool
    acting_organisation_ids: frozenset[int]

    @property
    def can_edit_plan(self) -> bool:
        return self.is_coordinator

    def can_edit_task(self, task: Task) -> bool:
        return self.is_coordinator or task.responsible_organisation_id in self.acting_organisation_ids

    def can_accept(self, participant: PlanParticipant) -> bool:
        return participant.organisation_id in self.acting_organisation_ids

    def can_add_task_for(self, organisation_id: int) -> bool:
        return self.is_coordinator or organisation_id in self.acting_organisation_ids


def plan_rights(user: User, plan: PathwayPlan) -> PlanRights:
    return PlanRights(
        is_coordinator=user.pk in (plan.coordinator_id, plan.coordinator_substitute_id),
        acting_organisation_ids=acting_organisation_ids(user),
    )
