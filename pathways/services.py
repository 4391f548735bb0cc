"""Writes of the hub. Keyword-only, typed, atomic; transitions checked against choices.py; a repeated
transition is a no-op; optimistic locking on `version` against lost updates between coordinators."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F, ForeignKey, Model
from django.utils import timezone
from django.utils.translation import gettext as _

from pathways import access, outbox
from pathways.audit import RequestOrigin, security_event_record
from pathways.choices import (
    GOAL_TRANSITIONS,
    PLAN_TRANSITIONS,
    TASK_TRANSITIONS,
    ContactChannel,
    GoalStatus,
    MembershipRole,
    PlanStatus,
    SecurityEventKind,
    TaskKind,
    TaskStatus,
)
from pathways.cpr import cpr_parse
from pathways.models import (
    EmergencyAccess,
    Goal,
    Membership,
    Notification,
    Organisation,
    PathwayPlan,
    Patient,
    PlanCondition,
    PlanParticipant,
    Task,
    Transition,
    User,
)


class TransitionNotAllowed(ValidationError):
    pass


class VersionConflict(Exception):
    """Someone else changed the object since the user loaded it; `current` holds the fresh row."""

    def __init__(self, current: Any) -> None:
        super().__init__(_("Someone else has changed this in the meantime."))
        self.current = current


@transaction.atomic
def membership_add(*, user: User, organisation: Organisation, role: MembershipRole) -> Membership:
    membership, _created = Membership.objects.get_or_create(
        user=user, organisation=organisation, ended_at=None, defaults={"role": role}
    )
    return membership


@transaction.atomic
def patient_create(
    *,
    cpr: str,
    given_name: str,
    family_name: str,
    home_municipality: str,
    address: str = "",
    postal_code: str = "",
    city: str = "",
    phone: str = "",
    email: str = "",
    preferred_contact: ContactChannel = ContactChannel.DIGITAL,
    language: str = "da",
    interpreter_needed: bool = False,
    general_practice: Organisation | None = None,
) -> Patient:
    parsed = cpr_parse(cpr)
    patient = Patient(
        cpr=parsed.number,
        birth_date=parsed.birth_date,
        given_name=given_name,
        family_name=family_name,
        home_municipality=home_municipality,
        address=address,
        postal_code=postal_code,
        city=city,
        phone=phone,
        email=email,
        preferred_contact=preferred_contact,
        language=language,
        interpreter_needed=interpreter_needed,
        general_practice=general_practice,
    )
    patient.full_clean()
    patient.save()
    return patient


@transaction.atomic
def plan_create(
    *,
    actor: User | None,
    patient: Patient,
    title: str,
    what_matters: str = "",
    conditions: Iterable[tuple[str, str]] = (),
    review_date: date | None = None,
    participants: Iterable[Organisation] = (),
) -> PathwayPlan:
    """A draft plan for the patient. Fails if the patient already has a current plan (constraint)."""
    Patient.objects.select_for_update().get(pk=patient.pk)
    plan = PathwayPlan(
        patient=patient, title=title, what_matters=what_matters, review_date=review_date, created_by=actor
    )
    plan.full_clean()
    plan.save()
    PlanCondition.objects.bulk_create(
        PlanCondition(plan=plan, display=display, icd10_code=code) for display, code in conditions
    )
    for organisation in participants:
        participant_add(actor=actor, plan=plan, organisation=organisation)
    return plan


def _set_changed(instance: Model, values: dict[str, Any]) -> list[str]:
    """Put `values` on a locked row; the names of the fields whose value really changes.

    Foreign keys are compared by id, so an unchanged relation costs no query. An empty list means the
    user saved what was already there: the caller then writes nothing (no new version, no history).
    """
    changed = []
    for name, value in values.items():
        field = instance._meta.get_field(name)
        if isinstance(field, ForeignKey):
            if getattr(instance, field.attname) != (value.pk if value is not None else None):
                changed.append(name)
        elif getattr(instance, name) != value:
            changed.append(name)
        setattr(instance, name, value)
    return changed


def _save_new_version(instance: PathwayPlan | Task | Goal, changed: list[str]) -> None:
    """Save only the changed fields of a locked row and raise its version (optimistic locking)."""
    instance.version = F("version") + 1
    instance.save(update_fields=[*changed, "version", "updated_at"])
    instance.refresh_from_db()


def _require(
    actor: User | None, plan: PathwayPlan, allowed: Callable[[access.PlanRights], bool], model: str
) -> None:
    """Refuse a change the actor may not make (PermissionDenied: the page shows 403, the API 403)."""
    if not access.may_change(actor, plan, allowed, admin_permission=f"pathways.change_{model}"):
        raise PermissionDenied


def _can_edit_plan(rights: access.PlanRights) -> bool:
    return rights.can_edit_plan


def _locked_plan(plan: PathwayPlan, expected_version: int | None) -> PathwayPlan:
    locked = PathwayPlan.objects.select_for_update().get(pk=plan.pk)
    if expected_version is not None and locked.version != expected_version:
        raise VersionConflict(locked)
    return locked


@transaction.atomic
def plan_transition(
    *,
    actor: User | None,
    plan: PathwayPlan,
    to_status: PlanStatus,
    expected_version: int | None = None,
) -> PathwayPlan:
    locked = _locked_plan(plan, expected_version)
    _require(actor, locked, _can_edit_plan, "pathwayplan")
    if locked.status == to_status:
        return locked
    if to_status not in PLAN_TRANSITIONS[locked.status]:
        raise TransitionNotAllowed(
            _("A plan that is %(from)s cannot become %(to)s.")
            % {"from": locked.get_status_display(), "to": PlanStatus(to_status).label},
            code="plan_transition",
        )
    _save_new_version(locked, _set_changed(locked, {"status": to_status}))
    outbox.plan_status_changed(plan=locked, actor=actor)
    outbox.plan_reminders_sync(plan=locked)
    return locked


@transaction.atomic
def plan_update_what_matters(
    *,
    actor: User | None,
    plan: PathwayPlan,
    what_matters: str,
    expected_version: int | None = None,
) -> PathwayPlan:
    locked = _locked_plan(plan, expected_version)
    _require(actor, locked, _can_edit_plan, "pathwayplan")
    changed = _set_changed(locked, {"what_matters": what_matters})
    if changed:
        _save_new_version(locked, changed)
    return locked


@transaction.atomic
def plan_update(
    *,
    actor: User | None,
    plan: PathwayPlan,
    expected_version: int,
    title: str,
    what_matters: str,
    review_date: date | None,
) -> PathwayPlan:
    """Rename the plan, reword what matters to the patient, move its review date."""
    locked = _locked_plan(plan, expected_version)
    _require(actor, locked, _can_edit_plan, "pathwayplan")
    changed = _set_changed(locked, {"title": title, "what_matters": what_matters, "review_date": review_date})
    if changed:
        locked.full_clean(exclude=["version"])
        _save_new_version(locked, changed)
    return locked


def _coordinator_in(user: User, organisation_ids: Any) -> bool:
    return (
        user.is_active
        and Membership.objects.active()
        .filter(user=user, organisation_id__in=organisation_ids, role=MembershipRole.COORDINATOR)
        .exists()
    )


def _check_coordinator_roles(
    plan: PathwayPlan, *, coordinator: User, organisation: Organisation, substitute: User | None
) -> None:
    taking_part = plan.participants.values("organisation_id")
    if not plan.participants.filter(organisation=organisation).exists():
        raise ValidationError(
            {"coordinator_organisation": _("The coordinator's organisation must take part in the plan.")},
            code="coordinator_org",
        )
    if not _coordinator_in(coordinator, [organisation.pk]):
        raise ValidationError(
            {
                "coordinator": _(
                    "Only a user with the coordinator role in %(organisation)s can be the plan's coordinator."
                )
                % {"organisation": organisation.name}
            },
            code="coordinator_role",
        )
    if substitute is None:
        return
    if substitute.pk == coordinator.pk:
        raise ValidationError(
            {"coordinator_substitute": _("The substitute must be someone other than the coordinator.")},
            code="substitute_same",
        )
    if not _coordinator_in(substitute, taking_part):
        raise ValidationError(
            {
                "coordinator_substitute": _(
                    "Only a user with the coordinator role in an organisation taking part in the plan can be "
                    "the substitute."
                )
            },
            code="substitute_role",
        )


@transaction.atomic
def coordinator_assign(
    *,
    actor: User | None,
    plan: PathwayPlan,
    coordinator: User,
    organisation: Organisation,
    phone: str = "",
    substitute: User | None = None,
    expected_version: int | None = None,
) -> PathwayPlan:
    """Name the plan's coordinator (and substitute). Only a user with the coordinator role can be either:
    the coordinator in `organisation`, which takes part in the plan, the substitute in any organisation
    taking part. Rights first, then the rule, so a refused actor learns nothing about the people."""
    locked = _locked_plan(plan, expected_version)
    _require(actor, locked, _can_edit_plan, "pathwayplan")
    _check_coordinator_roles(
        locked, coordinator=coordinator, organisation=organisation, substitute=substitute
    )
    changed = _set_changed(
        locked,
        {
            "coordinator": coordinator,
            "coordinator_organisation": organisation,
            "coordinator_phone": phone or coordinator.phone,
            "coordinator_substitute": substitute,
        },
    )
    if changed:
        _save_new_version(locked, changed)
    return locked


@transaction.atomic
def participant_add(
    *, actor: User | None, plan: PathwayPlan, organisation: Organisation, commitment: str = ""
) -> PlanParticipant:
    participant, _created = PlanParticipant.objects.get_or_create(
        plan=plan, organisation=organisation, defaults={"commitment": commitment, "added_by": actor}
    )
    return participant


@transaction.atomic
def participant_accept(*, actor: User, participant: PlanParticipant) -> PlanParticipant:
    locked = (
        PlanParticipant.objects.select_for_update(of=("self",)).select_related("plan").get(pk=participant.pk)
    )
    _require(actor, locked.plan, lambda rights: rights.can_accept(locked), "planparticipant")
    if locked.accepted_at is not None:
        return locked
    locked.accepted_at = timezone.now()
    locked.accepted_by = actor
    locked.save(update_fields=["accepted_at", "accepted_by"])
    return locked


@transaction.atomic
def goal_create(
    *,
    actor: User | None,
    plan: PathwayPlan,
    description: str,
    expected_result: str = "",
    target_date: date | None = None,
    template_key: str = "",
) -> Goal:
    plan = PathwayPlan.objects.select_for_update().get(pk=plan.pk)  # one sort order per goal
    _require(actor, plan, _can_edit_plan, "goal")
    order = plan.goals.count()
    goal = Goal(
        plan=plan,
        description=description,
        expected_result=expected_result,
        target_date=target_date,
        sort_order=order,
        template_key=template_key,
        created_by=actor,
    )
    goal.full_clean()
    goal.save()
    return goal


@transaction.atomic
def task_create(
    *,
    actor: User | None,
    plan: PathwayPlan,
    title: str,
    responsible_organisation: Organisation,
    kind: TaskKind = TaskKind.OTHER,
    description: str = "",
    goal: Goal | None = None,
    responsible_person: User | None = None,
    window_start: date | None = None,
    due_date: date | None = None,
    status: TaskStatus = TaskStatus.REQUESTED,
    visible_to_patient: bool = True,
    depends_on: Task | None = None,
    template_key: str = "",
    created_by_transition: Transition | None = None,
) -> Task:
    current = PathwayPlan.objects.get(pk=plan.pk)  # the rights of now, not of the caller's copy
    _require(actor, current, lambda rights: rights.can_add_task_for(responsible_organisation.pk), "task")
    task = Task(
        plan=plan,
        title=title,
        description=description,
        kind=kind,
        goal=goal,
        responsible_organisation=responsible_organisation,
        responsible_person=responsible_person,
        window_start=window_start,
        due_date=due_date,
        status=status,
        visible_to_patient=visible_to_patient,
        depends_on=depends_on,
        template_key=template_key,
        created_by_transition=created_by_transition,
        created_by=actor,
        completed_at=timezone.now() if status == TaskStatus.COMPLETED else None,
    )
    task.full_clean()
    task.save()
    # The responsible organisation takes part in the plan by having a task in it.
    participant_add(actor=actor, plan=plan, organisation=responsible_organisation)
    outbox.task_assigned(task=task, actor=actor)
    outbox.task_reminders_sync(task=task)
    return task


@transaction.atomic
def task_transition(
    *,
    actor: User | None,
    task: Task,
    to_status: TaskStatus,
    expected_version: int | None = None,
) -> Task:
    locked = Task.objects.select_for_update(of=("self",)).select_related("plan").get(pk=task.pk)
    _require(actor, locked.plan, lambda rights: rights.can_edit_task(locked), "task")
    if expected_version is not None and locked.version != expected_version:
        raise VersionConflict(locked)
    if locked.status == to_status:
        return locked
    if to_status not in TASK_TRANSITIONS[locked.status]:
        raise TransitionNotAllowed(
            _("A task that is %(from)s cannot become %(to)s.")
            % {"from": locked.get_status_display(), "to": TaskStatus(to_status).label},
            code="task_transition",
        )
    completed_at = timezone.now() if to_status == TaskStatus.COMPLETED else None
    _save_new_version(locked, _set_changed(locked, {"status": to_status, "completed_at": completed_at}))
    outbox.task_reminders_sync(task=locked)
    if to_status == TaskStatus.COMPLETED:
        outbox.tasks_released(task=locked, actor=actor)
    return locked


@transaction.atomic
def task_change_by_hospital_event(
    *,
    task: Task,
    status: TaskStatus,
    hold_reason: str,
    window_start: date | None,
    due_date: date | None,
) -> Task:
    """A hospital event puts a task on hold, resumes it, gives it new dates or cancels a follow-up it made
    (pathways.stays, which records what it did so that it can be undone). The product's own change: stays
    has checked that the actor may record the event, whoever is responsible for the task. Transitions as
    TASK_TRANSITIONS; only what changes is written (a new version, reminders following)."""
    locked = Task.objects.select_for_update(of=("self",)).get(pk=task.pk)
    if status != locked.status and status not in TASK_TRANSITIONS[locked.status]:
        raise TransitionNotAllowed(
            _("A task that is %(from)s cannot become %(to)s.")
            % {"from": locked.get_status_display(), "to": TaskStatus(status).label},
            code="task_transition",
        )
    values = {
        "status": status,
        "hold_reason": hold_reason,
        "window_start": window_start,
        "due_date": due_date,
    }
    changed = _set_changed(locked, values)
    if changed:
        _save_new_version(locked, changed)
        outbox.task_reminders_sync(task=locked)
    return locked


@transaction.atomic
def plan_status_by_hospital_event(*, plan: PathwayPlan, to_status: PlanStatus) -> PathwayPlan:
    """A death completes the plan whatever its open status, and cancelling the death (AN_MORS) puts back
    the status it had, a completed plan included: outside PLAN_TRANSITIONS, for pathways.stays only, which
    has checked the actor's rights and tells the participants itself. Reminders follow the status."""
    locked = PathwayPlan.objects.select_for_update().get(pk=plan.pk)
    changed = _set_changed(locked, {"status": to_status})
    if changed:
        _save_new_version(locked, changed)
        outbox.plan_reminders_sync(plan=locked)
    return locked


