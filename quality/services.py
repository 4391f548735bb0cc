"""Quality's writes: questionnaires asked, answered, expired and flagged. Keyword-only, typed, atomic; each
checks the actor's rights (pathways.access.may_change, as the hub's services do), locks what it changes,
and raises its messages through the hub's outbox in the same transaction.

Asking. The beat job (`questionnaires_schedule`, hourly) asks each open plan's patient — and the relatives
whose consent lets them follow the plan — at the milestones the schedules name (quality.choices.Milestone):
a request row and its messages (the questionnaire now, reminders at 08:00 on the reminder days) are written
together, and the request's unique occurrence makes a second run ask nothing. A milestone is asked only
within its window (never backfilled), and not when the person was asked or answered the same
questionnaire shortly before it. Staff may ask at once (`request_send`).

Answering. `response_record` checks every answer against the questionnaire's scale (a message per item,
nothing written), derives the score (`response_score`), closes the person's open request and cancels its
waiting messages in the same transaction ("never after the answer"), and tells the plan's coordinator of a
flagged response. `response_submit_portal` is the portal's way in: the request must be the reader's own
and still open.

Ending. `requests_expire` (hourly) closes what is past its window and cancels what may no longer be asked:
requests of plans that ended (a death completes the plan; pathways.stays has already cancelled the
messages) and of relatives who left the plan or whose consent no longer lets them follow it.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from uuid import uuid4

from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Max, Model, Prefetch, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from pathways import access as hub_access
from pathways import outbox
from pathways.choices import (
    MembershipRole,
    NotificationChannel,
    NotificationKind,
    NotificationState,
    PlanStatus,
    StayClass,
    StayEnd,
    StayStatus,
)
from pathways.models import HospitalStay, Notification, PathwayPlan, Patient, PlanTemplate, User
from pathways.numbers import ascii_digits
from pathways.services import VersionConflict
from quality.choices import (
    STAFF_SOURCES,
    Milestone,
    QuestionnaireStatus,
    RequestState,
    Respondent,
    ResponseSource,
    ResponseStatus,
)
from quality.models import (
    AnswerOption,
    Questionnaire,
    QuestionnaireItem,
    QuestionnaireRequest,
    QuestionnaireResponse,
    QuestionnaireSchedule,
    ScoreBand,
    band_for,
)
from relatives import access as relatives_access
from relatives.choices import SEEING_SCOPES, RelativeChannel
from relatives.models import Relative, RelativeConsent

# Plans that are asked and answer: a draft is not yet agreed, a completed or revoked plan is over.
ASKING_STATUSES = (PlanStatus.ACTIVE, PlanStatus.ON_HOLD)
# A staff entry may be made for a plan still being drafted (the first WHO-5 at the first visit).
ENTRY_STATUSES = (PlanStatus.DRAFT, PlanStatus.ACTIVE, PlanStatus.ON_HOLD)
SCHEDULE_CHUNK = 500  # plans read at a time by the schedule job
# Staff asking at once: open this long, reminded this many days after.
ASK_WINDOW_DAYS = 14
ASK_REMINDER_DAYS = (7,)
WAITING = (NotificationState.PENDING, NotificationState.SENDING)


# --- scoring ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Score:
    """A response's score as derived from its answers (stored with the response)."""

    raw: int
    score: int
    max_score: int
    band: ScoreBand | None
    flagged: bool
    low_items: list[str] = field(default_factory=list)

    def fields(self) -> dict[str, Any]:
        """The response's fields the score fills (the band's words stored in Danish, as given)."""
        return {
            "raw_score": self.raw,
            "score": self.score,
            "max_score": self.max_score,
            "band_label": self.band.label_da if self.band is not None else "",
            "band_tone": self.band.tone if self.band is not None else "",
            "flagged": self.flagged,
            "low_items": list(self.low_items),
        }


@dataclass(frozen=True)
class Scale:
    """A questionnaire's items, answer options and bands, loaded once (three queries)."""

    questionnaire: Questionnaire
    items: list[QuestionnaireItem]
    options: list[AnswerOption]
    bands: list[ScoreBand]

    @classmethod
    def of(cls, questionnaire: Questionnaire) -> Scale:
        return cls(
            questionnaire=questionnaire,
            items=list(questionnaire.items.order_by("position", "pk")),
            options=list(questionnaire.options.order_by("position", "pk")),
            bands=list(questionnaire.bands.order_by("lowest", "pk")),
        )


