"""Hospital stays and the transitions that act on the plan: admission, leave, discharge and death, entered
on the plan page or received as MedCom HospitalNotifications (pathways.ingest). Each transition records what
it did (TransitionEffect), so a correction or cancellation undoes exactly that.

What each event does:
- An admission (STAA acute ambulant, STIN inpatient) opens a stay and puts the municipality's and the GP's
  open tasks that fall due from the admission day until ADMISSION_HOLD_DAYS ahead on hold, with the reason.
  An admission while another stay is open ends that one (a transfer: STIN after STIN with no SLHJ; or
  STAA → STIN, "converted") and takes over the tasks it held: they stay on hold, now for the new stay.
- Tasks coming due later while the stay is open are put on hold by the morning job
  (`stays_hold_coming_due`, beat), each task once per stay: one someone takes off hold stays off.
- Leave (STOR/SLOR) is recorded on the stay; the held tasks resume during the leave only where the plan
  says so (PathwayPlan.resume_services_on_leave), and are held again when it ends.
- A discharge (SLHJ) ends the stay, resumes what was held (a due date that passed during the stay moves to
  the first working day after the discharge, its window alike) and makes the follow-ups of the plan's
  templates' discharge rules (pathway_templates.followups_create).
- A death (MORS) ends the stay, cancels every message still waiting for the patient (and relatives) and
  completes the plan; cancelling it (AN_MORS) reopens the plan, whose reminders are made again where they
  are still due.
The participants are told at once (outbox, in the product and by e-mail without health data).

Locks: every write locks the plan row first, then the stays and the tasks, so events for one patient are
applied one at a time.

Undoing: a cancellation undoes the effects newest first and puts the stay back as it was; cancelling an
admission cancels the later events of its stay first. Another event is cancelled only while it is its
stay's last. A correction undoes and applies again at the new time, except where later events built on the
event: then what it did stands and only its time moves.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from pathways import outbox, pathway_templates, selectors, services
from pathways.choices import (
    PLAN_OPEN_STATUSES,
    STAY_OPEN_STATUSES,
    STAY_STARTS,
    TASK_OPEN_STATUSES,
    NotificationKind,
    PlanStatus,
    Sector,
    StayClass,
    StayEnd,
    StayStatus,
    TaskStatus,
    TransitionEffectKind,
    TransitionKind,
    TransitionSource,
    TransitionState,
)
from pathways.models import (
    HospitalStay,
    Organisation,
    PathwayPlan,
    Patient,
    ReceivedMessage,
    Task,
    Transition,
    TransitionEffect,
    User,
)

logger = logging.getLogger(__name__)

# Whose tasks a stay holds: the municipality's and the GP's (the hospital's own go on).
HOLD_SECTORS = (Sector.MUNICIPALITY, Sector.GENERAL_PRACTICE)
HOLDABLE_STATUSES = (TaskStatus.REQUESTED, TaskStatus.ACCEPTED, TaskStatus.IN_PROGRESS)
# A time a little ahead of the server's clock is accepted (clocks differ); further ahead is a mistake.
FUTURE_TOLERANCE = timedelta(minutes=15)
# Hospital events of the last year act on the plan; an older stay belongs in the record, not here (and a
# year like 1900 is a typing error).
PAST_LIMIT = timedelta(days=365)
STAY_CLASS_OF = {
    TransitionKind.ADMISSION_ACUTE: StayClass.ACUTE_AMBULANT,
    TransitionKind.ADMISSION: StayClass.INPATIENT,
}
NOTICE_OF = {
    TransitionKind.ADMISSION_ACUTE: NotificationKind.PATIENT_ADMITTED,
    TransitionKind.ADMISSION: NotificationKind.PATIENT_ADMITTED,
    TransitionKind.LEAVE_START: NotificationKind.PATIENT_ON_LEAVE,
    # Back in hospital from leave.
    TransitionKind.LEAVE_END: NotificationKind.PATIENT_ADMITTED,
    TransitionKind.DISCHARGE: NotificationKind.PATIENT_DISCHARGED,
    TransitionKind.DEATH: NotificationKind.PATIENT_DIED,
}
STAY_ENDS = (TransitionKind.DISCHARGE, TransitionKind.DEATH)
TAKEN_OVER = (StayEnd.TRANSFERRED, StayEnd.CONVERTED)


# --- Recording --------------------------------------------------------------------------------------------


@transaction.atomic
def transition_record(
    *,
    actor: User | None,
    patient: Patient,
    kind: TransitionKind,
    occurred_at: datetime,
    hospital: Organisation,
    stay_class: StayClass | None = None,
    episode_id: str = "",
    source: TransitionSource = TransitionSource.MANUAL,
    message: ReceivedMessage | None = None,
    note: str = "",
) -> Transition:
    """Record a hospital event of the patient's current plan and apply what it does (see the module).

    An admission opens a stay at `hospital` (of `stay_class`, which must fit the kind); leave, discharge
    and death act on the stay with `episode_id` if there is one, else on the patient's open stay at
    `hospital`. The same event again (kind, stay and time) changes nothing and returns the
    one recorded. `actor=None` is the product itself (a received message); a person must act for a hospital
    or psychiatry organisation taking part in the plan, and for `hospital` when admitting
    (PermissionDenied). ValidationError, with nothing written, for what cannot be applied: no current plan,
    no stay to act on, a time in the future or before the stay's last event, leave that is no leave.
    """
    kind = TransitionKind(kind)
    source = TransitionSource(source)
    note = note.strip()[:500]
    plan = _locked_current_plan(patient)
    _require_recorder(actor, plan, hospital if kind in STAY_STARTS else None)
    if kind in STAY_STARTS:
        return _admit(
            actor=actor,
            plan=plan,
            patient=patient,
            kind=kind,
            occurred_at=occurred_at,
            hospital=hospital,
            stay_class=stay_class,
            episode_id=episode_id,
            source=source,
            message=message,
            note=note,
        )
    repeat = Transition.objects.filter(
        stay__patient=patient, kind=kind, occurred_at=occurred_at, state=TransitionState.APPLIED
    )
    if episode_id:
        repeat = repeat.filter(stay__episode_id=episode_id)
    if (found := repeat.first()) is not None:
        return found
    stay = _stay_for(patient, episode_id, hospital)
    if stay is None:
        raise ValidationError(
            _("The patient has no hospital stay for this event: record the admission first."), code="no_stay"
        )
    if stay.status not in STAY_OPEN_STATUSES:
        raise ValidationError(
            _("The stay at %(hospital)s has already ended.") % {"hospital": stay.hospital.name},
            code="stay_ended",
        )
    _check_moment(occurred_at)
    _check_after_last_event(stay, occurred_at)
    _check_fits_stay(kind, stay)
    transition = Transition.objects.create(
        stay=stay,
        plan=plan,
        kind=kind,
        occurred_at=occurred_at,
        source=source,
        message=message,
        recorded_by=actor,
        note=note,
    )
    _apply_event(transition, stay, plan, actor)
    outbox.hospital_event_notify(
        plan=plan, kind=NOTICE_OF[kind], event=f"transition:{transition.pk}", actor=actor
    )
    return transition


def _admit(
    *,
    actor: User | None,
    plan: PathwayPlan,
    patient: Patient,
    kind: TransitionKind,
    occurred_at: datetime,
    hospital: Organisation,
    stay_class: StayClass | None,
    episode_id: str,
    source: TransitionSource,
    message: ReceivedMessage | None,
    note: str,
) -> Transition:
    wanted = STAY_CLASS_OF[kind]
    if stay_class is not None and StayClass(stay_class) != wanted:
        raise ValidationError(
            _("An acute ambulant stay starts as acute ambulant, an admission as admitted."), code="stay_class"
        )
    repeat = Transition.objects.filter(
        stay__patient=patient,
        stay__hospital=hospital,
        kind=kind,
        occurred_at=occurred_at,
        state=TransitionState.APPLIED,
    ).first()
    if repeat is not None:
        return repeat
    _check_moment(occurred_at)
    current = (
        HospitalStay.objects.select_for_update()
        .filter(patient=patient, status__in=STAY_OPEN_STATUSES)
        .order_by("-started_at", "-id")
        .first()
    )
    if current is not None:
        # A second admission to the same place is not a transfer (MedCom sends a transfer as a new STIN
        # from the receiving hospital; acute ambulant care may become an admission): by hand a mistake.
        if current.hospital_id == hospital.pk and current.stay_class == wanted:
            admitted = current.transitions.filter(kind__in=STAY_STARTS, state=TransitionState.APPLIED).first()
            if source == TransitionSource.MEDCOM and admitted is not None:
                # The hospital's own notice of a stay already entered by hand: the same stay, now with the
                # hospital's episode id, so its later notices find it.
                if episode_id and not current.episode_id:
                    HospitalStay.objects.filter(pk=current.pk).update(episode_id=episode_id[:100])
                return admitted
            raise ValidationError(
                _(
                    "The patient is already in %(hospital)s since %(time)s. Record the discharge first, "
                    "or correct the time of that admission."
                )
                % {"hospital": hospital.name, "time": _local_text(current.started_at)},
                code="already_admitted",
            )
        _check_after_last_event(current, occurred_at)
    else:
        _check_after_previous_stay(patient, occurred_at)
    stay = HospitalStay.objects.create(
        patient=patient,
        plan=plan,
        hospital=hospital,
        stay_class=wanted,
        episode_id=episode_id[:100],
        started_at=occurred_at,
    )
    transition = Transition.objects.create(
        stay=stay,
        plan=plan,
        kind=kind,
        occurred_at=occurred_at,
        source=source,
        message=message,
        recorded_by=actor,
        note=note,
    )
    _apply_admission(transition, stay, plan, previous=current)
    outbox.hospital_event_notify(
        plan=plan, kind=NOTICE_OF[kind], event=f"transition:{transition.pk}", actor=actor
    )
    return transition


def _apply_admission(
    transition: Transition, stay: HospitalStay, plan: PathwayPlan, *, previous: HospitalStay | None
) -> None:
    """End the stay taken over (keeping its held tasks on hold, now for this one) and hold what falls due
    from the admission day until ADMISSION_HOLD_DAYS after today (the later of the two)."""
    if previous is not None:
        _take_over(previous, stay, transition)
    day = _local_day(transition.occurred_at)
    horizon = max(day, timezone.localdate()) + timedelta(days=settings.ADMISSION_HOLD_DAYS)
    _hold_due(transition, stay, plan, from_day=day, until=horizon)


def _apply_event(transition: Transition, stay: HospitalStay, plan: PathwayPlan, actor: User | None) -> None:
    """What leave, discharge and death do (the stay is open and the time checked)."""
    day = _local_day(transition.occurred_at)
    kind = transition.kind
    if kind == TransitionKind.LEAVE_START:
        _set_stay(stay, status=StayStatus.ON_LEAVE)
        if plan.resume_services_on_leave:
            for task in _held_tasks(stay):
                _resume(transition, task, day)
    elif kind == TransitionKind.LEAVE_END:
        _set_stay(stay, status=StayStatus.IN_PROGRESS)
        if plan.resume_services_on_leave:
            _hold_again_after_leave(transition, stay, plan, day)
    elif kind == TransitionKind.DISCHARGE:
        _set_stay(
            stay, status=StayStatus.FINISHED, ended_at=transition.occurred_at, end_reason=StayEnd.DISCHARGED
        )
        for task in _held_tasks(stay):
            _resume(transition, task, day)
        followups = pathway_templates.followups_create(
            actor=actor,
            plan=plan,
            transition=transition,
            discharge_day=day,
            stay_class=stay.stay_class,
            hospital=stay.hospital,
        )
        TransitionEffect.objects.bulk_create(
            TransitionEffect(transition=transition, kind=TransitionEffectKind.TASK_CREATED, task=task)
            for task in followups
        )
    elif kind == TransitionKind.DEATH:
        _set_stay(stay, status=StayStatus.FINISHED, ended_at=transition.occurred_at, end_reason=StayEnd.DIED)
        # First the messages to the patient (and relatives), counted; completing the plan then stops the
        # staff's reminders too (plan_reminders_sync).
        cancelled = outbox.non_staff_messages_cancel(plan=plan)
        TransitionEffect.objects.create(
            transition=transition, kind=TransitionEffectKind.REMINDERS_CANCELLED, count=cancelled
        )
        current = PathwayPlan.objects.get(pk=plan.pk)
        if current.status != PlanStatus.COMPLETED:
            TransitionEffect.objects.create(
                transition=transition, kind=TransitionEffectKind.PLAN_COMPLETED, status_before=current.status
            )
            services.plan_status_by_hospital_event(plan=current, to_status=PlanStatus.COMPLETED)


def _hold_again_after_leave(transition: Transition, stay: HospitalStay, plan: PathwayPlan, day: date) -> None:
    """Back from leave (services resumed during it): what the leave resumed is held again, with what has
    come due since."""
    leave = (
        stay.transitions.filter(kind=TransitionKind.LEAVE_START, state=TransitionState.APPLIED)
        .order_by("-occurred_at", "-id")
        .first()
    )
    reason = _hold_reason(stay)
    if leave is not None:
        resumed = leave.effects.filter(kind=TransitionEffectKind.TASK_RESUMED, reversed_at__isnull=True)
        tasks = Task.objects.select_for_update(of=("self",)).filter(
            pk__in=resumed.values("task_id"), status__in=HOLDABLE_STATUSES
        )
        for task in tasks.order_by("id"):
            _pause(transition, task, reason)
    horizon = max(day, timezone.localdate()) + timedelta(days=settings.ADMISSION_HOLD_DAYS)
    _hold_due(transition, stay, plan, from_day=day, until=horizon)


# --- Cancelling and correcting ----------------------------------------------------------------------------


@transaction.atomic
def transition_cancel(
    *, actor: User | None, transition: Transition, message: ReceivedMessage | None = None, note: str = ""
) -> Transition:
    """Undo what the event did and mark it cancelled (AN_, or "cancel" on the plan page). Cancelling an
    admission cancels the later events of its stay first; another event only while it is its stay's last.
    Cancelling a death (AN_MORS) reopens the plan with the status it had and makes its reminders again
    where still due. For a corrected event, its correction is cancelled. Repeated: no change.

    A person may cancel only what was entered by hand, acting for a hospital or psychiatry organisation
    taking part in the plan (PermissionDenied); a received message's event is undone by the hospital's own
    cancellation (`actor=None`): `message`, named in the event's note as `note` is."""
    plan = _locked_plan_of(transition)
    current = _current_version(transition)
    if current.state == TransitionState.CANCELLED:
        return current
    _require_undoer(actor, plan, current)
    stay = HospitalStay.objects.select_for_update().get(pk=current.stay_id)
    later = _later_events(stay, current)
    if current.kind in STAY_STARTS:
        if stay.end_reason in TAKEN_OVER:
            raise ValidationError(
                _("Another stay took over from this one. Cancel the later admission first."),
                code="taken_over",
            )
    elif later:
        raise ValidationError(
            _("A later event of this stay is in effect (%(event)s). Cancel that first.")
            % {"event": later[-1].get_kind_display()},
            code="later_events",
        )
    if current.kind in STAY_ENDS or stay.ended_at is not None:
        _check_no_later_stay(stay)
    moment = timezone.now()
    for event in reversed(later):
        _undo(event, stay, plan, state=TransitionState.CANCELLED, at=moment)
    _undo(current, stay, plan, state=TransitionState.CANCELLED, at=moment)
    # The note says why (a person's words, or which message cancelled it).
    note = note.strip() or (f"{message.code} {message.message_id}" if message is not None else "")
    if note:
        current.note = f"{current.note}\n{note}".strip()[:500]
        current.save(update_fields=["note"])
    outbox.hospital_event_notify(
        plan=plan, kind=NotificationKind.TRANSITION_REVERSED, event=f"reversed:{current.pk}", actor=actor
    )
    return current