@transaction.atomic
def task_responsibility_move(
    *, actor: User | None, task: Task, organisation: Organisation, expected_version: int | None = None
) -> Task:
    """Make `organisation` responsible for the task (e.g. a resolved responsibility dispute). The
    responsible person stays only if they work there; the organisation takes part in the plan from now.
    Only the plan's coordinator (or an administrator, or the product itself) moves a task to another
    organisation."""
    locked = Task.objects.select_for_update(of=("self",)).select_related("plan").get(pk=task.pk)
    _require(actor, locked.plan, _can_edit_plan, "task")
    if expected_version is not None and locked.version != expected_version:
        raise VersionConflict(locked)
    person = locked.responsible_person
    if (
        person is not None
        and not Membership.objects.active().filter(user=person, organisation=organisation).exists()
    ):
        person = None
    changed = _set_changed(locked, {"responsible_organisation": organisation, "responsible_person": person})
    if not changed:
        return locked
    _save_new_version(locked, changed)
    participant_add(actor=actor, plan=locked.plan, organisation=organisation)
    outbox.task_reminders_sync(task=locked)
    return locked


def _depends_on_cycle(task: Task, depends_on: Task | None) -> bool:
    """Whether making `task` wait for `depends_on` would close a loop (a waits for b waits for a)."""
    seen: set[int] = set()
    current = depends_on
    while current is not None:
        if current.pk == task.pk or current.pk in seen:
            return True
        seen.add(current.pk)
        current = current.depends_on
    return False