def _whole_number(given: Any) -> int | None:
    """An answer's value as a whole number: an int, or its digits as text (a form's value); else None."""
    if isinstance(given, bool):
        return None
    if isinstance(given, int):
        return given
    if isinstance(given, str):
        digits = ascii_digits(given.strip())  # any script's digits as 0–9 (pathways.numbers)
        return int(digits) if digits and digits.isascii() and digits.isdigit() else None
    return None


def answers_clean(*, scale: Scale, answers: Mapping[str, Any]) -> dict[str, int]:
    """The answers as {link id: value}, each item answered with a value on the questionnaire's scale;
    otherwise ValidationError with a message per item (keyed by its link id) and one for answers to
    questions the questionnaire does not have."""
    values = {option.value for option in scale.options}
    errors: dict[str, str] = {}
    clean: dict[str, int] = {}
    for number, item in enumerate(scale.items, 1):
        given = answers.get(item.link_id)
        if given is None or given == "":
            errors[item.link_id] = _("Choose an answer to question %(number)s.") % {"number": number}
            continue
        value = _whole_number(given)
        if value not in values:
            errors[item.link_id] = _("Choose one of the answers given to question %(number)s.") % {
                "number": number
            }
            continue
        clean[item.link_id] = value
    if set(answers) - {item.link_id for item in scale.items}:
        errors[NON_FIELD_ERRORS] = _("The answers are to questions this questionnaire does not have.")
    if not scale.items:
        errors[NON_FIELD_ERRORS] = _("This questionnaire has no questions.")
    if errors:
        raise ValidationError(errors)
    return clean


def response_score(*, scale: Scale, answers: Mapping[str, int]) -> Score:
    """The score of complete, clean answers (answers_clean): raw = the sum of the answers, score = raw ×
    the multiplier, the highest possible = items × the highest option × the multiplier, the band that holds
    the score, and whether it flags the plan — the score at or below / at or above the questionnaire's
    limits, or any answer at or below its item limit (those items are `low_items`)."""
    questionnaire = scale.questionnaire
    multiplier = questionnaire.score_multiplier
    raw = sum(answers[item.link_id] for item in scale.items)
    score = raw * multiplier
    highest = max((option.value for option in scale.options), default=0)
    low_items: list[str] = []
    if questionnaire.flag_item_at_most is not None:
        low_items = [
            item.link_id for item in scale.items if answers[item.link_id] <= questionnaire.flag_item_at_most
        ]
    flagged = bool(low_items)
    if questionnaire.flag_score_at_most is not None and score <= questionnaire.flag_score_at_most:
        flagged = True
    if questionnaire.flag_score_at_least is not None and score >= questionnaire.flag_score_at_least:
        flagged = True
    return Score(
        raw=raw,
        score=score,
        max_score=len(scale.items) * highest * multiplier,
        band=band_for(scale.bands, score),
        flagged=flagged,
        low_items=low_items,
    )


# --- answering ----------------------------------------------------------------------------------------------


def _may_enter(actor: User | None, plan: PathwayPlan, relative: Relative | None) -> bool:
    """Who enters a response on a person's behalf (quality.access.may_enter_response): the plan's
    coordinator (or substitute) and staff acting for an organisation taking part in it; for a relative's
    own response, those who may see the relative's support record."""
    if relative is None:
        participating = relatives_access.participating_ids(plan)

        def allowed(rights: hub_access.PlanRights) -> bool:
            return rights.is_coordinator or bool(rights.acting_organisation_ids & participating)

    else:
        support = relatives_access.support_organisation_ids([relative])[relative.pk]

        def allowed(rights: hub_access.PlanRights) -> bool:
            return relatives_access.may_see_support(rights, support)

    return hub_access.may_change(actor, plan, allowed, admin_permission="quality.enter_response")


def _entering_organisation_id(actor: User, plan: PathwayPlan) -> int | None:
    """The organisation a staff entry is made for: the coordinator's organisation for the coordinator,
    else the first organisation the actor acts for that takes part in the plan."""
    rights = hub_access.rights_for(actor, plan)
    if rights.is_coordinator and plan.coordinator_organisation_id is not None:
        return plan.coordinator_organisation_id
    shared = sorted(rights.acting_organisation_ids & relatives_access.participating_ids(plan))
    return shared[0] if shared else None