@transaction.atomic
def transition_correct(
    *,
    actor: User | None,
    transition: Transition,
    occurred_at: datetime,
    message: ReceivedMessage | None = None,
    note: str = "",
) -> Transition:
    """Move the event to another time (RE_, or "correct" on the plan page): a new transition `corrects`
    the old one, which is marked corrected. Its effects are undone and applied again at the new time (an
    admission's held tasks are worked out anew), except where later events of the stay built on it: then
    what it did stands and only the time moves. The same time again: no change (returns the current one).
    Rights as `transition_cancel`; ValidationError for a cancelled event or a time outside its place
    among the stay's events."""
    plan = _locked_plan_of(transition)
    current = _current_version(transition)
    if current.state == TransitionState.CANCELLED:
        raise ValidationError(_("A cancelled event cannot be corrected."), code="cancelled")
    _require_undoer(actor, plan, current)
    if current.occurred_at == occurred_at:
        return current
    _check_moment(occurred_at)
    stay = HospitalStay.objects.select_for_update().get(pk=current.stay_id)
    later = _later_events(stay, current)
    previous = _taken_over_by(stay) if current.kind in STAY_STARTS else None
    _check_correction_time(current, stay, later, previous, occurred_at)
    source = TransitionSource.MEDCOM if message is not None else current.source
    corrected = Transition.objects.create(
        stay=stay,
        plan=current.plan,
        kind=current.kind,
        occurred_at=occurred_at,
        source=source,
        corrects=current,
        message=message,
        recorded_by=actor,
        note=note.strip()[:500] or current.note,
    )
    moment = timezone.now()
    built_on = bool(later) or (current.kind in STAY_STARTS and stay.end_reason in TAKEN_OVER)
    if built_on:
        # Later events built on it: what it did stands, at the new time.
        TransitionEffect.objects.filter(transition=current, reversed_at__isnull=True).update(
            transition=corrected
        )
        current.state = TransitionState.CORRECTED
        current.reversed_at = moment
        current.save(update_fields=["state", "reversed_at"])
        _move_time(current.kind, stay, previous, occurred_at)
    else:
        if current.kind == TransitionKind.DISCHARGE:
            _keep_followups(current, corrected)
        _undo(current, stay, plan, state=TransitionState.CORRECTED, at=moment)
        # The stay it took over is open again: taking it over anew ends it at the new time.
        _move_time(current.kind, stay, None, occurred_at)
        fresh = PathwayPlan.objects.get(pk=plan.pk)
        if current.kind in STAY_STARTS:
            _set_stay(stay, status=StayStatus.IN_PROGRESS)
            if previous is not None:
                previous.refresh_from_db()
            _apply_admission(corrected, stay, fresh, previous=previous)
        else:
            _apply_event(corrected, stay, fresh, actor)
    outbox.hospital_event_notify(
        plan=plan, kind=NotificationKind.TRANSITION_REVERSED, event=f"reversed:{current.pk}", actor=actor
    )
    return corrected


