"""Writes of coordination. Keyword-only, typed, atomic; they lock the row they change, check the actor's
rights through pathways.access.may_change, write outbox rows in the same transaction and leave the rest
of the record to the audit trail. A repeated transition is a no-op; a stale version is a VersionConflict."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from coordination import access
from coordination.choices import (
    NEED_CRITERIA_THRESHOLD,
    NEED_DECISIVE_CRITERIA,
    DisputeQuestion,
    DisputeStatus,
    EscalationTarget,
    MessagePriority,
    NeedCriterion,
    NeedOutcome,
)
from coordination.models import (
    CoordinatorHandover,
    Dispute,
    DisputeEscalation,
    EscalationContact,
    EscalationStep,
    Message,
    MessageRecipient,
    MessageThread,
    NeedAssessment,
    Secretariat,
)
from pathways import access as hub_access
from pathways import outbox
from pathways import services as hub_services
from pathways.choices import (
    PLAN_OPEN_STATUSES,
    TASK_OPEN_STATUSES,
    MembershipRole,
    NotificationChannel,
    NotificationKind,
    NotificationState,
)
from pathways.models import (
    Membership,
    Notification,
    Organisation,
    PathwayPlan,
    PlanParticipant,
    Task,
    User,
)
from pathways.numbers import ascii_digits, validate_phone
from pathways.services import VersionConflict
from relatives import access as relatives_access

# --- Need assessment and coordinator handover ----------------------------------------------------------

# How far ahead a reassessment may be set: at most two years after the assessment.
NEED_REVIEW_MAX_YEARS = 2
HANDOVER_NOTE_MAX_LENGTH = NEED_NOTE_MAX_LENGTH = 2000


def suggested_need_outcome(criteria: Iterable[str]) -> NeedOutcome:
    """What the criteria suggest (coordination.choices): a decisive criterion (the patient's own wish) or
    at least NEED_CRITERIA_THRESHOLD criteria mean a coordinator is needed. The assessor decides."""
    met = set(criteria)
    if met & NEED_DECISIVE_CRITERIA or len(met) >= NEED_CRITERIA_THRESHOLD:
        return NeedOutcome.NEEDS_COORDINATOR
    return NeedOutcome.NO_NEED


def _years_after(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


@transaction.atomic
def need_assessment_record(
    *,
    actor: User,
    plan: PathwayPlan,
    organisation: Organisation,
    assessed_on: date,
    patient_present: bool,
    criteria: Iterable[str],
    unplanned_admissions_12m: int,
    outcome: NeedOutcome | str,
    note: str,
    review_date: date,
) -> NeedAssessment:
    """Record an assessment of the plan's need for a coordinator, made by `actor` for `organisation`
    (one they act for that takes part in the plan). Deciding otherwise than the criteria suggest needs a
    reason in `note`. The reassessment reminder goes to the assessor and the plan's coordinator at 08:00
    on the review date; the reminders of earlier assessments of the plan are cancelled."""
    locked = PathwayPlan.objects.select_for_update().get(pk=plan.pk)  # one latest assessment at a time
    participating = access.participating_ids(locked)
    if not hub_access.may_change(
        actor,
        locked,
        lambda rights: access.may_assess_need(rights, participating),
        admin_permission="coordination.change_needassessment",
    ):
        raise PermissionDenied
    if locked.status not in PLAN_OPEN_STATUSES:
        raise ValidationError(_("A closed plan is not assessed any more."), code="plan_closed")
    errors: dict[str, str] = {}
    acting = hub_access.acting_organisation_ids(actor)
    if organisation.pk not in acting or organisation.pk not in participating:
        errors["organisation"] = _("Choose an organisation you work for that takes part in the plan.")
    known = set(NeedCriterion.values)
    criteria = list(criteria)
    if any(criterion not in known for criterion in criteria):
        errors["criteria"] = _("Choose criteria from the list.")
    met = [value for value in NeedCriterion.values if value in criteria]  # known ones, in the list's order
    if outcome not in NeedOutcome.values:
        errors["outcome"] = _("Choose an outcome from the list.")
    elif outcome != suggested_need_outcome(met) and not note.strip():
        errors["note"] = _("Give the reason when your decision differs from what the criteria suggest.")
    if len(note) > NEED_NOTE_MAX_LENGTH:
        errors["note"] = _("Keep the note under 2000 characters.")
    today = timezone.localdate()
    if assessed_on > today:
        errors["assessed_on"] = _("The assessment date cannot be in the future.")
    elif assessed_on < _years_after(today, -1):
        # An assessment older than a year is history, not a basis for coordinating now.
        errors["assessed_on"] = _("The assessment date can be at most a year ago.")
    if review_date <= assessed_on:
        errors["review_date"] = _("The review date must be after the assessment date.")
    elif review_date > _years_after(assessed_on, NEED_REVIEW_MAX_YEARS):
        errors["review_date"] = _("The review date can be at most two years after the assessment.")
    if errors:
        raise ValidationError(errors)
    assessment = NeedAssessment(
        plan=locked,
        assessed_by=actor,
        assessed_by_organisation=organisation,
        assessed_on=assessed_on,
        patient_present=patient_present,
        criteria=met,
        unplanned_admissions_12m=unplanned_admissions_12m,
        outcome=outcome,
        note=note.strip(),
        review_date=review_date,
    )
    assessment.full_clean()
    assessment.save()
    _need_review_reminders(plan=locked, assessment=assessment)
    return assessment


def _need_review_reminders(*, plan: PathwayPlan, assessment: NeedAssessment) -> None:
    """The reassessment reminder of the plan's latest assessment, and no other waiting one."""
    recipients = [assessment.assessed_by]
    coordinator = plan.coordinator
    if coordinator is not None and coordinator.is_active and coordinator.pk != assessment.assessed_by_id:
        recipients.append(coordinator)
    wanted = outbox.notify_staff(
        recipients,
        kind=NotificationKind.NEED_REVIEW_DUE,
        plan=plan,
        due_at=outbox.local_moment(assessment.review_date),
        event=f"need-assessment:{assessment.public_id}",
    )
    Notification.objects.filter(
        plan=plan,
        kind=NotificationKind.NEED_REVIEW_DUE,
        state__in=outbox.WAITING_STATES,
    ).exclude(dedupe_key__in=wanted).update(state=NotificationState.CANCELLED, lease_until=None)


@transaction.atomic
def coordinator_handover(
    *,
    actor: User | None,
    plan: PathwayPlan,
    coordinator: User,
    organisation: Organisation,
    substitute: User | None,
    phone: str = "",
    note: str = "",
    expected_version: int | None = None,
) -> PathwayPlan:
    """Hand the plan's coordination to `coordinator` (in `organisation`) with `substitute`, through the
    hub's coordinator_assign (rights, version and the coordinator-role rule), and record the handover:
    from whom to whom, the note, who and when. The new coordinator and a new substitute are told (not
    when they hand it to themselves); the patient is told by their own channel when the coordinator
    changes. When neither the coordinator nor the substitute changes, no handover is recorded and no one
    is told (a changed phone number is simply saved)."""
    phone = ascii_digits(phone).strip()
    errors: dict[str, list[ValidationError]] = {}
    try:
        validate_phone(phone)
    except ValidationError as error:
        errors["phone"] = [error]
    if len(note) > HANDOVER_NOTE_MAX_LENGTH:
        errors["note"] = [ValidationError(_("Keep the handover note under 2000 characters."))]
    if errors:
        raise ValidationError(errors)
    before = PathwayPlan.objects.select_for_update().get(pk=plan.pk)
    from_coordinator, from_substitute = before.coordinator, before.coordinator_substitute
    saved = hub_services.coordinator_assign(
        actor=actor,
        plan=before,
        coordinator=coordinator,
        organisation=organisation,
        phone=phone,
        substitute=substitute,
        expected_version=expected_version,
    )
    coordinator_changed = saved.coordinator_id != (from_coordinator.pk if from_coordinator else None)
    substitute_changed = saved.coordinator_substitute_id != (from_substitute.pk if from_substitute else None)
    if not (coordinator_changed or substitute_changed):
        return saved
    handover = CoordinatorHandover.objects.create(
        plan=saved,
        from_coordinator=from_coordinator,
        to_coordinator=coordinator,
        organisation=organisation,
        from_substitute=from_substitute,
        to_substitute=substitute,
        note=note.strip(),
        handed_over_by=actor,
        handed_over_at=timezone.now(),
    )
    event = f"handover:{handover.public_id}"
    told = [
        person
        for person, changed in ((coordinator, coordinator_changed), (substitute, substitute_changed))
        if changed and person is not None and person.is_active and (actor is None or person.pk != actor.pk)
    ]
    outbox.notify_staff(
        told, kind=NotificationKind.COORDINATOR_ASSIGNED, plan=saved, due_at=timezone.now(), event=event
    )
    if coordinator_changed:
        patient = saved.patient
        outbox.notify(
            recipient=patient,
            kind=NotificationKind.COORDINATOR_ASSIGNED,
            channel=outbox.patient_channel(patient),
            plan=saved,
            due_at=timezone.now(),
            event=event,
        )
        # Relatives who may see the whole plan hear of the new coordinator too (appointments-only: not).
        for relative, channel in relatives_access.plan_news_recipients(saved):
            outbox.notify(
                recipient=relative,
                kind=NotificationKind.COORDINATOR_ASSIGNED,
                channel=NotificationChannel(channel),
                plan=saved,
                due_at=timezone.now(),
                event=event,
            )
        # The waiting reassessment reminder follows the coordinator role to its new holder.
        latest = saved.need_assessments.select_related("assessed_by").order_by("-assessed_on", "-id").first()
        if latest is not None and latest.review_date >= timezone.localdate():
            _need_review_reminders(plan=saved, assessment=latest)
    return saved


# --- Responsibility disputes ---------------------------------------------------------------------------

_dispute_log = logging.getLogger("coordination.disputes")


class DisputeAlreadyResolved(ValidationError):
    """Someone else decided the dispute first: the second decider learns who and when."""


def _plan_organisation_ids(plan: PathwayPlan) -> set[int]:
    return set(PlanParticipant.objects.filter(plan=plan).values_list("organisation_id", flat=True))


def _dispute_staff(dispute: Dispute, plan: PathwayPlan, actor: User | None) -> list[User]:
    """The plan's coordinator and the coordinators of the organisations in dispute, of the one acting in
    the meantime and, once decided, of the one now responsible (not the actor)."""
    people: dict[int, User] = {}
    if plan.coordinator_id is not None:
        coordinator = User.objects.get(pk=plan.coordinator_id)
        if coordinator.is_active:
            people[coordinator.pk] = coordinator
    organisation_ids = {*dispute.parties.values_list("pk", flat=True), dispute.interim_organisation_id}
    if dispute.decided_organisation_id is not None:
        organisation_ids.add(dispute.decided_organisation_id)
    for organisation_id in organisation_ids:
        people |= {user.pk: user for user in outbox.coordinators_of(organisation_id)}
    if actor is not None:
        people.pop(actor.pk, None)
    return list(people.values())


def _require_length(
    errors: dict[str, list[str]], field: str, value: str, limit: int, *, required: bool = False
) -> None:
    """The model's text fields keep their max_length only in forms: the services check it too."""
    if required and not value.strip():
        errors.setdefault(field, []).append(_("This field is required."))
    elif len(value.strip()) > limit:
        errors.setdefault(field, []).append(
            _("Write at most %(limit)d characters (you wrote %(count)d).")
            % {"limit": limit, "count": len(value.strip())}
        )


@transaction.atomic
def dispute_raise(
    *,
    actor: User,
    task: Task,
    organisation: Organisation,
    parties: Iterable[Organisation],
    question: DisputeQuestion | str,
    reason: str,
    interim_organisation: Organisation,
    interim_note: str = "",
) -> Dispute:
    """Mark the task's responsibility as disputed between `parties` (at least two organisations taking
    part in the plan), raised on behalf of `organisation` (one the actor acts for; the plan's coordinator
    raises it for any organisation taking part), naming who acts in the meantime so the patient is not
    left waiting. One open dispute per task: the task row is locked while that is checked. The plan's
    coordinator and the parties' coordinators are told (in-app)."""
    locked = Task.objects.select_for_update(of=("self",)).select_related("plan").get(pk=task.pk)
    plan = locked.plan
    taking_part = _plan_organisation_ids(plan)
    allowed = hub_access.may_change(
        actor,
        plan,
        lambda rights: (
            rights.is_coordinator
            or (organisation.pk in rights.acting_organisation_ids and organisation.pk in taking_part)
        ),
        admin_permission="coordination.add_dispute",
    )
    # A plan without a coordinator lets its participants set it up (may_change), but a dispute is still
    # raised only for an organisation the actor acts for (or by the coordinator, an administrator or the
    # product itself).
    speaks_for = (
        actor is None
        or hub_access.is_coordinator(actor, plan)
        or organisation.pk in hub_access.acting_organisation_ids(actor)
        or (actor.is_staff and actor.has_perm("coordination.add_dispute"))
    )
    if not allowed or not speaks_for:
        raise PermissionDenied
    errors: dict[str, list[str]] = {}
    if plan.status not in PLAN_OPEN_STATUSES:
        errors.setdefault("task", []).append(_("The plan is closed: its tasks cannot be disputed."))
    if locked.status not in TASK_OPEN_STATUSES:
        errors.setdefault("task", []).append(
            _("The task is %(status)s: a closed task cannot be disputed.")
            % {"status": locked.get_status_display().lower()}
        )
    if Dispute.objects.open().filter(task=locked).exists():
        errors.setdefault("task", []).append(
            _("The task's responsibility is already disputed. Add to that dispute instead.")
        )
    if organisation.pk not in taking_part:
        errors.setdefault("organisation", []).append(_("The organisation does not take part in the plan."))
    party_list = list({party.pk: party for party in parties}.values())
    if len(party_list) < 2:
        errors.setdefault("parties", []).append(_("Choose at least two organisations that disagree."))
    if any(party.pk not in taking_part for party in party_list):
        errors.setdefault("parties", []).append(
            _("Only organisations taking part in the plan can be in a dispute about it.")
        )
    if interim_organisation.pk not in taking_part:
        errors.setdefault("interim_organisation", []).append(
            _("The organisation acting in the meantime must take part in the plan.")
        )
    _require_length(errors, "reason", reason, 2000, required=True)
    _require_length(errors, "interim_note", interim_note, 1000)
    if errors:
        raise ValidationError(errors)
    dispute = Dispute(
        plan=plan,
        task=locked,
        question=question,
        reason=reason.strip(),
        interim_organisation=interim_organisation,
        interim_note=interim_note.strip(),
        raised_by=actor,
        raised_by_organisation=organisation,
    )
    dispute.full_clean(exclude=["version"])
    dispute.save()
    dispute.parties.set(party_list)
    outbox.notify_staff(
        _dispute_staff(dispute, plan, actor),
        kind=NotificationKind.DISPUTE_RAISED,
        plan=plan,
        task=locked,
        due_at=timezone.now(),
        event=f"dispute:{dispute.pk}:raised",
        email=False,
    )
    return dispute


@transaction.atomic
def dispute_resolve(
    *,
    actor: User | None,
    dispute: Dispute,
    decision: str,
    responsible_organisation: Organisation,
    expected_version: int,
) -> Dispute:
    """The plan's coordinator (or substitute) decides the dispute: the decision, who and when are recorded
    and the task's responsibility moves to `responsible_organisation` in the same transaction (all or
    nothing). A dispute already decided is refused (DisputeAlreadyResolved, naming who decided), before the
    version is compared, so the second decider learns that someone else decided; a stale version is a
    VersionConflict. The parties' coordinators and the plan's coordinator are told (in-app)."""
    locked = Dispute.objects.select_for_update(of=("self",)).select_related("plan").get(pk=dispute.pk)
    plan = locked.plan
    if not hub_access.may_change(
        actor, plan, lambda rights: rights.can_edit_plan, admin_permission="coordination.change_dispute"
    ):
        raise PermissionDenied
    if locked.status == DisputeStatus.RESOLVED:
        resolver = locked.resolved_by.get_full_name() if locked.resolved_by else _("the product")
        raise DisputeAlreadyResolved(
            _("%(who)s resolved this dispute at %(when)s. Here is the decision.")
            % {
                "who": resolver,
                "when": date_format(timezone.localtime(locked.resolved_at), "DATETIME_FORMAT"),
            },
            code="dispute_resolved",
        )
    if locked.version != expected_version:
        raise VersionConflict(locked)
    decision = decision.strip()
    errors: dict[str, list[str]] = {}
    _require_length(errors, "decision", decision, 2000, required=True)
    if responsible_organisation.pk not in _plan_organisation_ids(plan):
        errors["responsible_organisation"] = [_("The organisation does not take part in the plan.")]
    if errors:
        raise ValidationError(errors)
    locked.status = DisputeStatus.RESOLVED
    locked.decision = decision
    locked.decided_organisation = responsible_organisation
    locked.resolved_by = actor
    locked.resolved_at = timezone.now()
    locked.full_clean(exclude=["version"])
    locked.version = F("version") + 1
    locked.save(
        update_fields=["status", "decision", "decided_organisation", "resolved_by", "resolved_at", "version"]
    )
    locked.refresh_from_db()
    hub_services.task_responsibility_move(
        actor=actor, task=locked.task, organisation=responsible_organisation
    )
    outbox.notify_staff(
        _dispute_staff(locked, plan, actor),
        kind=NotificationKind.DISPUTE_RESOLVED,
        plan=plan,
        task=locked.task,
        due_at=timezone.now(),
        event=f"dispute:{locked.pk}:resolved",
        email=False,
    )
    return locked


def working_days_between(start: date, end: date) -> int:
    """Working days after `start` up to and including `end` (weekends and Danish holidays skipped)."""
    count, day = 0, start
    while day < end:
        day += timedelta(days=1)
        count += outbox.is_working_day(day)
    return count


def _escalation_contacts(organisation: Organisation) -> list[User]:
    """Whom an organisation's escalation reaches: its named contact, else its active coordinators, else
    the contact of the nearest organisation above it that has one."""
    contact = EscalationContact.objects.filter(organisation=organisation).select_related("person").first()
    if contact is not None and contact.person.is_active:
        return [contact.person]
    coordinators = outbox.coordinators_of(organisation.pk)
    if coordinators:
        return coordinators
    seen = {organisation.pk}
    parent_id = organisation.parent_id
    while parent_id is not None and parent_id not in seen:
        seen.add(parent_id)
        contact = EscalationContact.objects.filter(organisation_id=parent_id).select_related("person").first()
        if contact is not None and contact.person.is_active:
            return [contact.person]
        parent_id = Organisation.objects.filter(pk=parent_id).values_list("parent_id", flat=True).first()
    return []


def _escalate_one(dispute_id: int, ladder: list[EscalationStep], now: datetime) -> int:
    """Take the steps of the ladder the dispute has reached and not yet taken, under a lock on the
    dispute (a second worker skips it: the first takes the steps). Returns the number taken."""
    taken = 0
    with transaction.atomic():
        dispute = (
            Dispute.objects.select_for_update(of=("self",), skip_locked=True)
            .select_related("plan__coordinator", "task")
            .filter(pk=dispute_id, status=DisputeStatus.OPEN)
            .first()
        )
        if dispute is None:
            return 0
        days = working_days_between(
            timezone.localtime(dispute.raised_at).date(), timezone.localtime(now).date()
        )
        done = set(dispute.escalations.values_list("step", flat=True))
        for step in ladder:
            if step.step in done or days < step.after_working_days:
                continue
            event = f"dispute:{dispute.pk}:step:{step.step}"
            if step.target == EscalationTarget.SECRETARIAT:
                secretariat = Secretariat.objects.order_by("pk").first()
                if secretariat is None:
                    _dispute_log.warning("disputes: no secretariat set; step %s waits for one", step.step)
                    continue
                outbox.notify(
                    recipient=secretariat,
                    kind=NotificationKind.DISPUTE_ESCALATED,
                    channel=NotificationChannel.EMAIL,
                    plan=dispute.plan,
                    task=dispute.task,
                    due_at=now,
                    event=event,
                )
            else:
                people: dict[int, User] = {}
                for party in dispute.parties.all():
                    people |= {user.pk: user for user in _escalation_contacts(party)}
                coordinator = dispute.plan.coordinator
                if not people and coordinator is not None and coordinator.is_active:
                    people[coordinator.pk] = coordinator  # nobody named above the parties: the plan's own
                if not people:
                    # Never a step taken with nobody told: it waits until someone is named.
                    _dispute_log.warning("disputes: nobody to escalate to; step %s waits", step.step)
                    continue
                outbox.notify_staff(
                    people.values(),
                    kind=NotificationKind.DISPUTE_ESCALATED,
                    plan=dispute.plan,
                    task=dispute.task,
                    due_at=now,
                    event=event,
                )
            DisputeEscalation.objects.create(
                dispute=dispute, step=step.step, target=step.target, escalated_at=now
            )
            dispute.escalation_step = max(dispute.escalation_step, step.step)
            dispute.escalated_at = now
            taken += 1
        if taken:
            dispute.save(update_fields=["escalation_step", "escalated_at"])
    return taken


def disputes_escalate(*, now: datetime | None = None) -> int:
    """The escalation ladder (the beat job): every open dispute takes each step it has reached by now,
    counted in working days since it was raised, and has not yet taken (one DisputeEscalation per dispute
    and step), and the step's people are told. Idempotent and safe in parallel workers (each dispute is
    taken under its own lock). Returns the number of steps taken."""
    now = now or timezone.now()
    ladder = list(EscalationStep.objects.order_by("step"))
    if not ladder:
        return 0
    first = min(step.after_working_days for step in ladder)
    # A dispute younger than the first rung in calendar days cannot have reached it in working days; one
    # that has taken the last step has nothing left to take.
    candidates = Dispute.objects.open().filter(
        raised_at__lte=now - timedelta(days=first), escalation_step__lt=max(step.step for step in ladder)
    )
    taken = 0
    for dispute_id in candidates.order_by("raised_at", "pk").values_list("pk", flat=True):
        taken += _escalate_one(dispute_id, ladder, now)
    return taken


# --- Messages between sectors ----------------------------------------------------------------------------
# A thread and its messages map onto MedCom's CareCommunication: the thread is the topic (optionally a
# task), each message a Communication from a sender organisation and person to recipient organisations,
# with a priority and a read receipt per recipient organisation. Sent is sent: a correction is a new
# message (the database refuses an UPDATE of a message).

SUBJECT_MAX_LENGTH = MessageThread._meta.get_field("subject").max_length or 200
BODY_MAX_LENGTH = Message._meta.get_field("body").max_length or 4000


def _message_event(message_id: int) -> str:
    """The outbox event of one message: its notices are made once per recipient person and channel, even
    when the person works in two of the organisations written to."""
    return f"message:{message_id}"


def _message_errors(
    *,
    actor: User,
    plan: PathwayPlan,
    sender_organisation: Organisation,
    recipients: Iterable[Organisation],
    body: str,
    priority: str,
) -> tuple[list[int], dict[str, Any]]:
    """The recipients' ids (each once) and what is wrong with the message, by form field. Raises
    PermissionDenied when the actor writes for an organisation they do not act for."""
    errors: dict[str, Any] = {}
    if plan.status not in PLAN_OPEN_STATUSES:
        raise ValidationError(
            _("Messages can only be sent in a plan that is still open."), code="plan_closed"
        )
    if sender_organisation.pk not in access.message_sender_organisation_ids(actor, plan):
        if sender_organisation.pk not in hub_access.acting_organisation_ids(actor):
            raise PermissionDenied
        errors["sender_organisation"] = _("Your organisation %(name)s does not take part in this plan.") % {
            "name": sender_organisation.name
        }
    recipient_ids = sorted({organisation.pk for organisation in recipients})
    if not recipient_ids:
        errors["recipients"] = _("Choose at least one organisation to write to.")
    elif not set(recipient_ids) <= access.plan_organisation_ids(plan):
        errors["recipients"] = _("You can only write to organisations that take part in the plan.")
    elif recipient_ids == [sender_organisation.pk]:
        errors["recipients"] = _("Choose an organisation other than your own to write to.")
    if not body.strip():
        errors["body"] = _("Write the message.")
    elif len(body) > BODY_MAX_LENGTH:
        errors["body"] = _("The message can be at most %(limit)d characters long; it is %(length)d.") % {
            "limit": BODY_MAX_LENGTH,
            "length": len(body),
        }
    if priority not in MessagePriority.values:
        errors["priority"] = _("Choose routine or urgent.")
    return recipient_ids, errors


def _message_readers(plan: PathwayPlan, organisation_ids: list[int], sender: User | None) -> list[User]:
    """Who in the recipient organisations hears of a message: those who work with this plan there — its
    coordinator and substitute, the people responsible for its open tasks — and each organisation's
    coordinators; in an organisation where that is nobody, all its staff. Not the sender. Two queries
    whatever the size of the organisations."""
    staff = list(
        Membership.objects.active()
        .filter(organisation_id__in=organisation_ids, user__is_active=True)
        .select_related("user")
        .order_by("user_id")
    )
    with_plan = {plan.coordinator_id, plan.coordinator_substitute_id} | set(
        Task.objects.filter(
            plan=plan, status__in=TASK_OPEN_STATUSES, responsible_person__isnull=False
        ).values_list("responsible_person_id", flat=True)
    )
    chosen: dict[int, User] = {}
    for organisation_id in organisation_ids:
        members = [m for m in staff if m.organisation_id == organisation_id]
        named = [m.user for m in members if m.user_id in with_plan or m.role == MembershipRole.COORDINATOR]
        chosen |= {user.pk: user for user in (named or [m.user for m in members])}
    if sender is not None:
        chosen.pop(sender.pk, None)
    return list(chosen.values())


def _message_write(
    *,
    actor: User,
    thread: MessageThread,
    sender_organisation: Organisation,
    recipient_ids: list[int],
    body: str,
    priority: str,
    sent_at: Any,
) -> Message:
    """The message, a receipt per recipient organisation and the recipients' notices (in the caller's
    transaction). Those who work with the plan in each recipient organisation hear of it in-app and by
    e-mail (`_message_readers`); the e-mail says only that there is news (pathways.outbox._message), never
    the message. Everyone in those organisations sees the unread count."""
    message = Message.objects.create(
        thread=thread,
        plan_id=thread.plan_id,
        sender=actor,
        sender_organisation=sender_organisation,
        body=body,
        priority=priority,
        sent_at=sent_at,
    )
    MessageRecipient.objects.bulk_create(
        MessageRecipient(message=message, organisation_id=organisation_id, plan_id=thread.plan_id)
        for organisation_id in recipient_ids
    )
    message_notify(message=message, recipient_ids=recipient_ids, sender=actor)
    return message


def message_notify(*, message: Message, recipient_ids: list[int], sender: User | None) -> None:
    """Those who work with the plan in the recipient organisations hear of `message` in-app and by e-mail
    (`_message_readers`; the e-mail says only that there is news, never the message), in the caller's
    transaction. `sender` None: a message received through MedCom (coordination.carecommunication)."""
    thread = message.thread
    outbox.notify_staff(
        _message_readers(thread.plan, recipient_ids, sender),
        kind=NotificationKind.MESSAGE_RECEIVED,
        plan=thread.plan,
        task=thread.task,
        due_at=message.sent_at,
        event=_message_event(message.pk),
    )


@transaction.atomic
def message_receive(
    *,
    plan: PathwayPlan,
    thread: MessageThread | None,
    subject: str,
    sender_organisation: Organisation,
    sender_name: str,
    receiver: Organisation,
    body: str,
    priority: str,
    sent_at: datetime,
) -> Message:
    """A message received from another system (coordination.carecommunication, which has checked it): in
    `thread`, or in a new thread with `subject`, from `sender_name` at `sender_organisation` to `receiver`,
    whose people who work with the plan hear of it as of any message. No user sent it. It is dated when the
    sender sent it (never later than now: a clock ahead does not put it in the future)."""
    now = timezone.now()
    if thread is None:
        thread = MessageThread.objects.create(
            plan=plan,
            subject=subject[:SUBJECT_MAX_LENGTH],
            started_by=None,
            started_at=now,
            last_message_at=now,
        )
    message = Message.objects.create(
        thread=thread,
        plan=plan,
        sender=None,
        sender_name=sender_name,
        sender_organisation=sender_organisation,
        body=body,
        priority=priority,
        sent_at=min(sent_at, now),
    )
    MessageRecipient.objects.create(message=message, organisation=receiver, plan=plan)
    thread.last_message_at = now
    thread.save(update_fields=["last_message_at"])
    message_notify(message=message, recipient_ids=[receiver.pk], sender=None)
    return message


@transaction.atomic
def thread_start(
    *,
    actor: User,
    plan: PathwayPlan,
    sender_organisation: Organisation,
    recipients: Iterable[Organisation],
    subject: str,
    body: str,
    priority: str,
    task: Task | None = None,
) -> MessageThread:
    """A new conversation on the plan, optionally about one of its tasks, with its first message.

    The sender organisation must be one the actor acts for that takes part in the plan (the coordinator
    may also write for the coordinator's organisation): else PermissionDenied. Recipients: organisations
    taking part in the plan, not only the sender's own. Anything else wrong is a ValidationError by
    field, and nothing is written."""
    current = PathwayPlan.objects.get(pk=plan.pk)  # the plan as it is now, not the caller's copy
    recipient_ids, errors = _message_errors(
        actor=actor,
        plan=current,
        sender_organisation=sender_organisation,
        recipients=recipients,
        body=body,
        priority=priority,
    )
    if not subject.strip():
        errors["subject"] = _("Give the message a subject.")
    elif len(subject) > SUBJECT_MAX_LENGTH:
        errors["subject"] = _("The subject can be at most %(limit)d characters long.") % {
            "limit": SUBJECT_MAX_LENGTH
        }
    if task is not None and task.plan_id != current.pk:
        errors["task"] = _("The task must be one of this plan's tasks.")
    if errors:
        raise ValidationError(errors)
    now = timezone.now()
    thread = MessageThread.objects.create(
        plan=current, task=task, subject=subject, started_by=actor, started_at=now, last_message_at=now
    )
    _message_write(
        actor=actor,
        thread=thread,
        sender_organisation=sender_organisation,
        recipient_ids=recipient_ids,
        body=body,
        priority=priority,
        sent_at=now,
    )
    return thread


@transaction.atomic
def message_send(
    *,
    actor: User,
    thread: MessageThread,
    sender_organisation: Organisation,
    recipients: Iterable[Organisation],
    body: str,
    priority: str,
) -> Message:
    """A new message in the thread (a reply, or a correction of an earlier one), under the same rules as
    the thread's first message. Locks the thread, so its last-message time moves forward only."""
    locked = (
        MessageThread.objects.select_for_update(of=("self",)).select_related("plan", "task").get(pk=thread.pk)
    )
    recipient_ids, errors = _message_errors(
        actor=actor,
        plan=locked.plan,
        sender_organisation=sender_organisation,
        recipients=recipients,
        body=body,
        priority=priority,
    )
    if errors:
        raise ValidationError(errors)
    now = timezone.now()
    message = _message_write(
        actor=actor,
        thread=locked,
        sender_organisation=sender_organisation,
        recipient_ids=recipient_ids,
        body=body,
        priority=priority,
        sent_at=now,
    )
    locked.last_message_at = now
    locked.save(update_fields=["last_message_at"])
    thread.last_message_at = now
    return message


@transaction.atomic
def thread_mark_read(*, actor: User, thread: MessageThread) -> int:
    """The actor has read the thread: its messages' receipts for the organisations the actor belongs to
    are marked read by them, if no colleague got there first (the UPDATE claims only receipts still
    unread, so the first reader is kept), and the actor's own notices of these messages are marked read.
    Returns how many receipts were marked.

    Only for those who take part in the plan: a break-the-glass reader is refused (PermissionDenied), as a
    receipt tells the sender that the organisation written to has read the message."""
    if not hub_access.plans_visible_to(actor).filter(pk=thread.plan_id).exists():
        raise PermissionDenied
    organisation_ids = hub_access.active_organisation_ids(actor)
    message_ids = list(Message.objects.filter(thread_id=thread.pk).values_list("pk", flat=True))
    if not organisation_ids or not message_ids:
        return 0
    now = timezone.now()
    marked = MessageRecipient.objects.filter(
        message_id__in=message_ids, organisation_id__in=organisation_ids, read_at__isnull=True
    ).update(read_at=now, read_by=actor)
    events = Q()
    for message_id in message_ids:
        events |= Q(dedupe_key__endswith=f"|{_message_event(message_id)}")
    Notification.objects.addressed_to(actor).filter(
        events,
        kind=NotificationKind.MESSAGE_RECEIVED,
        channel=NotificationChannel.IN_APP,
        plan_id=thread.plan_id,
        read_at__isnull=True,
    ).update(read_at=now)
    return marked