def _messages_cancel(keys: Iterable[str]) -> int:
    """Cancel the request's messages still waiting (a worker holding one checks before it sends) and its
    letters not yet printed (they leave the print queue). Returns how many."""
    keys = list(keys)
    if not keys:
        return 0
    waiting = Q(state__in=WAITING) | Q(
        channel=NotificationChannel.LETTER, state=NotificationState.SENT, read_at__isnull=True
    )
    return (
        Notification.objects.filter(dedupe_key__in=keys)
        .filter(waiting)
        .update(state=NotificationState.CANCELLED, lease_until=None, sent_at=None)
    )


def _request_close(request: QuestionnaireRequest, state: RequestState) -> None:
    """Close a locked OPEN request (answered, expired, cancelled) and cancel its waiting messages."""
    request.state = state
    request.closed_at = timezone.now()
    request.save(update_fields=["state", "closed_at"])
    _messages_cancel(request.reminder_keys)


def _flag_recipients(plan: PathwayPlan, relative: Relative | None) -> list[User]:
    """Who hears of a flagged response: the plan's coordinator and substitute; a plan without one, the
    coordinators of the organisations taking part — for a relative's own answer, only those who may read
    it: the coordinators of the organisations taking part that hold an open referral of the relative's
    (relatives.access.may_see_support). With none, the caseload's "answers to look at" still shows it to the
    coordinator named next."""
    people = [
        person
        for person in (plan.coordinator, plan.coordinator_substitute)
        if person is not None and person.is_active
    ]
    if people:
        return people
    coordinators = User.objects.filter(
        is_active=True, memberships__role=MembershipRole.COORDINATOR, memberships__ended_at__isnull=True
    )
    if relative is not None:
        # Holding an open referral of the relative's, and taking part in the plan (else its page is shut).
        organisations = relatives_access.support_organisation_ids([relative])[relative.pk]
        taking_part = plan.participants.filter(organisation__in=organisations).values("organisation")
        return list(coordinators.filter(memberships__organisation__in=taking_part).distinct())
    return list(coordinators.filter(memberships__organisation__participations__plan=plan).distinct())


def _open_request_of(
    plan: PathwayPlan, questionnaire: Questionnaire, relative: Relative | None
) -> QuestionnaireRequest | None:
    """The person's open request for the questionnaire, locked (the latest, if there were ever two)."""
    return (
        QuestionnaireRequest.objects.select_for_update()
        .filter(plan=plan, questionnaire=questionnaire, relative=relative, state=RequestState.OPEN)
        .order_by("-opens_on", "-id")
        .first()
    )