def _keep_followups(current: Transition, corrected: Transition) -> None:
    """A discharge moved in time keeps its follow-ups (people may have taken them on): they become the
    corrected discharge's, and those nobody has started move with the discharge day. Undoing the rest of
    the old discharge then leaves them alone; the corrected one makes only what is missing."""
    shift = _local_day(corrected.occurred_at) - _local_day(current.occurred_at)
    created = current.effects.filter(kind=TransitionEffectKind.TASK_CREATED, reversed_at__isnull=True)
    task_ids = list(created.values_list("task_id", flat=True))
    created.update(transition=corrected)
    Task.objects.filter(pk__in=task_ids).update(created_by_transition=corrected)
    if not shift:
        return
    for task in Task.objects.select_for_update(of=("self",)).filter(
        pk__in=task_ids, status=TaskStatus.REQUESTED
    ):
        services.task_change_by_hospital_event(
            task=task,
            status=TaskStatus(task.status),
            hold_reason=task.hold_reason,
            window_start=task.window_start + shift if task.window_start else None,
            due_date=task.due_date + shift if task.due_date else None,
        )


def _check_correction_time(
    current: Transition,
    stay: HospitalStay,
    later: list[Transition],
    previous: HospitalStay | None,
    moment: datetime,
) -> None:
    if current.kind in STAY_STARTS:
        if previous is not None:
            _check_after_last_event(previous, moment)
        else:
            _check_after_previous_stay(stay.patient, moment, exclude=stay)
    else:
        _check_after_last_event(stay, moment, before=current)
    ceiling = later[0].occurred_at if later else None
    if ceiling is None and current.kind in STAY_STARTS and stay.end_reason in TAKEN_OVER:
        ceiling = stay.ended_at
    if ceiling is None and current.kind in STAY_ENDS:
        following = _later_stay(stay)
        ceiling = following.started_at if following is not None else None
    if ceiling is not None and moment > ceiling:
        raise ValidationError(
            _("The new time is after what happened next (%(time)s).") % {"time": _local_text(ceiling)},
            code="after_next",
        )


