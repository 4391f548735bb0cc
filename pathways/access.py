"""The access policy: the one place that decides which patients, plans and tasks a user may see.

A staff user sees a plan when one of their organisations (active membership) takes part in it, or when
they are its coordinator or substitute coordinator. Everything else is invisible: the getters raise
Http404 for "missing" and "forbidden" alike, and a user matching no rule gets an empty queryset.
Every grant of patient data goes through here and writes an access-log row.

Break the glass: a clinician outside a plan may open that one plan, read only, for a few hours after
giving a reason (services.emergency_access_grant). Such a grant opens the plan page (access_plan) but
does not put the patient in any list; each read is logged with purpose "emergency" and the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db.models import Exists, Model, OuterRef, Q, QuerySet
from django.http import Http404

from pathways.audit import PatientRead, access_log_write, security_event_record
from pathways.choices import (
    PLAN_OPEN_STATUSES,
    AccessAction,
    AccessPurpose,
    DocumentKind,
    MembershipRole,
    NotificationChannel,
    NotificationState,
    SecurityEventKind,
)
from pathways.models import (
    EmergencyAccess,
    Goal,
    Membership,
    Notification,
    NotificationQuerySet,
    Organisation,
    PathwayPlan,
    Patient,
    PlanDocument,
    PlanParticipant,
    Task,
    Transition,
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


def active_organisation_ids_known(user: Any, organisation_ids: Iterable[int]) -> None:
    """What active_organisation_ids answers for this user object, read with it (signin.backends)."""
    setattr(user, _ORG_CACHE_ATTR, frozenset(organisation_ids))


def coordinated_by(user: Any, *, via: str = "") -> Q:
    """The one rule for "the plan's coordinator or substitute", as a filter on plans (or on rows that
    reach a plan through `via`, e.g. "plan__"). `is_coordinator` says the same of a loaded plan."""
    return Q(**{f"{via}coordinator": user}) | Q(**{f"{via}coordinator_substitute": user})


def is_coordinator(user: Any, plan: PathwayPlan) -> bool:
    return user.pk is not None and user.pk in (plan.coordinator_id, plan.coordinator_substitute_id)


def plans_visible_to(user: Any) -> QuerySet[PathwayPlan]:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return PathwayPlan.objects.none()
    org_ids = active_organisation_ids(user)
    by_role = coordinated_by(user)
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
    reads = (
        PatientRead(
            patient_id=plan.patient_id,
            plan_id=plan.pk,
            organisation_id=acting[plan.pk] or plan.coordinator_organisation_id,
        )
        for plan in plans
    )
    access_log_write(actor=user, reads=reads, action=action, purpose=purpose)


def _emergency_access(
    user: Any, public_id: UUID | str, base: QuerySet[PathwayPlan]
) -> tuple[PathwayPlan, EmergencyAccess] | None:
    """The plan and the user's current emergency access to it, else None."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    grant = (
        EmergencyAccess.objects.current()
        .filter(actor=user, plan__public_id=public_id)
        .order_by("-expires_at")
        .first()
    )
    if grant is None:
        return None
    return base.select_related("patient").get(pk=grant.plan_id), grant


def _record_refusal(user: Any, public_id: UUID | str) -> None:
    """A signed-in user asked for a plan that exists but is not theirs: a security event (no patient data)."""
    if getattr(user, "is_authenticated", False) and PathwayPlan.objects.filter(public_id=public_id).exists():
        security_event_record(
            kind=SecurityEventKind.PERMISSION_DENIED, user=user, detail={"plan": str(public_id)}
        )


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


READ_ONLY = PlanRights(is_coordinator=False, acting_organisation_ids=frozenset())


@dataclass(frozen=True)
class PlanAccess:
    """A plan a user may see, what they may change in it, and the emergency access it was opened
    through (None: the user takes part in the plan). The only way views get hold of a plan."""

    plan: PathwayPlan
    rights: PlanRights
    emergency: EmergencyAccess | None = None