@transaction.atomic
def response_record(
    *,
    questionnaire: Questionnaire,
    plan: PathwayPlan,
    answers: Mapping[str, Any],
    source: str,
    relative: Relative | None = None,
    request: QuestionnaireRequest | None = None,
    actor: User | None = None,
    answered_on: date | None = None,
) -> QuestionnaireResponse:
    """Record a person's answers (the patient's, or `relative`'s own) with their score.

    Staff (`source` one of STAFF_SOURCES) enter on the person's behalf: `actor` must be the plan's
    coordinator or take part in it (a relative's response: may see the relative's support record) —
    PermissionDenied otherwise; `answered_on` is not in the future nor before the plan was made. A portal
    answer (`source` PORTAL) has no staff author and is given today (response_submit_portal checks the
    reader). Every question answered with a value on the scale, else ValidationError (a message per
    question) and nothing written.

    The person's open request for the questionnaire (`request`, or the one found) is closed as answered and
    its waiting messages cancelled in the same transaction; a flagged response tells the plan's coordinator
    (and substitute), once (event "response:<id>")."""
    today = timezone.localdate()
    errors: dict[str, str] = {}
    staff = source in STAFF_SOURCES
    if source not in ResponseSource.values:
        raise ValidationError({"source": _("Say how the answers were given.")})
    if staff:
        if actor is None:
            raise PermissionDenied
        if not _may_enter(actor, plan, relative):
            raise PermissionDenied
    elif actor is not None:
        raise ValidationError({"source": _("Staff entering answers say how they were given.")})
    # Locked: a plan ended at the same moment either sees this answer or refuses it, never half of each.
    plan = (
        PathwayPlan.objects.select_for_update(of=("self",))
        .select_related("coordinator", "coordinator_substitute")
        .get(pk=plan.pk)
    )
    if plan.status not in (ENTRY_STATUSES if staff else ASKING_STATUSES):
        errors[NON_FIELD_ERRORS] = _("The plan has ended: no more answers can be recorded.")
    if questionnaire.status != QuestionnaireStatus.ACTIVE:
        errors[NON_FIELD_ERRORS] = _("This questionnaire is not in use.")
    if relative is None:
        if Respondent.PATIENT not in questionnaire.respondents:
            errors["relative"] = _("This questionnaire is for relatives.")
    else:
        relative = Relative.objects.get(pk=relative.pk)
        if relative.plan_id != plan.pk or relative.ended_at is not None:
            errors["relative"] = _("This person is not a relative on the plan.")
        elif Respondent.RELATIVE not in questionnaire.respondents:
            errors["relative"] = _("This questionnaire is not for relatives.")
    answered_on = answered_on or today
    if not staff:
        answered_on = today
    elif answered_on > today:
        errors["answered_on"] = _("The date cannot be in the future.")
    elif answered_on < timezone.localtime(plan.created_at).date():
        errors["answered_on"] = _("The date cannot be before the plan was made.")
    if request is not None:
        request = QuestionnaireRequest.objects.select_for_update().get(pk=request.pk)
        if (
            request.plan_id != plan.pk
            or request.questionnaire_id != questionnaire.pk
            or request.relative_id != (relative.pk if relative is not None else None)
        ):
            errors["request"] = _("This questionnaire was sent to someone else.")
        elif request.state != RequestState.OPEN:
            errors["request"] = _("This questionnaire has already been closed.")
    scale = Scale.of(questionnaire)
    try:
        clean = answers_clean(scale=scale, answers=answers)
    except ValidationError as error:
        errors = {**error.message_dict, **errors}  # type: ignore[dict-item]
    if errors:
        raise ValidationError(errors)
    if request is None:
        request = _open_request_of(plan, questionnaire, relative)
    scored = response_score(scale=scale, answers=clean)
    response = QuestionnaireResponse.objects.create(
        plan=plan,
        questionnaire=questionnaire,
        request=request,
        relative=relative,
        answers=clean,
        **scored.fields(),
        source=source,
        entered_by=actor if staff else None,
        entered_by_organisation_id=_entering_organisation_id(actor, plan) if staff and actor else None,
        answered_on=answered_on,
    )
    if request is not None:
        _request_close(request, RequestState.ANSWERED)
    if scored.flagged:
        outbox.notify_staff(
            _flag_recipients(plan, relative),
            kind=NotificationKind.QUESTIONNAIRE_FLAGGED,
            plan=plan,
            due_at=timezone.now(),
            event=f"response:{response.public_id}",
        )
    return response


def _is_reader_of(request: QuestionnaireRequest, reader: Model) -> bool:
    if request.relative_id is None:
        return isinstance(reader, Patient) and reader.pk == request.plan.patient_id
    return isinstance(reader, Relative) and reader.pk == request.relative_id


@transaction.atomic
def response_submit_portal(
    *, request: QuestionnaireRequest, reader: Model, answers: Mapping[str, Any]
) -> QuestionnaireResponse:
    """The person signed in to the portal (`reader`: the Patient, or the Relative) answers the questionnaire
    sent to them. PermissionDenied unless the request is theirs (and a relative's consent still lets them
    follow the plan); ValidationError when it is no longer open or its time is over; else as
    response_record with source PORTAL."""
    # The plan first, then the request: the order response_record and request_send lock them in, so an
    # answer sent in the portal and one entered by staff at the same moment wait for each other, never
    # deadlock.
    PathwayPlan.objects.select_for_update().filter(pk=request.plan_id).first()
    locked = (
        QuestionnaireRequest.objects.select_for_update()
        .select_related("plan", "questionnaire")
        .get(pk=request.pk)
    )
    if not _is_reader_of(locked, reader):
        raise PermissionDenied
    relative = None
    if locked.relative_id is not None:
        relative = Relative.objects.get(pk=locked.relative_id)
        if relatives_access.relative_scope(relative) not in SEEING_SCOPES:
            raise PermissionDenied
    if locked.state == RequestState.ANSWERED:
        raise ValidationError(_("You have already answered these questions. Thank you."), code="answered")
    if locked.state != RequestState.OPEN or locked.expires_on < timezone.localdate():
        raise ValidationError(_("The time to answer these questions is over."), code="closed")
    return response_record(
        questionnaire=locked.questionnaire,
        plan=locked.plan,
        answers=answers,
        source=ResponseSource.PORTAL,
        relative=relative,
        request=locked,
    )