def _move_time(kind: str, stay: HospitalStay, previous: HospitalStay | None, moment: datetime) -> None:
    """The stay's own times follow a corrected admission, discharge or death (and the stay an admission
    took over ends when it starts)."""
    if kind in STAY_STARTS:
        if previous is not None and previous.ended_at is not None:
            _set_stay(previous, ended_at=moment)
        _set_stay(stay, started_at=moment)
        reason = _hold_reason(stay)
        for task in _held_tasks(stay):
            services.task_change_by_hospital_event(
                task=task,
                status=TaskStatus.ON_HOLD,
                hold_reason=reason,
                window_start=task.window_start,
                due_date=task.due_date,
            )
    elif kind in STAY_ENDS and stay.ended_at is not None:
        _set_stay(stay, ended_at=moment)


def _undo(
    event: Transition, stay: HospitalStay, plan: PathwayPlan, *, state: TransitionState, at: datetime
) -> None:
    """Undo the event's effects, newest first, put the stay back as it was before it, and mark it."""
    previous = _taken_over_by(stay) if event.kind in STAY_STARTS else None
    for effect in event.effects.filter(reversed_at__isnull=True).order_by("-id"):
        _undo_effect(effect, plan)
        effect.reversed_at = at
        effect.save(update_fields=["reversed_at"])
    event.state = state
    event.reversed_at = at
    event.save(update_fields=["state", "reversed_at"])
    if event.kind in STAY_STARTS:
        _set_stay(stay, status=StayStatus.CANCELLED)
        if previous is not None:
            _set_stay(previous, status=_open_status(previous), ended_at=None, end_reason="")
    elif event.kind == TransitionKind.LEAVE_START:
        _set_stay(stay, status=StayStatus.IN_PROGRESS)
    elif event.kind == TransitionKind.LEAVE_END:
        _set_stay(stay, status=StayStatus.ON_LEAVE)
    else:
        _set_stay(stay, status=_open_status(stay), ended_at=None, end_reason="")