@transaction.atomic
def task_update(
    *,
    actor: User | None,
    task: Task,
    expected_version: int,
    title: str,
    kind: TaskKind,
    responsible_organisation: Organisation,
    responsible_person: User | None,
    window_start: date | None,
    due_date: date | None,
    description: str,
    goal: Goal | None,
    depends_on: Task | None,
    visible_to_patient: bool,
) -> Task:
    """Change what a task is, who does it and when. Raises VersionConflict if someone else got there first
    and ValidationError for a task that would wait for itself or a person outside the organisation."""
    locked = Task.objects.select_for_update(of=("self",)).select_related("plan").get(pk=task.pk)
    _require(actor, locked.plan, lambda rights: rights.can_edit_task(locked), "task")
    if locked.version != expected_version:
        raise VersionConflict(locked)
    if depends_on is not None and (
        depends_on.plan_id != locked.plan_id or _depends_on_cycle(locked, depends_on)
    ):
        raise ValidationError(
            {"depends_on": _("A task cannot wait for itself, directly or through other tasks.")}
        )
    if goal is not None and goal.plan_id != locked.plan_id:
        raise ValidationError({"goal": _("The goal belongs to another plan.")})
    if (
        responsible_person is not None
        and not Membership.objects.active()
        .filter(user=responsible_person, organisation=responsible_organisation)
        .exists()
    ):
        raise ValidationError(
            {"responsible_person": _("The person does not work in the responsible organisation.")}
        )
    changed = _set_changed(
        locked,
        {
            "title": title,
            "kind": kind,
            "responsible_organisation": responsible_organisation,
            "responsible_person": responsible_person,
            "window_start": window_start,
            "due_date": due_date,
            "description": description,
            "goal": goal,
            "depends_on": depends_on,
            "visible_to_patient": visible_to_patient,
        },
    )
    if not changed:
        return locked
    locked.full_clean(exclude=["version"])
    _save_new_version(locked, changed)
    participant_add(actor=actor, plan=locked.plan, organisation=responsible_organisation)
    if "responsible_person" in changed:
        outbox.task_assigned(task=locked, actor=actor)
    outbox.task_reminders_sync(task=locked)
    return locked