def access_plan(
    user: Any,
    public_id: UUID | str,
    *,
    action: AccessAction = AccessAction.VIEW_PLAN,
    queryset: QuerySet[PathwayPlan] | None = None,
) -> PlanAccess:
    """The plan if the user may see it (logged), otherwise Http404 — the same for missing and forbidden."""
    base = queryset if queryset is not None else PathwayPlan.objects.all()
    visible = base.filter(pk__in=plans_visible_to(user).values("pk"))
    try:
        plan = visible.select_related("patient").get(public_id=public_id)
    except (ValidationError, ValueError):
        raise Http404 from None
    except PathwayPlan.DoesNotExist:
        found = _emergency_access(user, public_id, base)
        if found is None:
            _record_refusal(user, public_id)
            raise Http404 from None
        plan, grant = found
        access_log_write(
            actor=user,
            reads=[PatientRead(plan.patient_id, plan.pk, grant.organisation_id)],
            action=action,
            purpose=AccessPurpose.EMERGENCY,
            reason=grant.reason,
        )
        return PlanAccess(plan=plan, rights=READ_ONLY, emergency=grant)
    access_log_plans(user, [plan], action=action)
    return PlanAccess(plan=plan, rights=rights_for(user, plan))


def rights_for(user: Any, plan: PathwayPlan) -> PlanRights:
    """What the user may change in a plan they take part in."""
    return PlanRights(
        is_coordinator=is_coordinator(user, plan), acting_organisation_ids=acting_organisation_ids(user)
    )


def may_change(
    actor: User | None,
    plan: PathwayPlan,
    allowed: Callable[[PlanRights], bool],
    *,
    admin_permission: str,
) -> bool:
    """Whether `actor` may make a change in `plan` that `allowed` asks of their rights. Services ask this
    before they write; pages ask `rights_for` first only to decide what to show.

    - No actor: the product itself (seed data, workers, data migrations).
    - An administrator with the model permission in the admin: they meet the same validation as the page.
    - A plan with no coordinator yet is set up by whoever created it and the organisations taking part
      in it: they may activate it, name its coordinator and add its first goals and tasks.
    - Otherwise the plan's rights decide (coordinator, substitute, responsible organisation).
    """
    if actor is None:
        return True
    if actor.is_active and actor.is_staff and actor.has_perm(admin_permission):
        return True
    if plan.coordinator_id is None and (
        plan.created_by_id == actor.pk
        or plan.participants.filter(organisation_id__in=acting_organisation_ids(actor)).exists()
    ):
        return True
    return allowed(rights_for(actor, plan))


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


_M = TypeVar("_M", bound=Model)


def one_of(objects: QuerySet[_M], public_id: UUID | str) -> _M:
    """The object with `public_id` among those the user may reach (`objects`, already scoped by the
    policy); Http404 if it is not among them or the id is no id."""
    try:
        found = objects.filter(public_id=public_id).first()
    except (ValidationError, ValueError):
        raise Http404 from None
    if found is None:
        raise Http404
    return found


def access_plan_task(plan_access: PlanAccess, task_id: UUID | str) -> Task:
    related = ("responsible_organisation", "responsible_person", "depends_on", "goal")
    return one_of(plan_access.plan.tasks.select_related(*related), task_id)


def access_goal(plan_access: PlanAccess, goal_id: UUID | str) -> Goal:
    return one_of(plan_access.plan.goals.all(), goal_id)


def access_participant(plan_access: PlanAccess, participant_id: UUID | str) -> PlanParticipant:
    return one_of(plan_access.plan.participants.all(), participant_id)


def access_transition(plan_access: PlanAccess, transition_id: UUID | str) -> Transition:
    """A hospital event of the plan (pathways.stays), with its stay."""
    return one_of(plan_access.plan.transitions.select_related("stay__hospital"), transition_id)


def access_emergency_grant_as_coordinator(user: Any, access_id: UUID | str) -> EmergencyAccess:
    """An emergency access to a plan the user coordinates (or substitutes for), to mark it seen."""
    grant = (
        EmergencyAccess.objects.filter(coordinated_by(user, via="plan__"), public_id=access_id)
        .select_related("plan")
        .first()
    )
    if grant is None:
        raise Http404
    return grant


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


def emergency_plan_for(cpr: str) -> PathwayPlan | None:
    """Break the glass: the patient's open plan (else the latest) by CPR number, for a clinician who has
    stated a reason. The one look-up outside the plans a user belongs to; the caller logs and grants."""
    plans = PathwayPlan.objects.filter(patient__cpr=cpr).select_related("patient")
    open_plan = plans.filter(status__in=PLAN_OPEN_STATUSES).first()
    return open_plan or plans.order_by("-created_at").first()


def emergency_organisations(user: Any) -> QuerySet[Organisation]:
    """The organisations a user may break the glass for: where they work as clinician or coordinator."""
    return Organisation.objects.filter(
        memberships__user=user,
        memberships__ended_at__isnull=True,
        memberships__role__in=[MembershipRole.CLINICIAN, MembershipRole.COORDINATOR],
    ).order_by("name")