def _undo_effect(effect: TransitionEffect, plan: PathwayPlan) -> None:
    """Put back what one effect changed, where nobody has changed it since (a task someone finished after
    it was resumed stays finished)."""
    kind = effect.kind
    if kind == TransitionEffectKind.PLAN_COMPLETED:
        _reopen(plan, PlanStatus(effect.status_before))
        return
    if kind == TransitionEffectKind.REMINDERS_CANCELLED or effect.task_id is None:
        return  # made again by the plan's reopening (plan_reminders_sync), where still due
    task = Task.objects.select_for_update(of=("self",)).get(pk=effect.task_id)
    status, reason = TaskStatus(task.status), task.hold_reason
    start, due = task.window_start, task.due_date
    if kind == TransitionEffectKind.TASK_PAUSED:
        if task.status != TaskStatus.ON_HOLD:
            return
        # A task taken over from an earlier stay (status before: on hold) stays on hold for that one.
        status, reason = TaskStatus(effect.status_before), effect.hold_reason_before
    elif kind == TransitionEffectKind.TASK_RESUMED:
        if task.status not in HOLDABLE_STATUSES:
            return
        status, reason = TaskStatus.ON_HOLD, effect.hold_reason_before
    elif kind == TransitionEffectKind.TASK_REDATED:
        if task.status not in TASK_OPEN_STATUSES:
            return
        start, due = effect.window_start_before, effect.due_date_before
    elif kind == TransitionEffectKind.TASK_CREATED:
        if task.status not in TASK_OPEN_STATUSES:
            return
        status = TaskStatus.CANCELLED
    services.task_change_by_hospital_event(
        task=task, status=status, hold_reason=reason, window_start=start, due_date=due
    )


def _reopen(plan: PathwayPlan, status: PlanStatus) -> None:
    """A cancelled death: the plan gets back the status it had (outside PLAN_TRANSITIONS, which never
    reopens a completed plan), unless the patient has had another current plan since."""
    current = PathwayPlan.objects.get(pk=plan.pk)
    if current.status != PlanStatus.COMPLETED or status == PlanStatus.COMPLETED:
        return
    if PathwayPlan.objects.open().filter(patient_id=current.patient_id).exclude(pk=current.pk).exists():
        raise ValidationError(
            _("The patient has another current plan, so this one cannot be reopened."), code="other_plan"
        )
    services.plan_status_by_hospital_event(plan=current, to_status=status)


# --- Tasks held while the patient is in hospital --------------------------------------------------------