@transaction.atomic
def goal_update(
    *,
    actor: User | None,
    goal: Goal,
    expected_version: int,
    description: str,
    expected_result: str,
    target_date: date | None,
    status: GoalStatus,
) -> Goal:
    """Reword, re-date, reach or cancel an agreed goal (cancelled goals stay on record)."""
    locked = Goal.objects.select_for_update(of=("self",)).select_related("plan").get(pk=goal.pk)
    _require(actor, locked.plan, _can_edit_plan, "goal")
    if locked.version != expected_version:
        raise VersionConflict(locked)
    if status != locked.status and status not in GOAL_TRANSITIONS[locked.status]:
        raise TransitionNotAllowed(
            {
                "status": _("A goal that is %(from)s cannot become %(to)s.")
                % {"from": locked.get_status_display(), "to": GoalStatus(status).label}
            },
        )
    changed = _set_changed(
        locked,
        {
            "description": description,
            "expected_result": expected_result,
            "target_date": target_date,
            "status": status,
        },
    )
    if not changed:
        return locked
    locked.full_clean(exclude=["version"])
    _save_new_version(locked, changed)
    return locked


# --- Break the glass ---------------------------------------------------------------------------------


class EmergencyAccessRefused(ValidationError):
    pass


class NoPlanForCpr(EmergencyAccessRefused):
    pass