@transaction.atomic
def response_mark_error(
    *, actor: User, response: QuestionnaireResponse, expected_version: int
) -> QuestionnaireResponse:
    """Mark a response entered in error (never deleted): the plan's coordinator (or substitute), or the
    staff member who entered it. A flagged response no longer waits to be seen. Marking twice changes
    nothing; a response changed since it was opened is a VersionConflict."""
    locked = QuestionnaireResponse.objects.select_for_update().select_related("plan").get(pk=response.pk)
    if not hub_access.may_change(
        actor,
        locked.plan,
        lambda rights: (
            rights.is_coordinator or (locked.entered_by_id is not None and locked.entered_by_id == actor.pk)
        ),
        admin_permission="quality.change_questionnaireresponse",
    ):
        raise PermissionDenied
    if locked.status == ResponseStatus.ENTERED_IN_ERROR:
        return locked
    if locked.version != expected_version:
        raise VersionConflict(locked)
    locked.status = ResponseStatus.ENTERED_IN_ERROR
    locked.version += 1
    locked.save(update_fields=["status", "version"])
    Notification.objects.filter(
        plan_id=locked.plan_id,
        kind=NotificationKind.QUESTIONNAIRE_FLAGGED,
        state__in=WAITING,
        dedupe_key__endswith=f"|response:{locked.public_id}",
    ).update(state=NotificationState.CANCELLED, lease_until=None)
    return locked


@transaction.atomic
def flag_mark_seen(*, actor: User, response: QuestionnaireResponse) -> QuestionnaireResponse:
    """The plan's coordinator (or substitute) has seen a flagged response (when and by whom is kept).
    Marking it again changes nothing. PermissionDenied for anyone else; ValidationError for a response
    that is not flagged."""
    locked = QuestionnaireResponse.objects.select_for_update().select_related("plan").get(pk=response.pk)
    if not hub_access.may_change(
        actor,
        locked.plan,
        lambda rights: rights.is_coordinator,
        admin_permission="quality.change_questionnaireresponse",
    ):
        raise PermissionDenied
    if not locked.flagged:
        raise ValidationError(_("This response is not flagged."))
    if locked.flag_seen_at is not None:
        return locked
    locked.flag_seen_at = timezone.now()
    locked.flag_seen_by = actor
    locked.version += 1
    locked.save(update_fields=["flag_seen_at", "flag_seen_by", "version"])
    return locked


# --- asking -------------------------------------------------------------------------------------------------


def add_months(day: date, months: int) -> date:
    """`day` moved on by whole months (the 31st becomes the month's last day)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class _Ask:
    """One request to write: whom, for which milestone, with its messages."""

    plan: PathwayPlan
    questionnaire_id: int
    schedule: QuestionnaireSchedule | None
    relative: Relative | None
    occurrence: str
    window_days: int
    reminder_days: Sequence[int]


def _recipient(plan: PathwayPlan, relative: Relative | None) -> tuple[Model, NotificationChannel]:
    if relative is None:
        return plan.patient, outbox.patient_channel(plan.patient)
    return relative, NotificationChannel(str(relative.preferred_channel))


def _requests_write(
    asks: list[_Ask], *, today: date, actor: User | None = None
) -> list[QuestionnaireRequest]:
    """Write the requests and their messages in the caller's transaction, in a few statements however many:
    the questionnaire now and a reminder at 08:00 on each reminder day before the answer-by day, by the
    person's channel. A request already there for the occurrence (the unique constraint) is left alone,
    and its messages are not written again. Returns the requests written."""
    if not asks:
        return []
    requests: list[QuestionnaireRequest] = []
    rows_of: dict[Any, list[Notification]] = {}
    now = timezone.now()
    for ask in asks:
        request = QuestionnaireRequest(
            public_id=uuid4(),
            plan=ask.plan,
            questionnaire_id=ask.questionnaire_id,
            schedule=ask.schedule,
            relative=ask.relative,
            occurrence=ask.occurrence,
            opens_on=today,
            expires_on=today + timedelta(days=ask.window_days - 1),
            asked_by=actor,
        )
        recipient, channel = _recipient(ask.plan, ask.relative)
        event = f"questionnaire:{request.public_id}"
        rows = [
            outbox.message_row(
                recipient=recipient,
                kind=NotificationKind.QUESTIONNAIRE_SENT,
                channel=channel,
                plan=ask.plan,
                due_at=now,
                event=event,
            )
        ]
        for days in sorted(set(ask.reminder_days)):
            if days > 0 and today + timedelta(days=days) < request.expires_on:
                rows.append(
                    outbox.message_row(
                        recipient=recipient,
                        kind=NotificationKind.QUESTIONNAIRE_REMINDER,
                        channel=channel,
                        plan=ask.plan,
                        due_at=outbox.local_moment(today + timedelta(days=days)),
                        event=f"{event}:reminder:{days}",
                    )
                )
        request.reminder_keys = [row.dedupe_key for row in rows]
        requests.append(request)
        rows_of[request.public_id] = rows
    QuestionnaireRequest.objects.bulk_create(requests, ignore_conflicts=True)
    # The rows written are those with the public ids made here (a conflicting row keeps its own).
    written = dict(
        QuestionnaireRequest.objects.filter(public_id__in=list(rows_of)).values_list("public_id", "id")
    )
    outbox.notify_rows([row for public_id in written for row in rows_of[public_id]])
    for request in requests:
        request.pk = written.get(request.public_id)
    return [request for request in requests if request.pk is not None]


def _reachable_relatives(
    plan: PathwayPlan, consents: Mapping[int, RelativeConsent], today: date
) -> list[Relative]:
    """The plan's relatives (prefetched: on the plan, adults) whose consent lets them follow the plan or its
    appointments (they answer in the portal) and whom their channel reaches."""
    found = []
    for relative in getattr(plan, "ff_relatives", []):
        if relatives_access.scope_of(relative, consents.get(relative.pk), today=today) not in SEEING_SCOPES:
            continue
        channel = relative.preferred_channel
        if channel != RelativeChannel.NONE and relative.notification_address(channel):
            found.append(relative)
    return found


def _plan_start(plan: PathwayPlan) -> date:
    """The plan's start: the earliest date its templates count from, else the day it was made."""
    starts = [applied.start_date for applied in getattr(plan, "ff_templates", [])]
    return min(starts) if starts else timezone.localtime(plan.created_at).date()