def stays_hold_coming_due(*, today: date | None = None) -> int:
    """The morning job (beat): while a patient is in hospital, the municipality's and the GP's tasks that
    have come due since the stay's admission (or return from leave), or come due within
    ADMISSION_HOLD_DAYS, are put on hold as the admission's were. Each task once per stay: one that
    someone has taken off hold stays off. Returns how many were put on hold; safe to run again."""
    today = today or timezone.localdate()
    stays = HospitalStay.objects.filter(
        status__in=STAY_OPEN_STATUSES, plan__status__in=PLAN_OPEN_STATUSES
    ).values_list("pk", flat=True)
    return sum(_hold_coming_due(stay_id, today) for stay_id in list(stays))


@transaction.atomic
def _hold_coming_due(stay_id: int, today: date) -> int:
    plan_id = HospitalStay.objects.values_list("plan_id", flat=True).get(pk=stay_id)
    plan = PathwayPlan.objects.select_for_update().get(pk=plan_id)
    stay = HospitalStay.objects.select_for_update().get(pk=stay_id)
    if stay.status not in STAY_OPEN_STATUSES or plan.status not in PLAN_OPEN_STATUSES:
        return 0
    if stay.status == StayStatus.ON_LEAVE and plan.resume_services_on_leave:
        return 0
    holding = (
        stay.transitions.filter(
            state=TransitionState.APPLIED, kind__in=[*STAY_STARTS, TransitionKind.LEAVE_END]
        )
        .order_by("-occurred_at", "-id")
        .first()
    )
    if holding is None:
        return 0
    day = _local_day(holding.occurred_at)
    until = today + timedelta(days=settings.ADMISSION_HOLD_DAYS)
    return len(_hold_due(holding, stay, plan, from_day=day, until=until, once_per_stay=True))


def _hold_due(
    transition: Transition,
    stay: HospitalStay,
    plan: PathwayPlan,
    *,
    from_day: date,
    until: date,
    once_per_stay: bool = False,
) -> list[Task]:
    """Put on hold the municipality's and the GP's open tasks due from `from_day` whose time (their
    window, or their due date) begins by `until`."""
    tasks = (
        Task.objects.select_for_update(of=("self",))
        .filter(
            plan=plan,
            status__in=HOLDABLE_STATUSES,
            responsible_organisation__sector__in=HOLD_SECTORS,
            due_date__gte=from_day,
        )
        .filter(Q(window_start__lte=until) | Q(window_start__isnull=True, due_date__lte=until))
    )
    if once_per_stay:
        touched = TransitionEffect.objects.filter(transition__stay=stay, task__isnull=False)
        tasks = tasks.exclude(pk__in=touched.values("task_id"))
    reason = _hold_reason(stay)
    return [_pause(transition, task, reason) for task in tasks.order_by("due_date", "id")]


def _pause(transition: Transition, task: Task, reason: str) -> Task:
    TransitionEffect.objects.create(
        transition=transition,
        kind=TransitionEffectKind.TASK_PAUSED,
        task=task,
        status_before=task.status,
        hold_reason_before=task.hold_reason,
    )
    return services.task_change_by_hospital_event(
        task=task,
        status=TaskStatus.ON_HOLD,
        hold_reason=reason,
        window_start=task.window_start,
        due_date=task.due_date,
    )


def _take_over(previous: HospitalStay, stay: HospitalStay, transition: Transition) -> None:
    """A new stay while `previous` is open (a transfer, or acute ambulant care become an admission): the
    previous one ends, and the tasks it held stay on hold, now for the new stay (recorded as held by the
    new admission with status before "on hold", so that cancelling it hands them back)."""
    held = _held_tasks(previous)
    converted = previous.stay_class == StayClass.ACUTE_AMBULANT and stay.stay_class == StayClass.INPATIENT
    _set_stay(
        previous,
        status=StayStatus.FINISHED,
        ended_at=transition.occurred_at,
        end_reason=StayEnd.CONVERTED if converted else StayEnd.TRANSFERRED,
    )
    reason = _hold_reason(stay)
    for task in held:
        TransitionEffect.objects.create(
            transition=transition,
            kind=TransitionEffectKind.TASK_PAUSED,
            task=task,
            status_before=TaskStatus.ON_HOLD,
            hold_reason_before=task.hold_reason,
        )
        services.task_change_by_hospital_event(
            task=task,
            status=TaskStatus.ON_HOLD,
            hold_reason=reason,
            window_start=task.window_start,
            due_date=task.due_date,
        )


def _held_tasks(stay: HospitalStay) -> list[Task]:
    """The tasks the stay holds now: those whose latest effect in the stay (in effect) is a pause, and
    which are still on hold. Locked."""
    latest: dict[int, TransitionEffect] = {}
    effects = TransitionEffect.objects.filter(
        transition__stay=stay,
        reversed_at__isnull=True,
        kind__in=[TransitionEffectKind.TASK_PAUSED, TransitionEffectKind.TASK_RESUMED],
    )
    for effect in effects.order_by("id"):
        if effect.task_id is not None:
            latest[effect.task_id] = effect
    held = [task_id for task_id, effect in latest.items() if effect.kind == TransitionEffectKind.TASK_PAUSED]
    return list(
        Task.objects.select_for_update(of=("self",))
        .filter(pk__in=held, status=TaskStatus.ON_HOLD)
        .order_by("id")
    )