class AlreadyInPlan(Exception):
    """No emergency access is needed: the actor takes part in the plan already."""

    def __init__(self, plan: PathwayPlan) -> None:
        super().__init__(plan.public_id)
        self.plan = plan


@transaction.atomic
def emergency_access_open(
    *, actor: User, organisation: Organisation, cpr: str, reason: str, origin: RequestOrigin | None = None
) -> PathwayPlan:
    """Break the glass: find the patient's plan by CPR number and open it to a clinician outside it.

    The actor must work as clinician or coordinator in `organisation` (PermissionDenied otherwise).
    Raises NoPlanForCpr (the failed look-up is a security event too), AlreadyInPlan, or
    EmergencyAccessRefused for a reason too short to be checked afterwards.
    """
    if not access.emergency_organisations(actor).filter(pk=organisation.pk).exists():
        raise PermissionDenied
    plan = access.emergency_plan_for(cpr)
    if plan is None:
        security_event_record(
            kind=SecurityEventKind.BREAK_GLASS, origin=origin, user=actor, detail={"found": False}
        )
        raise NoPlanForCpr(_("There is no pathway plan for this CPR number."), code="no_plan")
    if access.plans_visible_to(actor).filter(pk=plan.pk).exists():
        raise AlreadyInPlan(plan)
    emergency_access_grant(actor=actor, organisation=organisation, plan=plan, reason=reason, origin=origin)
    return plan


