"""The outbox: every message the product sends, nothing lost and nothing sent twice.

Writing. A service that causes a message calls `notify` (or one of the task/plan helpers below) inside
its own transaction: the row commits with the change or not at all. `dedupe_key` is unique, so raising
the same event twice leaves one row. A row due now asks a worker to deliver once the transaction has
committed; if the broker is down that request is lost, which is fine: the sweeper finds the row.

Delivering. `deliver_due` claims due rows in batches with one `UPDATE … WHERE id IN (SELECT … FOR UPDATE
SKIP LOCKED) RETURNING` (two workers never claim the same row), sends each through its channel with the
row's public id as idempotency key and records the result only if the row is still theirs (state
"sending" and the attempt they claimed). A transient error puts the row back with backoff; after
`NOTIFICATION_MAX_ATTEMPTS` it is failed, for an administrator to see and retry.

Sweeping. `sweep` (Celery beat, every minute) hands rows stuck in "sending" past their lease back to
"pending" (their worker died) and delivers what is due. Due times live in the database, never in a Celery
`eta`: a reminder does not depend on Redis keeping a message.

Time. People's times are Europe/Copenhagen wall-clock: "08:00 two working days before" is 08:00 local on
that date, whatever the UTC offset, so a reminder fires once at 8 on the days the clocks change. SMS is
never sent between 21 and 8; it waits until 08:00.
"""

from __future__ import annotations

import logging
import time as time_module
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache
from typing import cast
from zoneinfo import ZoneInfo

import holidays
from celery import current_app
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.db.models import Model, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import override

from pathways import channels, extensions
from pathways.choices import (
    ASKED_FOR_NOW,
    PLAN_OPEN_STATUSES,
    TASK_OPEN_STATUSES,
    ContactChannel,
    MembershipRole,
    NotificationChannel,
    NotificationKind,
    NotificationState,
    PlanStatus,
    TaskKind,
    TaskStatus,
)
from pathways.models import Membership, Notification, PathwayPlan, Patient, Task, User

logger = logging.getLogger(__name__)

LOCAL = ZoneInfo(settings.TIME_ZONE)  # Europe/Copenhagen: people's wall-clock
REMINDER_TIME = time(8, 0)  # reminders go out at 08:00 local time
QUIET_FROM, QUIET_UNTIL = time(21, 0), time(8, 0)  # no SMS between 21 and 8
# A claimed row not recorded within the lease is taken back by the sweeper (its worker died).
LEASE = timedelta(seconds=settings.NOTIFICATION_LEASE_SECONDS)
BACKOFF = [timedelta(minutes=m) for m in (1, 5, 15, 60)]
DELIVER_TASK = "pathways.tasks.notifications_deliver_due"
# Letters delivered to the print queue get their PDF from pathways.documents (a layer above the outbox,
# so asked for by name; its minute sweep catches what a lost request leaves).
LETTERS_TASK = "pathways.tasks.letters_prepare"
SUBJECT_KINDS = (NotificationKind.TASK_DUE_SOON, NotificationKind.APPOINTMENT_REMINDER)
_REMINDED_STATUSES = frozenset(TASK_OPEN_STATUSES) - {TaskStatus.ON_HOLD}
# Messages not yet delivered: what a service cancels when they are no longer wanted.
WAITING_STATES = (NotificationState.PENDING, NotificationState.SENDING)


# --- Time --------------------------------------------------------------------------------------------


def local_moment(day: date, at: time = REMINDER_TIME) -> datetime:
    """`at` o'clock on `day` in Copenhagen as an aware datetime (right on both sides of a clock change)."""
    return datetime.combine(day, at, tzinfo=LOCAL)