def _resume(transition: Transition, task: Task, day: date) -> None:
    """Resume a held task to the status it had; a due date that passed while it was held (before `day`)
    moves to the first working day after `day`, its window alike."""
    status, reason = _status_before_hold(task)
    TransitionEffect.objects.create(
        transition=transition,
        kind=TransitionEffectKind.TASK_RESUMED,
        task=task,
        status_before=TaskStatus.ON_HOLD,
        hold_reason_before=task.hold_reason,
    )
    start, due = task.window_start, task.due_date
    if due is not None and due < day:
        TransitionEffect.objects.create(
            transition=transition,
            kind=TransitionEffectKind.TASK_REDATED,
            task=task,
            window_start_before=start,
            due_date_before=due,
        )
        new_due = _first_working_day_after(day)
        start = start + (new_due - due) if start is not None else None
        due = new_due
    services.task_change_by_hospital_event(
        task=task, status=status, hold_reason=reason, window_start=start, due_date=due
    )


def _status_before_hold(task: Task) -> tuple[TaskStatus, str]:
    """The status (and hold reason) the task had before a stay put it on hold: its latest pause in effect
    that did not take it over from another stay."""
    effect = (
        TransitionEffect.objects.filter(
            task=task, kind=TransitionEffectKind.TASK_PAUSED, reversed_at__isnull=True
        )
        .exclude(status_before=TaskStatus.ON_HOLD)
        .order_by("-id")
        .first()
    )
    if effect is None:
        return TaskStatus.REQUESTED, ""
    return TaskStatus(effect.status_before), effect.hold_reason_before


def _first_working_day_after(day: date) -> date:
    current = day + timedelta(days=1)
    while not outbox.is_working_day(current):
        current += timedelta(days=1)
    return current


# --- Rules and look-ups -----------------------------------------------------------------------------------


def _require_recorder(actor: User | None, plan: PathwayPlan, hospital: Organisation | None = None) -> None:
    """Hospital events are recorded by the product (received messages), by administrators, and by staff
    acting for a hospital or psychiatry organisation taking part in the plan, admitting to one of those."""
    if actor is None:
        return
    if not actor.is_active:
        raise PermissionDenied
    if actor.is_staff and actor.has_perm("pathways.add_transition"):
        return
    organisations = selectors.hospital_event_organisations_of(actor, plan)
    if not organisations or (hospital is not None and hospital not in organisations):
        raise PermissionDenied


def _require_undoer(actor: User | None, plan: PathwayPlan, transition: Transition) -> None:
    """As recording; besides, people undo only what was entered by hand."""
    _require_recorder(actor, plan)
    if actor is not None and transition.source != TransitionSource.MANUAL:
        raise PermissionDenied


def _locked_current_plan(patient: Patient) -> PathwayPlan:
    plan = (
        PathwayPlan.objects.select_for_update()
        .filter(patient=patient, status__in=PLAN_OPEN_STATUSES)
        .order_by("-id")
        .first()
    )
    if plan is None:
        raise ValidationError(_("The patient has no current pathway plan."), code="no_plan")
    return plan


def _locked_plan_of(transition: Transition) -> PathwayPlan:
    if transition.plan_id is None:
        raise ValidationError(_("The event belongs to no plan."), code="no_plan")
    return PathwayPlan.objects.select_for_update().get(pk=transition.plan_id)


def _current_version(transition: Transition) -> Transition:
    """The event as it stands: a corrected one's latest correction. Locked."""
    current = Transition.objects.select_for_update().get(pk=transition.pk)
    while current.state == TransitionState.CORRECTED:
        correction = current.corrections.order_by("-id").first()
        if correction is None:
            break
        current = Transition.objects.select_for_update().get(pk=correction.pk)
    return current


def _stay_for(patient: Patient, episode_id: str, hospital: Organisation) -> HospitalStay | None:
    """The stay an event acts on: the one with the hospital's episode id where given, else the patient's
    open stay at `hospital` (or a unit of it, or the hospital it is a unit of): one hospital's discharge
    never ends another hospital's stay. Locked."""
    stays = (
        HospitalStay.objects.select_for_update().filter(patient=patient).exclude(status=StayStatus.CANCELLED)
    )
    if episode_id:
        found = stays.filter(episode_id=episode_id).order_by("-started_at", "-id").first()
        if found is not None:
            return found
    related = Q(hospital=hospital) | Q(hospital__parent=hospital)
    if hospital.parent_id is not None:
        related |= Q(hospital_id=hospital.parent_id)
    return stays.filter(related, status__in=STAY_OPEN_STATUSES).order_by("-started_at", "-id").first()


def _last_event(stay: HospitalStay, *, before: Transition | None = None) -> Transition | None:
    events = stay.transitions.filter(state=TransitionState.APPLIED)
    if before is not None:
        events = events.exclude(pk=before.pk).filter(
            Q(occurred_at__lt=before.occurred_at) | Q(occurred_at=before.occurred_at, pk__lt=before.pk)
        )
    return events.order_by("-occurred_at", "-id").first()