@transaction.atomic
def emergency_access_grant(
    *,
    actor: User,
    organisation: Organisation,
    plan: PathwayPlan,
    reason: str,
    origin: RequestOrigin | None = None,
) -> EmergencyAccess:
    """Open a plan outside the actor's own for EMERGENCY_ACCESS_DURATION, read only, for a stated reason.

    The caller has checked that the actor is a clinician of `organisation`. The grant is shown to the
    plan's coordinator until they mark it seen; every read under it is logged with the reason.
    """
    reason = reason.strip()
    if len(reason) < 15:
        raise EmergencyAccessRefused(_("Describe the reason in a sentence (at least 15 characters)."))
    now = timezone.now()
    access = EmergencyAccess.objects.create(
        actor=actor,
        organisation=organisation,
        patient_id=plan.patient_id,
        plan=plan,
        reason=reason,
        granted_at=now,
        expires_at=now + settings.EMERGENCY_ACCESS_DURATION,
    )
    security_event_record(
        kind=SecurityEventKind.BREAK_GLASS,
        origin=origin,
        user=actor,
        detail={"plan": str(plan.public_id), "emergency_access": str(access.public_id)},
    )
    return access


@transaction.atomic
def emergency_access_acknowledge(*, actor: User, access: EmergencyAccess) -> EmergencyAccess:
    """The coordinator has seen the emergency access. Repeating it changes nothing."""
    locked = EmergencyAccess.objects.select_for_update().get(pk=access.pk)
    if locked.acknowledged_at is None:
        locked.acknowledged_at = timezone.now()
        locked.acknowledged_by = actor
        locked.save(update_fields=["acknowledged_at", "acknowledged_by"])
    return locked


@transaction.atomic
def notification_mark_read(*, actor: User, public_id: access.PublicId | None) -> int:
    """Mark the actor's in-app message `public_id` as read; with `public_id=None`, every unread one the
    bell counts (the actor's, in plans they may still see). Returns how many rows were marked.

    Only rows addressed to the actor are touched: another user's message is Http404 (through
    access.access_notification), the same as one that does not exist. The UPDATE claims only rows still
    unread, so marking again, or two tabs at once, changes nothing more.
    """
    rows = access.notifications_visible_to(actor).unread_in_app()
    if public_id is not None:
        rows = rows.filter(pk=access.access_notification(actor, public_id).pk)
    return rows.update(read_at=timezone.now())


@transaction.atomic
def letter_mark_printed(*, actor: User, public_id: access.PublicId) -> Notification:
    """The letter is printed and posted: it leaves the print queue's "to print" list (kept on record).
    Only a letter in the actor's print queue (Http404 otherwise); marking again changes nothing."""
    letter = access.access_letter(actor, public_id)
    Notification.objects.filter(pk=letter.pk, read_at__isnull=True).update(read_at=timezone.now())
    letter.refresh_from_db(fields=["read_at"])
    return letter


@transaction.atomic
def notification_retry(*, actor: User, notifications: Iterable[Notification]) -> int:
    """An administrator sends failed messages again (not those about a closed task or plan)."""
    if not (actor.is_active and actor.is_staff and actor.has_perm("pathways.change_notification")):
        raise PermissionDenied
    return outbox.retry_failed([n.pk for n in notifications])