def _milestones(plan: PathwayPlan, schedule: QuestionnaireSchedule, today: date) -> list[tuple[str, date]]:
    """The schedule's milestones of the plan whose window holds `today`: (occurrence, milestone date)."""
    offset, window = timedelta(days=schedule.offset_days), timedelta(days=schedule.window_days)
    start = _plan_start(plan)
    found: list[tuple[str, date]] = []
    if schedule.milestone == Milestone.PLAN_START:
        found.append(("start", start + offset))
    elif schedule.milestone == Milestone.AFTER_DISCHARGE:
        for stay in getattr(plan, "ff_discharges", []):
            found.append((f"discharge:{stay.public_id}", timezone.localtime(stay.ended_at).date() + offset))
    elif schedule.milestone == Milestone.EVERY_MONTHS and schedule.every_months:
        step = schedule.every_months
        months = (today.year - start.year) * 12 + today.month - start.month
        for k in range(max(1, months // step - 1), months // step + 2):
            found.append((f"every:{k}", add_months(start, k * step) + offset))
    return [(occurrence, day) for occurrence, day in found if day <= today < day + window]


@dataclass
class _Recent:
    """What a chunk's people were last asked and answered, per (plan, questionnaire, relative)."""

    opened: dict[tuple[int, int, int | None], date] = field(default_factory=dict)
    open_now: set[tuple[int, int, int | None]] = field(default_factory=set)
    answered: dict[tuple[int, int, int | None], date] = field(default_factory=dict)

    @classmethod
    def of(cls, plan_ids: Iterable[int]) -> _Recent:
        recent = cls()
        ids = list(set(plan_ids))
        if not ids:
            return recent
        requests = (
            QuestionnaireRequest.objects.filter(plan_id__in=ids)
            .values("plan_id", "questionnaire_id", "relative_id")
            .annotate(last=Max("opens_on"), still_open=Count("id", filter=Q(state=RequestState.OPEN)))
        )
        for row in requests:
            key = (row["plan_id"], row["questionnaire_id"], row["relative_id"])
            recent.opened[key] = row["last"]
            if row["still_open"]:
                recent.open_now.add(key)
        responses = (
            QuestionnaireResponse.objects.completed()
            .filter(plan_id__in=ids)
            .values("plan_id", "questionnaire_id", "relative_id")
            .annotate(last=Max("answered_on"))
        )
        for row in responses:
            recent.answered[(row["plan_id"], row["questionnaire_id"], row["relative_id"])] = row["last"]
        return recent

    def covers(self, key: tuple[int, int, int | None], milestone: date, window_days: int) -> bool:
        """The person has an open request for the questionnaire, or was asked or answered it within the
        window before the milestone: not asked again for it."""
        since = milestone - timedelta(days=window_days)
        opened, answered = self.opened.get(key), self.answered.get(key)
        return (
            key in self.open_now
            or (opened is not None and opened >= since)
            or (answered is not None and answered >= since)
        )


def _schedule_chunk(
    plans: list[PathwayPlan],
    schedules: list[QuestionnaireSchedule],
    today: date,
    *,
    with_relatives: bool,
) -> int:
    consents = (
        relatives_access.latest_consents(
            [relative for plan in plans for relative in getattr(plan, "ff_relatives", [])]
        )
        if with_relatives
        else {}
    )
    wanted: list[tuple[_Ask, date]] = []
    for plan in plans:
        template_ids = {applied.template_id for applied in getattr(plan, "ff_templates", [])}
        relatives = _reachable_relatives(plan, consents, today) if with_relatives else []
        for schedule in schedules:
            if schedule.template_id is not None and schedule.template_id not in template_ids:
                continue
            people: list[Relative | None] = (
                [None] if schedule.respondent == Respondent.PATIENT else [*relatives]
            )
            for occurrence, day in _milestones(plan, schedule, today):
                for relative in people:
                    ask = _Ask(
                        plan=plan,
                        questionnaire_id=schedule.questionnaire_id,
                        schedule=schedule,
                        relative=relative,
                        occurrence=occurrence,
                        window_days=schedule.window_days,
                        reminder_days=schedule.reminder_days,
                    )
                    wanted.append((ask, day))
    if not wanted:
        return 0
    recent = _Recent.of(ask.plan.pk for ask, _day in wanted)
    asks: list[_Ask] = []
    taken: set[tuple[int, int, int | None]] = set()
    for ask, day in wanted:
        key = (ask.plan.pk, ask.questionnaire_id, ask.relative.pk if ask.relative is not None else None)
        if key in taken or recent.covers(key, day, ask.window_days):
            continue  # one questionnaire of a kind at a time per person
        taken.add(key)
        asks.append(ask)
    with transaction.atomic():
        return len(_requests_write(asks, today=today))


def questionnaires_schedule(*, today: date | None = None, chunk: int = SCHEDULE_CHUNK) -> int:
    """The beat job (hourly): ask every active or paused plan's patient, and the relatives who follow the
    plan, the questionnaires due at its milestones today (see the module). Plans are read in chunks of
    `chunk` with what the schedules need prefetched: a fixed number of queries per chunk, however many
    plans. Safe to run again and in parallel: each milestone is asked once. Returns how many requests it
    wrote."""
    today = today or timezone.localdate()
    schedules = list(
        QuestionnaireSchedule.objects.filter(
            is_active=True, questionnaire__status=QuestionnaireStatus.ACTIVE
        ).order_by("pk")
    )
    if not schedules:
        return 0
    with_relatives = any(s.respondent == Respondent.RELATIVE for s in schedules)
    prefetches: list[Prefetch[Any]] = [
        Prefetch(
            "templates",
            queryset=PlanTemplate.objects.only("id", "plan_id", "template_id", "start_date"),
            to_attr="ff_templates",
        )
    ]
    discharges = [s for s in schedules if s.milestone == Milestone.AFTER_DISCHARGE]
    if discharges:
        reach = max(s.offset_days + s.window_days for s in discharges) + 1
        # Discharges home from an admission (as the indicators count them): not an acute ambulant visit.
        stays = HospitalStay.objects.filter(
            end_reason=StayEnd.DISCHARGED,
            stay_class=StayClass.INPATIENT,
            status=StayStatus.FINISHED,
            ended_at__isnull=False,
            ended_at__gte=outbox.local_moment(today - timedelta(days=reach)),
        ).only("id", "plan_id", "public_id", "ended_at")
        prefetches.append(Prefetch("hospital_stays", queryset=stays, to_attr="ff_discharges"))
    if with_relatives:
        adults = Relative.objects.current().filter(is_child=False)
        prefetches.append(Prefetch("relatives", queryset=adults, to_attr="ff_relatives"))
    plans = PathwayPlan.objects.filter(status__in=ASKING_STATUSES).select_related("patient").order_by("pk")
    written, last = 0, 0
    while True:
        batch = list(plans.filter(pk__gt=last).prefetch_related(*prefetches)[:chunk])
        if not batch:
            return written
        last = batch[-1].pk
        written += _schedule_chunk(batch, schedules, today, with_relatives=with_relatives)


@transaction.atomic
def request_send(
    *,
    actor: User | None,
    plan: PathwayPlan,
    questionnaire: Questionnaire,
    relative: Relative | None = None,
    window_days: int = ASK_WINDOW_DAYS,
    reminder_days: Sequence[int] = ASK_REMINDER_DAYS,
    today: date | None = None,
) -> QuestionnaireRequest:
    """Staff ask the patient (or `relative`) to answer the questionnaire now, outside the schedule: the
    request and its messages, as the schedule writes them. Asking again while the person has the
    questionnaire open returns that request. PermissionDenied for someone who may not enter a response
    for the person; ValidationError for an ended plan, a questionnaire not in use or not for them, and a
    relative whose consent does not let them follow the plan or whom no channel reaches."""
    today = today or timezone.localdate()
    locked = PathwayPlan.objects.select_for_update().select_related("patient").get(pk=plan.pk)
    if not _may_enter(actor, locked, relative):
        raise PermissionDenied
    if locked.status not in ASKING_STATUSES:
        raise ValidationError(_("Questionnaires are sent only while the plan is active or paused."))
    if questionnaire.status != QuestionnaireStatus.ACTIVE:
        raise ValidationError(_("This questionnaire is not in use."))
    if not 1 <= window_days <= 90:
        raise ValidationError(_("Give between 1 and 90 days to answer."))
    respondent = Respondent.PATIENT if relative is None else Respondent.RELATIVE
    if respondent not in questionnaire.respondents:
        raise ValidationError(_("This questionnaire is not for this person."))
    if relative is not None:
        current = Relative.objects.current().filter(pk=relative.pk, plan=locked, is_child=False).first()
        consents = relatives_access.latest_consents([current]) if current is not None else {}
        locked.ff_relatives = [current] if current is not None else []  # type: ignore[attr-defined]
        if current is None or not _reachable_relatives(locked, consents, today):
            raise ValidationError(
                _("This relative cannot be asked: their consent does not cover it, or we cannot reach them.")
            )
        relative = current
    already = _open_request_of(locked, questionnaire, relative)
    if already is not None:
        return already
    ask = _Ask(
        plan=locked,
        questionnaire_id=questionnaire.pk,
        schedule=None,
        relative=relative,
        occurrence=f"asked:{today.isoformat()}",
        window_days=window_days,
        reminder_days=reminder_days,
    )
    written = _requests_write([ask], today=today, actor=actor)
    if written:
        return written[0]
    return QuestionnaireRequest.objects.get(
        plan=locked, questionnaire=questionnaire, relative=relative, occurrence=ask.occurrence
    )


# --- ending -------------------------------------------------------------------------------------------------


def _close_many(requests: Iterable[QuestionnaireRequest], state: RequestState) -> int:
    """Close the (locked, open) requests in two statements and cancel their waiting messages."""
    requests = list(requests)
    if not requests:
        return 0
    count = QuestionnaireRequest.objects.filter(
        pk__in=[r.pk for r in requests], state=RequestState.OPEN
    ).update(state=state, closed_at=timezone.now())
    _messages_cancel(key for request in requests for key in request.reminder_keys)
    return count


def requests_expire(*, today: date | None = None, batch: int = 1000) -> int:
    """The hourly job: open requests past their answer-by day expire; those of plans no longer active or
    paused (completed — a death completes it — or revoked) and of relatives who left the plan or no longer
    follow it are cancelled; either way their waiting messages are cancelled. Rows another run holds are
    skipped (they are being closed). Returns how many it closed."""
    today = today or timezone.localdate()
    closed = 0
    open_requests = QuestionnaireRequest.objects.open().select_for_update(skip_locked=True, of=("self",))
    while True:
        with transaction.atomic():
            expired = list(open_requests.filter(expires_on__lt=today).only("id", "reminder_keys")[:batch])
            closed += _close_many(expired, RequestState.EXPIRED)
        if len(expired) < batch:
            break
    while True:
        with transaction.atomic():
            ended = list(
                open_requests.filter(
                    Q(~Q(plan__status__in=ASKING_STATUSES)) | Q(relative__ended_at__isnull=False)
                ).only("id", "reminder_keys")[:batch]
            )
            closed += _close_many(ended, RequestState.CANCELLED)
        if len(ended) < batch:
            break
    with transaction.atomic():
        of_relatives = list(open_requests.filter(relative__isnull=False).select_related("relative"))
        consents = relatives_access.latest_consents(r.relative for r in of_relatives if r.relative)
        no_longer = [
            request
            for request in of_relatives
            if request.relative is not None
            and relatives_access.scope_of(request.relative, consents.get(request.relative.pk), today=today)
            not in SEEING_SCOPES
        ]
        closed += _close_many(no_longer, RequestState.CANCELLED)
    return closed