# A public id as it arrives: parsed by the URL converter, or a string from a form or a test.
PublicId = UUID | str


def notifications_visible_to(user: Any) -> NotificationQuerySet:
    """The user's in-app messages that have arrived (sent), in plans the user may still see. A message
    about a plan the user has since left stays addressed to them but is shown nowhere and counted nowhere."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Notification.objects.none()
    return Notification.objects.addressed_to(user).filter(
        channel=NotificationChannel.IN_APP,
        state=NotificationState.SENT,
        plan__in=plans_visible_to(user),
    )


def access_notification(user: Any, public_id: PublicId) -> Notification:
    """One of the user's own messages, with its plan's patient and its task, otherwise Http404 — the same
    for another user's message, one not yet arrived, one about a plan the user no longer sees and one that
    does not exist. The caller logs the read when it shows the message."""
    return one_of(notifications_visible_to(user).select_related("plan__patient", "task"), public_id)


def letters_visible_to(user: Any) -> NotificationQuerySet:
    """Letters to patients waiting in a print queue the user works at: the plan's coordinator's
    organisation prints them (or, while a plan has no coordinator, the organisations taking part)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Notification.objects.none()
    own = active_organisation_ids(user)
    return Notification.objects.filter(
        Q(plan__coordinator_organisation_id__in=own)
        | Q(
            plan__coordinator_organisation__isnull=True,
            plan__in=PathwayPlan.objects.filter(participants__organisation_id__in=own),
        ),
        channel=NotificationChannel.LETTER,
        state=NotificationState.SENT,
    )


def access_letter(user: Any, public_id: PublicId) -> Notification:
    """A letter in the user's print queue, otherwise Http404 (the caller logs the read)."""
    letters = letters_visible_to(user).select_related(
        "plan__patient", "plan__coordinator", "plan__coordinator_organisation", "task"
    )
    return one_of(letters, public_id)


# --- printable documents (issue 15) ---
# A plan's documents are seen by those who see the plan (plans_visible_to): they may ask for them and open
# them. An emergency access reads the plan page only; it prints nothing. A letter's PDF follows its letter:
# those whose print queue holds the letter (letters_visible_to).


def documents_visible_to(user: Any) -> QuerySet[PlanDocument]:
    """The printable documents the user may open, without their HTML and PDF (`listed()`)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return PlanDocument.objects.none()
    of_plans = Q(plan__in=plans_visible_to(user)) & ~Q(kind=DocumentKind.LETTER)
    of_letters = Q(kind=DocumentKind.LETTER, notification__in=letters_visible_to(user))
    return PlanDocument.objects.listed().filter(of_plans | of_letters)


def access_document(user: Any, public_id: PublicId) -> PlanDocument:
    """A document the user may open, with its plan, patient and who asked for it; otherwise Http404, the
    same for one that does not exist, one of a plan the user does not see and a letter outside their print
    queue. The caller logs the read when it shows patient data (access_log_plans)."""
    documents = documents_visible_to(user).select_related("plan__patient", "requested_by")
    return one_of(documents, public_id)


def access_plan_taking_part(
    user: Any,
    public_id: PublicId,
    *,
    action: AccessAction | None,
    queryset: QuerySet[PathwayPlan] | None = None,
) -> PlanAccess:
    """The plan only for those who take part in it — no emergency access: what leaves the product (a
    printed plan, a FHIR export) or changes the plan from another system (the API's writes) — otherwise
    Http404 (a plan that exists is a refusal recorded as a security event, as access_plan does). Logged
    with `action` unless None (a request that shows nothing of the plan)."""
    base = queryset if queryset is not None else PathwayPlan.objects.all()
    try:
        plan = (
            base.filter(pk__in=plans_visible_to(user).values("pk"))
            .select_related("patient")
            .get(public_id=public_id)
        )
    except (ValidationError, ValueError):
        raise Http404 from None
    except PathwayPlan.DoesNotExist:
        _record_refusal(user, public_id)
        raise Http404 from None
    if action is not None:
        access_log_plans(user, [plan], action=action)
    return PlanAccess(plan=plan, rights=rights_for(user, plan))


def access_plan_documents(user: Any, public_id: PublicId, *, action: AccessAction | None) -> PlanAccess:
    """The plan, to ask for its documents and list them: only for those who take part in it."""
    return access_plan_taking_part(user, public_id, action=action)