@cache
def _danish_holidays(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("DK", years=year)


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _danish_holidays(day.year)


def working_days_before(day: date, count: int) -> date:
    """The date `count` working days before `day` (weekends and Danish public holidays skipped)."""
    current = day
    while count > 0:
        current -= timedelta(days=1)
        if is_working_day(current):
            count -= 1
    return current


def outside_quiet_hours(moment: datetime) -> datetime:
    """`moment`, or 08:00 local the same or next morning when it falls between 21 and 8."""
    local = moment.astimezone(LOCAL)
    if local.time() >= QUIET_FROM:
        return local_moment(local.date() + timedelta(days=1), QUIET_UNTIL)
    if local.time() < QUIET_UNTIL:
        return local_moment(local.date(), QUIET_UNTIL)
    return moment


# --- Writing -------------------------------------------------------------------------------------------


def _recipient_key(recipient: Model) -> tuple[ContentType, str]:
    content_type = ContentType.objects.get_for_model(recipient)
    return content_type, f"{content_type.app_label}.{content_type.model}:{recipient.pk}"


def message_row(
    *,
    recipient: Model,
    kind: NotificationKind,
    channel: NotificationChannel,
    plan: PathwayPlan,
    due_at: datetime,
    task: Task | None = None,
    event: str = "",
) -> Notification:
    """An outbox row, not yet saved, with its dedupe key, as `notify` writes it: a job that raises many
    messages (quality's questionnaire schedule) builds them here and writes them with `notify_rows`."""
    if channel == NotificationChannel.SMS and kind not in ASKED_FOR_NOW:
        due_at = outside_quiet_hours(due_at)
    content_type, recipient_key = _recipient_key(recipient)
    subject = f"task:{task.pk}" if task is not None else f"plan:{plan.pk}"
    moment = event or due_at.astimezone(LOCAL).isoformat(timespec="minutes")
    return Notification(
        dedupe_key=f"{recipient_key}|{kind}|{channel}|{subject}|{moment}",
        kind=kind,
        channel=channel,
        recipient_type=content_type,
        recipient_id=recipient.pk,
        plan=plan,
        task=task,
        due_at=due_at,
    )


def _write(rows: list[Notification]) -> set[str]:
    """Put the rows in the outbox in two statements, however many: existing keys are left alone, except
    that a cancelled reminder asked for again waits again. Returns their dedupe keys."""
    if not rows:
        return set()
    keys = {row.dedupe_key for row in rows}
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    Notification.objects.filter(dedupe_key__in=keys, state=NotificationState.CANCELLED).update(
        state=NotificationState.PENDING, attempts=0, last_error=""
    )
    if any(row.due_at <= timezone.now() for row in rows):
        _deliver_after_commit()
    return keys


def notify(
    *,
    recipient: Model,
    kind: NotificationKind,
    channel: NotificationChannel,
    plan: PathwayPlan,
    due_at: datetime,
    task: Task | None = None,
    event: str = "",
) -> str:
    """Put one message in the outbox (call inside the transaction that causes it). Returns its
    dedupe key. The same recipient, kind, channel, subject and due moment (or `event`, for messages
    about a change rather than a time) give the same key: a second call changes nothing, except that a
    cancelled reminder asked for again waits again."""
    row = message_row(
        recipient=recipient, kind=kind, channel=channel, plan=plan, due_at=due_at, task=task, event=event
    )
    _write([row])
    return row.dedupe_key


def notify_rows(rows: list[Notification]) -> set[str]:
    """Put messages made by `message_row` in the outbox in two statements, however many (as `notify`
    does: a key already there is left alone). Returns their dedupe keys."""
    return _write(rows)


def _deliver_after_commit() -> None:
    """Ask a worker once per transaction, however many messages it wrote (a plan change may notify
    hundreds of staff)."""
    current = transaction.get_connection()
    if not any(callback is _ask_a_worker for _sids, callback, _robust in current.run_on_commit):
        transaction.on_commit(_ask_a_worker, robust=True)


def _ask_for_letter_documents() -> None:
    """Ask a worker to make the PDFs of letters just delivered to the print queue (lost with Redis down:
    the documents' sweep makes them within a minute of it being back)."""
    try:
        current_app.send_task(LETTERS_TASK, retry=False, ignore_result=True)
    except Exception:
        logger.warning(
            "outbox: could not ask a worker for the letters' PDFs; the sweeper will", exc_info=True
        )


def _ask_a_worker() -> None:
    """Ask a worker to deliver now. If Redis is down the request is lost; the row is not: the sweeper
    delivers it within a minute of Redis (and beat) being back."""
    try:
        current_app.send_task(DELIVER_TASK, retry=False, ignore_result=True)
    except Exception:
        logger.warning("outbox: could not ask a worker to deliver; the sweeper will", exc_info=True)


def patient_channel(patient: Patient) -> NotificationChannel:
    """The patient's preferred way to hear from us. "Digital (e-Boks, app)" is e-mail here, or SMS
    without an e-mail address; a Digital Post integration would take its place."""
    if patient.preferred_contact == ContactChannel.LETTER:
        return NotificationChannel.LETTER
    if patient.preferred_contact == ContactChannel.PHONE or not patient.email:
        return NotificationChannel.SMS
    return NotificationChannel.EMAIL


def notify_staff(
    users: Iterable[User],
    *,
    kind: NotificationKind,
    plan: PathwayPlan,
    due_at: datetime,
    task: Task | None = None,
    event: str = "",
    email: bool = True,
) -> set[str]:
    """Tell staff: in-app, and by e-mail (without health data) where they have an address and `email`.
    Returns the rows' dedupe keys (a caller cancels what it no longer wants by them)."""
    rows = []
    for user in users:
        channels_for_user = [NotificationChannel.IN_APP]
        if email and user.email:
            channels_for_user.append(NotificationChannel.EMAIL)
        rows += [
            message_row(
                recipient=user, kind=kind, channel=channel, plan=plan, task=task, due_at=due_at, event=event
            )
            for channel in channels_for_user
        ]
    return _write(rows)  # two statements for any number of staff


def coordinators_of(organisation_id: int) -> list[User]:
    return list(
        User.objects.filter(
            is_active=True,
            memberships__organisation_id=organisation_id,
            memberships__role=MembershipRole.COORDINATOR,
            memberships__ended_at__isnull=True,
        ).distinct()
    )


def task_assigned(*, task: Task, actor: User | None) -> None:
    """The task's responsible person hears that it is theirs (not when they took it themselves)."""
    person = task.responsible_person
    if person is None or person == actor or not person.is_active:
        return
    notify_staff(
        [person],
        kind=NotificationKind.TASK_ASSIGNED,
        plan=task.plan,
        task=task,
        due_at=timezone.now(),
        event=f"v{task.version}",
    )


def tasks_assigned_to_organisations(*, tasks: Iterable[Task]) -> None:
    """New tasks that came to organisations rather than to a person (a discharge's follow-ups): the staff
    of each responsible organisation hear of them (bell and e-mail), so the GP learns of the follow-up as
    soon as the discharge is known, not two days before it is due."""
    tasks = [task for task in tasks if task.responsible_person_id is None]
    members = Membership.objects.active().filter(
        organisation_id__in={task.responsible_organisation_id for task in tasks}, user__is_active=True
    )
    staff: dict[int, list[User]] = {}
    for membership in members.select_related("user"):
        staff.setdefault(membership.organisation_id, []).append(membership.user)
    for task in tasks:
        notify_staff(
            staff.get(task.responsible_organisation_id, []),
            kind=NotificationKind.TASK_ASSIGNED,
            plan=task.plan,
            task=task,
            due_at=timezone.now(),
            event=f"v{task.version}",
        )


def tasks_released(*, task: Task, actor: User | None) -> None:
    """`task` is done: the open tasks that waited for it are ready now. Each one's responsible person
    hears it (else the responsible organisation's coordinators), but not the person who finished it."""
    waiting = (
        Task.objects.filter(depends_on=task, status__in=TASK_OPEN_STATUSES)
        .exclude(status=TaskStatus.ON_HOLD)
        .select_related("plan", "responsible_person")
    )
    for released in waiting:
        people = (
            [released.responsible_person]
            if released.responsible_person is not None
            else coordinators_of(released.responsible_organisation_id)
        )
        notify_staff(
            [p for p in people if p.is_active and p != actor],
            kind=NotificationKind.TASK_RELEASED,
            plan=released.plan,
            task=released,
            due_at=timezone.now(),
            # A reopened and again finished task releases its followers again.
            event=f"released:{task.pk}:v{task.version}",
        )


def _others_hearing_of_appointments(plan: PathwayPlan) -> list[tuple[Model, str]]:
    """The relatives (through pathways.extensions) who hear of the plan's appointments, with their channel."""
    return [pair for others in extensions.APPOINTMENT_RECIPIENTS for pair in others(plan)]


def task_reminders_sync(*, task: Task, others: list[tuple[Model, str]] | None = None) -> None:
    """Make the task's waiting reminders match the task as it is now, in the caller's transaction: a
    closed task, or a task in a plan that is not active, has none; a moved task's reminders move; a new
    responsible person gets them. Rows a worker holds are cancelled too: it checks before it sends."""
    wanted: set[str] = set()
    plan = PathwayPlan.objects.get(pk=task.plan_id)  # as saved now, not the caller's copy
    today = timezone.localdate()
    if plan.status == PlanStatus.ACTIVE and task.status in _REMINDED_STATUSES:
        if task.due_date is not None and task.due_date > today:
            remind_on = working_days_before(task.due_date, 2)
            recipients = (
                [task.responsible_person]
                if task.responsible_person is not None
                else coordinators_of(task.responsible_organisation_id)
            )
            wanted |= notify_staff(
                recipients,
                kind=NotificationKind.TASK_DUE_SOON,
                plan=plan,
                task=task,
                due_at=max(local_moment(remind_on), timezone.now()),
                event=f"due:{task.due_date.isoformat()}",
            )
        day = task.window_start or task.due_date
        if task.kind in (TaskKind.APPOINTMENT, TaskKind.HOME_VISIT) and task.visible_to_patient and day:
            patient = Patient.objects.get(pk=plan.patient_id)
            channel = patient_channel(patient)
            # A letter is printed and posted: it leaves a week ahead rather than two days.
            remind_on = (
                working_days_before(day, 5)
                if channel == NotificationChannel.LETTER
                else day - timedelta(days=2)
            )
            if remind_on >= today:
                wanted.add(
                    notify(
                        recipient=patient,
                        kind=NotificationKind.APPOINTMENT_REMINDER,
                        channel=channel,
                        plan=plan,
                        task=task,
                        due_at=local_moment(remind_on),
                    )
                )
            # Relatives the patient lets see appointments hear of them too, by their own channel (`others`:
            # read once for the whole plan by plan_reminders_sync).
            if others is None:
                others = _others_hearing_of_appointments(plan)
            for recipient, other_channel in others:
                remind_on = (
                    working_days_before(day, 5)
                    if other_channel == NotificationChannel.LETTER
                    else day - timedelta(days=2)
                )
                if remind_on >= today:
                    wanted.add(
                        notify(
                            recipient=recipient,
                            kind=NotificationKind.APPOINTMENT_REMINDER,
                            channel=NotificationChannel(other_channel),
                            plan=plan,
                            task=task,
                            due_at=local_moment(remind_on),
                        )
                    )
    still_overdue = (
        plan.status == PlanStatus.ACTIVE
        and task.status in TASK_OPEN_STATUSES
        and task.due_date is not None
        and task.due_date < today
    )
    kinds = [*SUBJECT_KINDS] if still_overdue else [*SUBJECT_KINDS, NotificationKind.TASK_OVERDUE]
    Notification.objects.filter(task=task, kind__in=kinds, state__in=WAITING_STATES).exclude(
        dedupe_key__in=wanted
    ).update(state=NotificationState.CANCELLED, lease_until=None)


def plan_reminders_sync(*, plan: PathwayPlan) -> None:
    """After a plan changes status (or who among the relatives hears of it): its tasks' reminders stop
    while it is not active, and start again."""
    others = _others_hearing_of_appointments(plan)
    for task in plan.tasks.all():
        task_reminders_sync(task=task, others=others)
    if plan.status not in PLAN_OPEN_STATUSES:
        # A plan that has ended asks no more questions: its questionnaires' waiting messages are cancelled
        # here, in the transaction that ends it (quality's hourly job closes the questionnaires themselves).
        Notification.objects.filter(plan=plan, kind__in=QUESTIONNAIRE_KINDS, state__in=WAITING_STATES).update(
            state=NotificationState.CANCELLED, lease_until=None
        )


def plan_status_changed(*, plan: PathwayPlan, actor: User | None) -> None:
    """Staff of the organisations taking part in the plan see the change in their in-app list."""
    staff = User.objects.filter(
        is_active=True,
        memberships__organisation__participations__plan=plan,
        memberships__ended_at__isnull=True,
    ).distinct()
    if actor is not None:
        staff = staff.exclude(pk=actor.pk)
    notify_staff(
        staff,
        kind=NotificationKind.PLAN_STATUS_CHANGED,
        plan=plan,
        due_at=timezone.now(),
        event=f"v{plan.version}",
        email=False,
    )


def overdue_scan(*, today: date | None = None) -> int:
    """One notice per overdue task per day to its plan's coordinator (idempotent: run it as often as
    you like). Returns the number of tasks looked at."""
    today = today or timezone.localdate()
    tasks = Task.objects.filter(
        status__in=TASK_OPEN_STATUSES,
        due_date__lt=today,
        plan__status=PlanStatus.ACTIVE,
        plan__coordinator__is_active=True,
    ).select_related("plan__coordinator")
    count = 0
    for task in tasks.iterator(chunk_size=500):
        coordinator = task.plan.coordinator
        if coordinator is None:
            continue
        count += 1
        with transaction.atomic():
            notify_staff(
                [coordinator],
                kind=NotificationKind.TASK_OVERDUE,
                plan=task.plan,
                task=task,
                due_at=max(local_moment(today), timezone.now()),
                event=f"overdue:{today.isoformat()}",
            )
    return count


def retry_failed(ids: Iterable[int]) -> int:
    """Failed rows wait again, with a fresh set of attempts, except those about a task that has since
    closed or a plan no longer active (a late reminder would mislead)."""
    rows = Notification.objects.filter(
        pk__in=list(ids), state=NotificationState.FAILED, plan__status=PlanStatus.ACTIVE
    )
    rows = rows.exclude(task__status__in=[s for s in TaskStatus if s not in TASK_OPEN_STATUSES])
    count = rows.update(state=NotificationState.PENDING, attempts=0, due_at=timezone.now(), last_error="")
    if count:
        _deliver_after_commit()
    return count


# --- Delivering --------------------------------------------------------------------------------------

# In-app messages and letters are delivered by being recorded (the bell and the print queue show them):
# their claim is their delivery. Messages that leave the product are claimed for sending, with a lease.
_CLAIM_SQL = """
UPDATE pathways_notification
   SET attempts = attempts + 1,
       state = CASE WHEN channel IN ('in_app', 'letter') THEN 'sent' ELSE 'sending' END,
       sent_at = CASE WHEN channel IN ('in_app', 'letter') THEN %(now)s END,
       lease_until = CASE WHEN channel IN ('in_app', 'letter') THEN NULL ELSE %(lease_until)s END,
       last_error = ''
 WHERE id IN (
       SELECT id FROM pathways_notification
        WHERE state = 'pending' AND due_at <= %(now)s
        ORDER BY due_at
        LIMIT %(limit)s
          FOR UPDATE SKIP LOCKED)
RETURNING id, attempts, channel
"""


def claim_due(*, now: datetime, limit: int) -> dict[int, tuple[int, str]]:
    """Claim up to `limit` due rows for this worker: {row id: (the attempt it claimed, channel)}. In-app
    messages and letters among them are delivered with the claim."""
    # Durable: a claim committed at once, never a savepoint of a caller's transaction whose rollback
    # would make rows already sent claimable again.
    with transaction.atomic(durable=True), connection.cursor() as cursor:
        cursor.execute(_CLAIM_SQL, {"now": now, "lease_until": now + LEASE, "limit": limit})
        return {row_id: (attempt, channel) for row_id, attempt, channel in cursor.fetchall()}


def _still_ours(row_id: int, attempt: int) -> QuerySet[Notification]:
    return Notification.objects.filter(pk=row_id, state=NotificationState.SENDING, attempts=attempt)


# A questionnaire sent to a patient or a relative, and its reminders (quality.services raises them).
QUESTIONNAIRE_KINDS = frozenset(
    {NotificationKind.QUESTIONNAIRE_SENT, NotificationKind.QUESTIONNAIRE_REMINDER}
)


def _message(row: Notification) -> channels.OutgoingMessage:
    """The text that leaves the product: that there is news and where to see it; never a CPR number,
    a diagnosis or a task's title."""
    site = settings.SITE_URL.rstrip("/")
    recipient = row.recipient
    if recipient is None:
        raise channels.PermanentSendError("the recipient no longer exists")
    if hasattr(recipient, "notification_text"):
        # A recipient without a sign-in words its own message (the cross-sector secretariat is told what is
        # disputed, between whom and whom to call: it cannot open the plan).
        with override(settings.LANGUAGE_CODE):
            subject, body = recipient.notification_text(row)
    elif not isinstance(recipient, Patient):
        # Staff: a link to the plan (a relative's follow-up: to the plan's relatives, where the relative's
        # own support record is reached by those who may see it; the message names neither).
        link = site + reverse("pathways:plan-detail", args=[row.plan.public_id])
        if row.kind == NotificationKind.RELATIVE_FOLLOW_UP:
            link += "#relatives"
        with override(settings.LANGUAGE_CODE):
            subject = _("News in Fælles forløb")
            if row.kind == NotificationKind.RELATIVE_FOLLOW_UP:
                what = _("a relative's support is due for follow-up")
            else:
                what = stay_notice_what(row.kind) or str(row.get_kind_display()).lower()
            body = _(
                "There is news for you in a pathway plan in Fælles forløb (%(what)s).\n\n"
                "See it here (sign in first): %(link)s\n\n"
                "This message holds no health information."
            ) % {"what": what, "link": link}
    else:
        language = getattr(recipient, "language", "da")
        with override(language if language in dict(settings.LANGUAGES) else "da"):
            phone = row.plan.coordinator_phone or _("your coordinator's number in the plan")
            portal = site + settings.PORTAL_PATH
            subject = _("News about your course of care")
            if row.kind == NotificationKind.COORDINATOR_ASSIGNED:
                body = " ".join(_new_coordinator_sentences(row.plan))
            elif row.kind == NotificationKind.CONSENT_REVOKED:
                body = " ".join([str(_("Hello.")), *_consent_revoked_sentences(row, str(phone))])
            elif row.kind == NotificationKind.APPOINTMENT_REMINDER:
                body = _(
                    "Hello. You have an appointment in 2 days. See when and where at %(portal)s "
                    "or call your coordinator on %(phone)s."
                ) % {"portal": portal, "phone": phone}
            elif row.kind in QUESTIONNAIRE_KINDS:
                subject = _("A few questions about how you are")
                body = _(
                    "Hello. We would like to know how you are. Please answer a few short questions at "
                    "%(portal)s. It takes about 2 minutes. You can also call your coordinator on %(phone)s."
                ) % {"portal": portal, "phone": phone}
            else:
                body = _(
                    "Hello. There is news in your plan. See it at %(portal)s or call your coordinator "
                    "on %(phone)s."
                ) % {"portal": portal, "phone": phone}
    return channels.OutgoingMessage(
        idempotency_key=str(row.public_id),
        address=recipient.notification_address(row.channel),
        subject=str(subject),
        body=str(body),
    )


# Delivered by being recorded: the bell shows in-app messages, the print queue shows letters.
_STAYS_INSIDE = frozenset({NotificationChannel.IN_APP, NotificationChannel.LETTER})


def _new_coordinator_sentences(plan: PathwayPlan) -> list[str]:
    """A patient's news of a new coordinator: their name and phone number, nothing else (in the
    language that is active)."""
    coordinator = plan.coordinator
    if coordinator is None:
        return [str(_("Your plan has no coordinator at the moment."))]
    sentences = [str(_("Your coordinator is now %(name)s.") % {"name": str(coordinator)})]
    if plan.coordinator_phone:
        sentences.append(str(_("You can call them on %(phone)s.") % {"phone": plan.coordinator_phone}))
    return sentences


def _consent_revoked_sentences(row: Notification, phone: str) -> list[str]:
    """A patient's news that a relative no longer has access to their plan, naming the relative where the
    app that raised it gives the name (pathways.extensions.notice_words), in the language that is active."""
    name = extensions.notice_words(row).get("relative", "")
    if name:
        first = _("Your relative %(name)s no longer has access to your plan.") % {"name": name}
    else:
        first = _("One of your relatives no longer has access to your plan.")
    return [
        str(first),
        str(_("If this is not what you want, call your coordinator on %(phone)s.") % {"phone": phone}),
    ]


@dataclass(frozen=True)
class Addressee:
    """Whom a letter goes to, as printed: name, address lines, the name in the greeting, the language."""

    name: str
    lines: list[str]
    greeting_name: str
    language: str
    is_patient: bool = True  # False: a relative of the plan's patient


def letter_addressee(row: Notification) -> Addressee:
    """The patient, or another recipient (a relative) that says how it is addressed (`letter_addressee`)."""
    recipient = row.recipient
    if recipient is not None and hasattr(recipient, "letter_addressee"):
        return cast(Addressee, recipient.letter_addressee(Addressee))
    patient = row.plan.patient
    town = f"{patient.postal_code} {patient.city}".strip()
    return Addressee(
        name=patient.full_name,
        lines=[line for line in (patient.address, town) if line],
        greeting_name=patient.given_name,
        language=patient.language or "da",
    )


def letter_paragraphs(row: Notification) -> list[str]:
    """A letter's text in plain language: that there is news, where to see it and whom to call. A
    letter is printed by the coordinator's organisation and read at home later, so it names the day of
    an appointment rather than "in 2 days"."""
    recipient = row.recipient
    if recipient is not None and hasattr(recipient, "letter_paragraphs"):
        return list(recipient.letter_paragraphs(row))  # a relative's letter is worded for them
    patient = row.plan.patient
    language = patient.language if patient.language in dict(settings.LANGUAGES) else "da"
    with override(language):
        if row.kind == NotificationKind.COORDINATOR_ASSIGNED:
            return _new_coordinator_sentences(row.plan)
        phone = row.plan.coordinator_phone or _("your coordinator's number in the plan")
        if row.kind == NotificationKind.CONSENT_REVOKED:
            return _consent_revoked_sentences(row, str(phone))
        portal = settings.SITE_URL.rstrip("/") + settings.PORTAL_PATH
        if row.kind in QUESTIONNAIRE_KINDS:
            return [
                str(_("We would like to know how you are. Please answer a few short questions.")),
                str(_("You can answer them at %(portal)s.") % {"portal": portal}),
                str(
                    _("Or call your coordinator on %(phone)s. They can fill in the answers with you.")
                    % {"phone": phone}
                ),
            ]
        day = row.task.window_start or row.task.due_date if row.task is not None else None
        if row.kind == NotificationKind.APPOINTMENT_REMINDER and day is not None:
            first = _("You have an appointment on %(day)s.") % {"day": date_format(day, "j. F Y")}
        else:
            first = _("There is news in your plan.")
        return [
            str(first),
            str(_("You can see your plan at %(portal)s.") % {"portal": portal}),
            str(_("If you have questions, call your coordinator on %(phone)s.") % {"phone": phone}),
        ]


def _send(row: Notification) -> None:
    message = _message(row)
    if not message.address:
        raise channels.PermanentSendError("no address for this channel")
    if row.channel == NotificationChannel.EMAIL:
        channels.send_email(message)
    else:
        channels.send_sms(message)


def _deliver_one(row: Notification, attempt: int, now: datetime) -> bool:
    if (
        row.channel == NotificationChannel.SMS
        and row.kind not in ASKED_FOR_NOW
        and outside_quiet_hours(now) != now
    ):
        _still_ours(row.pk, attempt).update(
            state=NotificationState.PENDING,
            attempts=attempt - 1,
            lease_until=None,
            due_at=outside_quiet_hours(now),
        )
        return False
    # Renew the lease just before sending, and send only if the row is still ours: a batch may outlive
    # a lease given at its claim, and the row may have been cancelled or taken back meanwhile.
    if not _still_ours(row.pk, attempt).update(lease_until=now + LEASE):
        return False
    try:
        _send(row)
    except SoftTimeLimitExceeded:
        _release([(row.pk, attempt)])
        raise
    except channels.TransientSendError as error:
        retry = attempt < settings.NOTIFICATION_MAX_ATTEMPTS
        _still_ours(row.pk, attempt).update(
            state=NotificationState.PENDING if retry else NotificationState.FAILED,
            lease_until=None,
            last_error=str(error)[:200],
            due_at=now + BACKOFF[min(attempt, len(BACKOFF)) - 1] if retry else row.due_at,
        )
        return False
    except channels.MessageNotWanted as error:
        _still_ours(row.pk, attempt).update(
            state=NotificationState.CANCELLED, lease_until=None, last_error=str(error)[:200]
        )
        return False
    except channels.PermanentSendError as error:
        _still_ours(row.pk, attempt).update(
            state=NotificationState.FAILED, lease_until=None, last_error=str(error)[:200]
        )
        return False
    except Exception as error:
        # The error's text may hold an address: the kind of error and the row's id only.
        logger.error("outbox: %s delivering notification %s", type(error).__name__, row.public_id)
        _still_ours(row.pk, attempt).update(
            state=NotificationState.FAILED, lease_until=None, last_error=type(error).__name__
        )
        return False
    return bool(
        _still_ours(row.pk, attempt).update(
            state=NotificationState.SENT, sent_at=timezone.now(), lease_until=None, last_error=""
        )
    )


def _release(claims: list[tuple[int, int]]) -> None:
    """Give back claimed rows not yet sent (the task is out of time): they wait again at once."""
    for row_id, attempt in claims:
        _still_ours(row_id, attempt).update(
            state=NotificationState.PENDING, attempts=attempt - 1, lease_until=None
        )


def deliver_due(
    *,
    now: datetime | None = None,
    batch: int = 100,
    max_rows: int | None = None,
    seconds: float | None = None,
) -> int:
    """Claim and deliver due rows until none is left (or `max_rows` were claimed, or `seconds` have
    passed: the rest is the next run's). Returns how many were delivered. Safe to run in any number of
    workers at once.

    In-app messages and letters leave nothing to send: the claim records them as delivered (and a worker
    is asked, once per call, to make the letters' PDFs).
    A message that leaves the product is recorded right after its own send, so a worker killed mid-batch
    sends again (under the same idempotency key) at most the one message it was sending.
    """
    delivered = claimed_total = 0
    letters_asked = False
    deadline = None if seconds is None else time_module.monotonic() + seconds
    while max_rows is None or claimed_total < max_rows:
        if deadline is not None and time_module.monotonic() > deadline:
            break
        moment = now or timezone.now()
        size = batch if max_rows is None else min(batch, max_rows - claimed_total)
        claimed = claim_due(now=moment, limit=size)
        if not claimed:
            break
        claimed_total += len(claimed)
        if not letters_asked and any(c == NotificationChannel.LETTER for _a, c in claimed.values()):
            letters_asked = True
            transaction.on_commit(_ask_for_letter_documents, robust=True)
        delivered += sum(1 for _attempt, channel in claimed.values() if channel in _STAYS_INSIDE)
        outgoing = [pk for pk, (_attempt, channel) in claimed.items() if channel not in _STAYS_INSIDE]
        rows = list(
            Notification.objects.filter(pk__in=outgoing)
            .select_related("plan", "recipient_type")
            .prefetch_related("recipient")
        )
        for index, row in enumerate(rows):
            try:
                delivered += _deliver_one(row, claimed[row.pk][0], now or timezone.now())
            except SoftTimeLimitExceeded:
                _release([(later.pk, claimed[later.pk][0]) for later in rows[index + 1 :]])
                raise
    return delivered


def reclaim_expired(*, now: datetime | None = None) -> int:
    """Rows whose worker died after claiming them wait again (their lease ran out)."""
    return Notification.objects.filter(
        state=NotificationState.SENDING, lease_until__lt=now or timezone.now()
    ).update(state=NotificationState.PENDING, lease_until=None)


def sweep(*, now: datetime | None = None, seconds: float | None = None) -> int:
    """The minute job: take back rows of dead workers, then deliver everything due."""
    reclaim_expired(now=now)
    return deliver_due(now=now, seconds=seconds)


# --- stays: what the participants are told of hospital events ---

# An e-mail about a hospital event says only that there is news about a hospital stay: which event (an
# admission, a death) and whose is read in the product after signing in, where the in-app list names them.
STAY_NOTICE_KINDS = frozenset(
    {
        NotificationKind.PATIENT_ADMITTED,
        NotificationKind.PATIENT_ON_LEAVE,
        NotificationKind.PATIENT_DISCHARGED,
        NotificationKind.PATIENT_DIED,
        NotificationKind.TRANSITION_REVERSED,
    }
)


def stay_notice_what(kind: str) -> str | None:
    """What an e-mail to staff calls a hospital event (in the active language); None for other kinds."""
    if kind in STAY_NOTICE_KINDS:
        return str(_("news about a hospital stay"))
    return None


def hospital_event_notify(
    *, plan: PathwayPlan, kind: NotificationKind, event: str, actor: User | None
) -> set[str]:
    """Tell the staff of every organisation taking part in the plan, at once, in the product and by e-mail
    (the worker is asked when the transaction commits), except the person who recorded the event. `event`
    names the hospital event, so telling it twice leaves one message each."""
    staff = User.objects.filter(
        is_active=True,
        memberships__organisation__participations__plan=plan,
        memberships__ended_at__isnull=True,
    ).distinct()
    if actor is not None:
        staff = staff.exclude(pk=actor.pk)
    return notify_staff(staff, kind=kind, plan=plan, due_at=timezone.now(), event=event)


def non_staff_messages_cancel(*, plan: PathwayPlan) -> int:
    """Cancel every message about the plan still waiting for the patient or a relative — reminders and
    letters — at a death. Not the messages to staff or to an escalation's secretariat: the work about the
    plan is theirs to close. Rows a worker holds are cancelled too: it checks before it sends. Returns how
    many."""
    types = ContentType.objects.get_for_models(Patient, *extensions.NON_STAFF_RECIPIENT_MODELS).values()
    return Notification.objects.filter(plan=plan, state__in=WAITING_STATES, recipient_type__in=types).update(
        state=NotificationState.CANCELLED, lease_until=None
    )