def _later_events(stay: HospitalStay, event: Transition) -> list[Transition]:
    """The stay's events in effect after `event`, in order."""
    return list(
        stay.transitions.filter(state=TransitionState.APPLIED)
        .exclude(pk=event.pk)
        .filter(Q(occurred_at__gt=event.occurred_at) | Q(occurred_at=event.occurred_at, pk__gt=event.pk))
        .order_by("occurred_at", "id")
    )


def _taken_over_by(stay: HospitalStay) -> HospitalStay | None:
    """The stay that `stay`'s admission ended (a transfer or STAA → STIN): it ended when this one began.
    Locked."""
    return (
        HospitalStay.objects.select_for_update()
        .filter(patient_id=stay.patient_id, end_reason__in=TAKEN_OVER, ended_at=stay.started_at)
        .exclude(pk=stay.pk)
        .order_by("-id")
        .first()
    )


def _later_stay(stay: HospitalStay) -> HospitalStay | None:
    return (
        HospitalStay.objects.filter(patient_id=stay.patient_id, started_at__gte=stay.started_at)
        .exclude(pk=stay.pk)
        .exclude(status=StayStatus.CANCELLED)
        .order_by("started_at", "id")
        .first()
    )


def _check_no_later_stay(stay: HospitalStay) -> None:
    if _later_stay(stay) is not None:
        raise ValidationError(_("The patient has had a later stay. Cancel that first."), code="later_stay")


def _open_status(stay: HospitalStay) -> StayStatus:
    """An open stay's status from its events in effect: on leave after a leave start, else in hospital."""
    last = _last_event(stay)
    if last is not None and last.kind == TransitionKind.LEAVE_START:
        return StayStatus.ON_LEAVE
    return StayStatus.IN_PROGRESS


def _check_moment(moment: datetime) -> None:
    if timezone.is_naive(moment):
        raise ValidationError(_("The time must say which time zone it is in."), code="naive_time")
    if moment < timezone.now() - PAST_LIMIT:
        raise ValidationError(
            _("The time %(time)s is more than a year ago. Only events of the last year can be recorded.")
            % {"time": _local_text(moment)},
            code="too_old",
        )
    if moment > timezone.now() + FUTURE_TOLERANCE:
        raise ValidationError(
            _("The time %(time)s is in the future. Record an event when it has happened.")
            % {"time": _local_text(moment)},
            code="future",
        )


def _check_after_last_event(
    stay: HospitalStay, moment: datetime, *, before: Transition | None = None
) -> None:
    last = _last_event(stay, before=before)
    floor = last.occurred_at if last is not None else stay.started_at
    if moment < floor:
        raise ValidationError(
            _("The time cannot be before the stay's previous event (%(time)s).")
            % {"time": _local_text(floor)},
            code="before_previous",
        )


def _check_after_previous_stay(
    patient: Patient, moment: datetime, *, exclude: HospitalStay | None = None
) -> None:
    stays = HospitalStay.objects.filter(patient=patient, ended_at__isnull=False).exclude(
        status=StayStatus.CANCELLED
    )
    if exclude is not None:
        stays = stays.exclude(pk=exclude.pk)
    previous = stays.order_by("-ended_at").first()
    if previous is not None and previous.ended_at is not None and moment < previous.ended_at:
        raise ValidationError(
            _("The patient's previous stay ended %(time)s; a new stay cannot begin before that.")
            % {"time": _local_text(previous.ended_at)},
            code="before_previous_stay",
        )


def _check_fits_stay(kind: str, stay: HospitalStay) -> None:
    if kind == TransitionKind.LEAVE_START:
        if stay.stay_class != StayClass.INPATIENT:
            raise ValidationError(_("Only an admitted patient goes on leave."), code="leave_class")
        if stay.status == StayStatus.ON_LEAVE:
            raise ValidationError(_("The patient is already on leave."), code="already_on_leave")
    elif kind == TransitionKind.LEAVE_END and stay.status != StayStatus.ON_LEAVE:
        raise ValidationError(_("The patient is not on leave."), code="not_on_leave")


def _set_stay(stay: HospitalStay, **values: object) -> None:
    for name, value in values.items():
        setattr(stay, name, value)
    stay.save(update_fields=[*values, "updated_at"])


def _hold_reason(stay: HospitalStay) -> str:
    """Why a task is on hold, in the product's language (stored with the task, read by everyone)."""
    with translation.override(settings.LANGUAGE_CODE):
        values = {
            "hospital": stay.hospital.name,
            "date": date_format(_local_day(stay.started_at), "j. F Y"),
        }
        if stay.stay_class == StayClass.ACUTE_AMBULANT:
            text = _("In acute care at %(hospital)s from %(date)s") % values
        else:
            text = _("Admitted to %(hospital)s from %(date)s") % values
    return text[:200]


def _local_day(moment: datetime) -> date:
    return timezone.localtime(moment).date()


def _local_text(moment: datetime) -> str:
    return date_format(timezone.localtime(moment), "j. F Y H:i")
