"""Reads for the portal's pages: each starts from portal.access (the reader already checked and logged)
and returns read models (portal.readmodels), never model instances."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from django.conf import settings
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy

from pathways.choices import (
    TASK_OPEN_STATUSES,
    AccessAction,
    AccessPurpose,
    DocumentContent,
    DocumentKind,
    DocumentState,
    GoalStatus,
    MembershipRole,
    PlanStatus,
    Sector,
    StayClass,
    StayStatus,
    TaskKind,
    TaskStatus,
)
from pathways.models import (
    AccessLog,
    Goal,
    HospitalStay,
    Membership,
    Organisation,
    PathwayPlan,
    PlanDocument,
    PlanParticipant,
    Task,
    User,
)
from portal.access import (
    ANSWERING_PLAN_STATUSES,
    PortalReader,
    portal_document_content,
    portal_documents,
    portal_questionnaire_requests,
)
from portal.choices import ReaderRole
from portal.models import PortalSession
from portal.readmodels import (
    AccessLogEntry,
    AccessLogPage,
    PortalAnswerOption,
    PortalChoice,
    PortalContact,
    PortalDocument,
    PortalDocumentsPage,
    PortalGoal,
    PortalNextItem,
    PortalParticipant,
    PortalPastEvent,
    PortalPlanPage,
    PortalQuestion,
    PortalQuestionnaire,
    PortalQuestionnaireDone,
    PortalQuestionnaireInvite,
)
from quality.choices import RequestState
from quality.models import AnswerOption, QuestionnaireItem, QuestionnaireRequest
from relatives.models import Relative

# --- plan (the plan page and the chooser) ---
# What a reader sees (portal.access decides who may read; PortalReader.scope says how much):
# - the patient and a relative with WHOLE_PLAN: what matters, the agreed goals, what happens next (every
#   coming task the staff marked visible to the patient), the coordinator and substitute, who takes part,
#   and what has happened (tasks done, hospital stays);
# - a relative with APPOINTMENTS: only the coming appointments (APPOINTMENT_KINDS) and whom to call.
# Phone numbers are organisations' (and the plan's coordinator phone) only: a staff member's own number
# (User.phone, on which the outbox texts them) never reaches the portal.

# The tasks that are appointments — what a relative with "appointments only" sees: the kinds the outbox
# sends appointment reminders for (pathways.outbox: an appointment, a home visit), so the relative sees
# in the portal exactly what they are reminded of.
APPOINTMENT_KINDS = frozenset({TaskKind.APPOINTMENT, TaskKind.HOME_VISIT})

# The goals agreed with the patient (a proposal is not agreed yet; a cancelled goal is no longer a goal).
AGREED_GOAL_STATUSES = (GoalStatus.ACTIVE, GoalStatus.ON_HOLD, GoalStatus.COMPLETED)
GOAL_WORDS = {
    GoalStatus.ACTIVE: gettext_lazy("We are working on it."),
    GoalStatus.ON_HOLD: gettext_lazy("It is on pause for now."),
    GoalStatus.COMPLETED: gettext_lazy("The goal is reached."),
}
SECTOR_WORDS = {
    Sector.HOSPITAL: gettext_lazy("Hospital"),
    Sector.MUNICIPALITY: gettext_lazy("Municipality"),
    Sector.GENERAL_PRACTICE: gettext_lazy("Family doctor"),
    Sector.PSYCHIATRY: gettext_lazy("Psychiatry"),
    Sector.SOCIAL_SERVICES: gettext_lazy("Social services"),
    Sector.OTHER: gettext_lazy("Other"),
}


def phone_uri(phone: str) -> str:
    """A tel: link for a phone number as staff typed it ("46 31 30 10" → "tel:+4546313010"); "" for none.
    Eight digits without a country code are a Danish number."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    if not digits:
        return ""
    written = phone.strip()
    if written.startswith("+"):
        return f"tel:+{digits}"
    if written.startswith("00") and len(digits) > 2:
        return f"tel:+{digits[2:]}"
    return f"tel:+45{digits}" if len(digits) == 8 else f"tel:{digits}"


def _contact(organisation: Organisation | None, person: User | None, phone: str) -> PortalContact:
    return PortalContact(
        organisation=organisation.name if organisation is not None else "",
        person=person.get_full_name() if person is not None else "",
        phone=phone,
        phone_uri=phone_uri(phone),
    )


def _local_day(moment: datetime) -> date:
    return timezone.localdate(moment)


def _next_item(task: Task, today: date) -> PortalNextItem:
    """Who: the responsible organisation and person; how to reach them: the organisation's phone (its
    switchboard answers when the person is out; never the person's own number)."""
    organisation, person = task.responsible_organisation, task.responsible_person
    phone = organisation.phone
    when = task.window_start or task.due_date
    return PortalNextItem(
        when=when,
        until=task.due_date if task.window_start is not None and task.due_date != task.window_start else None,
        what=task.title,
        who=_contact(organisation, person, phone),
        is_appointment=task.kind in APPOINTMENT_KINDS,
        is_late=task.due_date is not None and task.due_date < today,
        is_paused=task.status == TaskStatus.ON_HOLD,
    )


def _coordinators(
    plan: PathwayPlan, memberships: list[Membership]
) -> tuple[PortalContact | None, PortalContact | None]:
    """The coordinator (the plan's coordinator phone, else the organisation's) and the substitute (in the
    organisation they coordinate for: the coordinator's if they are a member of it; that organisation's
    phone, never their own number)."""
    coordinator = None
    if plan.coordinator is not None:
        organisation = plan.coordinator_organisation
        phone = plan.coordinator_phone or (organisation.phone if organisation is not None else "")
        coordinator = _contact(organisation, plan.coordinator, phone)
    substitute = None
    if plan.coordinator_substitute is not None:
        memberships = sorted(
            memberships, key=lambda m: (m.organisation_id != plan.coordinator_organisation_id, m.pk)
        )
        place = memberships[0].organisation if memberships else None
        phone = place.phone if place is not None else ""
        substitute = _contact(place, plan.coordinator_substitute, phone)
    return coordinator, substitute


def _done_on(task: Task) -> date:
    """The day a task was done (its due day, else its last change, for one done before that was kept)."""
    if task.completed_at is not None:
        return _local_day(task.completed_at)
    return task.due_date or _local_day(task.updated_at)


def _past_events(done: list[Task], stays: list[HospitalStay]) -> tuple[PortalPastEvent, ...]:
    events = [
        PortalPastEvent(
            kind="task",
            on=_done_on(task),
            until=None,
            what=task.title,
            place=task.responsible_organisation.name,
        )
        for task in done
    ]
    events += [
        PortalPastEvent(
            kind="stay" if stay.stay_class == StayClass.INPATIENT else "visit",
            on=_local_day(stay.started_at),
            until=_local_day(stay.ended_at) if stay.ended_at else None,
            what="",
            place=stay.hospital.name,
            ongoing=stay.ended_at is None,
        )
        for stay in stays
    ]
    return tuple(sorted(events, key=lambda event: (event.on, event.ongoing), reverse=True))


def portal_plan_page(*, reader: PortalReader) -> PortalPlanPage:
    """The plan page for `reader` (from portal.access.access_portal_plan: checked and logged). Six queries
    at most, however many tasks, goals, participants or stays the plan has."""
    plan = PathwayPlan.objects.select_related(
        "patient", "coordinator", "coordinator_organisation", "coordinator_substitute"
    ).get(pk=reader.plan.pk)
    whole = reader.sees_whole_plan
    today = timezone.localdate()
    tasks = Task.objects.filter(plan=plan, visible_to_patient=True).select_related(
        "responsible_organisation", "responsible_person"
    )
    if whole:
        tasks = tasks.filter(status__in=[*TASK_OPEN_STATUSES, TaskStatus.COMPLETED])
    else:
        tasks = tasks.filter(status__in=TASK_OPEN_STATUSES, kind__in=APPOINTMENT_KINDS)
    rows = list(tasks)
    coming = sorted(
        (task for task in rows if task.status in TASK_OPEN_STATUSES),
        key=lambda task: (
            task.window_start is None and task.due_date is None,
            task.window_start or task.due_date or today,
            task.due_date or today,
            task.pk,
        ),
    )
    memberships: list[Membership] = []
    if plan.coordinator_substitute_id is not None:
        memberships = list(
            Membership.objects.active()
            .filter(user_id=plan.coordinator_substitute_id)
            .filter(
                Q(organisation__participations__plan=plan)
                | Q(organisation_id=plan.coordinator_organisation_id)
            )
            .select_related("organisation")
            .distinct()
        )
    coordinator, substitute = _coordinators(plan, memberships)
    goals: tuple[PortalGoal, ...] = ()
    participants: tuple[PortalParticipant, ...] = ()
    past: tuple[PortalPastEvent, ...] = ()
    if whole:
        goals = tuple(
            PortalGoal(
                description=goal.description,
                expected_result=goal.expected_result,
                target_date=goal.target_date,
                status=str(GOAL_WORDS[GoalStatus(goal.status)]),
            )
            for goal in Goal.objects.filter(plan=plan, status__in=AGREED_GOAL_STATUSES)
        )
        participants = tuple(
            PortalParticipant(
                organisation=participant.organisation.name,
                sector=str(SECTOR_WORDS.get(Sector(participant.organisation.sector), "")),
                phone=participant.organisation.phone,
                phone_uri=phone_uri(participant.organisation.phone),
            )
            for participant in PlanParticipant.objects.filter(plan=plan).select_related("organisation")
        )
        stays = list(
            HospitalStay.objects.filter(plan=plan)
            .exclude(status=StayStatus.CANCELLED)
            .select_related("hospital")
        )
        past = _past_events([task for task in rows if task.status == TaskStatus.COMPLETED], stays)
    return PortalPlanPage(
        plan_id=str(plan.public_id),
        patient_name=plan.patient.full_name,
        is_patient=reader.role == ReaderRole.PATIENT,
        whole_plan=whole,
        title=plan.title if whole else "",
        is_paused=plan.status == PlanStatus.ON_HOLD,
        is_finished=plan.status == PlanStatus.COMPLETED,
        what_matters=plan.what_matters if whole else "",
        goals=goals,
        next_items=tuple(_next_item(task, today) for task in coming),
        coordinator=coordinator,
        substitute=substitute,
        participants=participants,
        past_events=past,
        show_access_log=reader.role == ReaderRole.PATIENT,
    )


def portal_home_choices(*, readers: Iterable[PortalReader]) -> list[PortalChoice]:
    """The plans the session may open now (`readers`: portal.access.readers_of), for the chooser: the
    patient's own first, then as a relative. Nothing of a plan is shown beyond whose it is, how much the
    reader sees, whether it has ended and how many of the reader's own questionnaires wait there (one
    query); each patient named is logged by the view (portal.access.portal_list_log_write)."""
    readers = list(readers)
    waiting = _questionnaires_waiting(readers)
    choices: dict[str, PortalChoice] = {}
    for reader in readers:
        plan_id = str(reader.plan.public_id)
        choices.setdefault(
            plan_id,
            PortalChoice(
                plan_id=plan_id,
                patient_name=reader.plan.patient.full_name,
                is_own=reader.role == ReaderRole.PATIENT,
                whole_plan=reader.sees_whole_plan,
                is_finished=reader.plan.status == PlanStatus.COMPLETED,
                questionnaires_waiting=waiting.get(reader.plan.pk, 0),
            ),
        )
    return list(choices.values())


def _questionnaires_waiting(readers: list[PortalReader]) -> dict[int, int]:
    """{plan id: the number of questionnaires still to answer sent to the readers themselves there} (the
    patient's own, each relative's own: portal.access.portal_questionnaire_requests), in one query."""
    own = Q()
    for reader in readers:
        if reader.relative is None:
            own |= Q(plan_id=reader.plan.pk, relative__isnull=True)
        else:
            own |= Q(plan_id=reader.plan.pk, relative_id=reader.relative.pk)
    if not own:
        return {}
    rows = (
        QuestionnaireRequest.objects.filter(
            own,
            state=RequestState.OPEN,
            expires_on__gte=timezone.localdate(),
            plan__status__in=ANSWERING_PLAN_STATUSES,
        )
        .order_by()  # the model's ordering would split the groups
        .values("plan_id")
        .annotate(count=Count("pk"))
        .values_list("plan_id", "count")
    )
    return dict(rows)


def portal_no_plan_contact(*, session: PortalSession) -> PortalContact | None:
    """Whom a signed-in person with no plan to see can call: for the patient, the coordinator of a plan
    being made for them (not shown until it is agreed), else their own doctor; for a relative, no one (the
    patient decides what they see)."""
    if session.patient_id is None:
        return None
    plan = (
        PathwayPlan.objects.open()
        .filter(patient_id=session.patient_id, coordinator__isnull=False)
        .select_related("coordinator", "coordinator_organisation")
        .first()
    )
    if plan is not None:
        organisation = plan.coordinator_organisation
        phone = plan.coordinator_phone or (organisation.phone if organisation is not None else "")
        return _contact(organisation, plan.coordinator, phone)
    doctor = Organisation.objects.filter(listed_patients__pk=session.patient_id).first()
    return _contact(doctor, None, doctor.phone) if doctor is not None else None


# --- access log (Hvem har set mine oplysninger?) ---

# The patient's own log (issue 14 item 4; sundhed.dk's Min Log): every read of their data of the last
# settings.PORTAL_ACCESS_LOG_YEARS years, newest first, in words for the patient. Left out: the patient's own
# reads in the portal (purpose OWN_DATA), and reads of a relative's support record, which are the relative's
# data, not the patient's (docs/architecture.md, "The portal is another audience").

ACCESS_LOG_PAGE_SIZE = 50

# What was looked at, as the patient reads it ("you" is the patient). An action not named here — a new
# channel, such as printable plans (issue 15) — is shown by its own label (`_access_what`).
ACCESS_LOG_WHAT: dict[str, Promise] = {
    AccessAction.LIST: gettext_lazy("Saw you in a list"),
    AccessAction.VIEW_PLAN: gettext_lazy("Opened your plan"),
    AccessAction.VIEW_HISTORY: gettext_lazy("Saw the history of your plan"),
    AccessAction.EDIT_PLAN: gettext_lazy("Opened your plan to change it"),
    AccessAction.REVEAL_CPR: gettext_lazy("Saw your CPR number"),
    AccessAction.SEARCH_CPR: gettext_lazy("Found you by your CPR number"),
    AccessAction.API_READ: gettext_lazy("Got your plan through another IT system"),
    AccessAction.FHIR_EXPORT: gettext_lazy("Fetched your whole plan into another IT system"),
    AccessAction.ADMIN_VIEW: gettext_lazy("Opened your data in the admin system"),
    AccessAction.ADMIN_LIST: gettext_lazy("Saw you in a list in the admin system"),
    AccessAction.VIEW_ACCESS_LOG: gettext_lazy("Saw who has seen your plan"),
    AccessAction.VIEW_MESSAGES: gettext_lazy("Read messages about you between the staff"),
    AccessAction.PORTAL_PLAN: gettext_lazy("Read your plan"),
    AccessAction.PORTAL_ACCESS_LOG: gettext_lazy("Saw who has seen your plan"),
    # Printable plans (issue 15): staff opening a printed plan, and a PDF got in the portal.
    AccessAction.DOWNLOAD_DOCUMENT: gettext_lazy("Opened your plan as a PDF"),
    AccessAction.PORTAL_DOCUMENT: gettext_lazy("Got your plan as a PDF"),
    # Questionnaires (issue 16): staff opening the patient's answers (a relative's are the relative's data,
    # logged as VIEW_RELATIVE_SUPPORT and left out). The portal's PORTAL_QUESTIONNAIRE is left out below.
    AccessAction.VIEW_RESPONSE: gettext_lazy("Read your answers to a questionnaire"),
}

# Why, as the patient reads it. A purpose not named here is shown by its own label.
ACCESS_LOG_WHY: dict[str, Promise] = {
    AccessPurpose.TREATMENT: gettext_lazy("To treat you or help you"),
    AccessPurpose.ADMINISTRATION: gettext_lazy("To run and check the IT system"),
    AccessPurpose.EMERGENCY: gettext_lazy("Emergency access"),
    AccessPurpose.OWN_DATA: gettext_lazy("You read it yourself"),
    AccessPurpose.RELATIVE_CONSENT: gettext_lazy("You let them see your plan"),
}

# The reader's role in the organisation they read for, as the patient reads it.
ACCESS_LOG_ROLE: dict[str, Promise] = {
    MembershipRole.COORDINATOR: gettext_lazy("Coordinator"),
    MembershipRole.CLINICIAN: gettext_lazy("Doctor, nurse or therapist"),
    MembershipRole.ADMINISTRATIVE: gettext_lazy("Office staff"),
}
ROLE_ADMINISTRATOR = gettext_lazy("System administrator")
ROLE_RELATIVE = gettext_lazy("Relative")

# Reads the patient's log leaves out: the patient's own, and those of a relative's own support record.
# A relative opening their own questionnaire (issue 16) is the relative's data too: the page shows nothing
# of the patient. (The patient's own opening is hers: OWN_DATA, left out below.)
ACCESS_LOG_LEFT_OUT_ACTIONS = (AccessAction.VIEW_RELATIVE_SUPPORT, AccessAction.PORTAL_QUESTIONNAIRE)
ACCESS_LOG_LEFT_OUT_PURPOSES = (AccessPurpose.OWN_DATA,)
# ... except the patient's own that leave the portal: a PDF of the plan she got (issue 15: every download
# of a printed plan shows in her log), which may be lying on a table anywhere.
ACCESS_LOG_OWN_SHOWN_ACTIONS = (AccessAction.PORTAL_DOCUMENT,)


def _access_what(action: str) -> str:
    known = ACCESS_LOG_WHAT.get(action)
    if known is not None:
        return str(known)
    return str(dict(AccessAction.choices).get(action, action))


def _access_why(purpose: str) -> str:
    known = ACCESS_LOG_WHY.get(purpose)
    if known is not None:
        return str(known)
    return str(dict(AccessPurpose.choices).get(purpose, purpose))


@dataclass(frozen=True)
class MembershipThen:
    organisation_id: int
    organisation_name: str
    role: str
    started_at: datetime
    ended_at: datetime | None

    def held_at(self, moment: datetime) -> bool:
        return self.started_at <= moment and (self.ended_at is None or self.ended_at > moment)


def _memberships_of(user_ids: set[int]) -> dict[int, list[MembershipThen]]:
    """Every membership, ended ones too, of the given users (one query): {user id: memberships}."""
    found: dict[int, list[MembershipThen]] = defaultdict(list)
    if not user_ids:
        return found
    rows = (
        Membership.objects.filter(user_id__in=user_ids)
        .order_by("user_id", "-started_at", "-id")
        .values_list("user_id", "organisation_id", "organisation__name", "role", "started_at", "ended_at")
    )
    for user_id, organisation_id, name, role, started_at, ended_at in rows:
        found[user_id].append(MembershipThen(organisation_id, name, role, started_at, ended_at))
    return found


def _membership_then(
    memberships: list[MembershipThen], organisation_id: int | None, moment: datetime
) -> MembershipThen | None:
    """The reader's membership of the organisation they read for (any, where the log names none), held at
    `moment`; else the latest one begun before it; else the latest one."""
    mine = [m for m in memberships if organisation_id is None or m.organisation_id == organisation_id]
    if organisation_id is None:  # seen as the plan's coordinator: their coordinator membership first
        mine.sort(key=lambda m: m.role != MembershipRole.COORDINATOR)
    for candidates in (
        [m for m in mine if m.held_at(moment)],
        [m for m in mine if m.started_at <= moment],
        mine,
    ):
        if candidates:
            return candidates[0]
    return None


@dataclass(frozen=True)
class _Who:
    organisation: str
    role: str
    person: str
    by_relative: bool = False
    by_administrator: bool = False
    by_patient: bool = False


def _access_log_who(
    row: AccessLog, memberships: dict[int, list[MembershipThen]], *, names_shown: bool
) -> _Who:
    """Who read: a relative by name; staff by organisation and role then (and name, where shown); an
    administrator as such."""
    if row.actor is None:  # a read in the portal: a relative, or the patient getting a PDF of her plan
        reader = row.reader
        if row.purpose == AccessPurpose.OWN_DATA:
            return _Who(organisation="", role="", person="", by_patient=True)
        name = reader.name if isinstance(reader, Relative) else ""
        return _Who(organisation="", role=str(ROLE_RELATIVE), person=name, by_relative=True)
    actor = row.actor
    person = (actor.get_full_name() or actor.username) if names_shown else ""
    administration = row.purpose == AccessPurpose.ADMINISTRATION
    then = _membership_then(memberships.get(actor.pk, []), row.organisation_id, row.at)
    if row.organisation is None and (administration or then is None):
        return _Who(organisation="", role=str(ROLE_ADMINISTRATOR), person=person, by_administrator=True)
    if row.organisation is not None:
        organisation = row.organisation.name
    else:  # seen as the plan's coordinator only: the organisation they were coordinator for
        organisation = then.organisation_name if then is not None else ""
    role = ACCESS_LOG_ROLE.get(then.role) if then is not None else None
    return _Who(
        organisation=organisation,
        role=str(role) if role is not None else "",
        person=person,
        by_administrator=administration,
    )


def _access_log_entry(
    row: AccessLog, memberships: dict[int, list[MembershipThen]], *, names_shown: bool
) -> AccessLogEntry:
    who = _access_log_who(row, memberships, names_shown=names_shown)
    emergency = row.purpose == AccessPurpose.EMERGENCY
    return AccessLogEntry(
        at=row.at,
        organisation=who.organisation,
        role=who.role,
        person=who.person,
        what=_access_what(row.action),
        why=_access_why(row.purpose),
        by_relative=who.by_relative,
        by_administrator=who.by_administrator,
        emergency=emergency,
        reason=row.reason if emergency else "",
        by_patient=who.by_patient,
    )


def _years_before(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year - years)
    except ValueError:  # 29 February
        return moment.replace(year=moment.year - years, day=28)


def portal_access_log_page(reader: PortalReader, *, page_number: int | str | None) -> AccessLogPage:
    """One page of the patient's access log (the reader must be the patient: portal.views.access_log asks
    portal.access for the patient's reading only), newest first. A fixed number of queries whatever the
    page size: the count, the rows with their staff user and organisation, the relatives who read (the
    reader GFK, one query), the staff's memberships (one query)."""
    names_shown = bool(settings.PORTAL_SHOW_STAFF_NAMES)
    years = settings.PORTAL_ACCESS_LOG_YEARS
    rows = (
        AccessLog.objects.filter(
            patient_id=reader.plan.patient_id, at__gte=_years_before(timezone.now(), years)
        )
        .exclude(action__in=ACCESS_LOG_LEFT_OUT_ACTIONS)
        .exclude(Q(purpose__in=ACCESS_LOG_LEFT_OUT_PURPOSES) & ~Q(action__in=ACCESS_LOG_OWN_SHOWN_ACTIONS))
        .select_related("actor", "organisation")
        .prefetch_related("reader")
        .order_by("-at", "-id")
    )
    page = Paginator(rows, ACCESS_LOG_PAGE_SIZE).get_page(page_number)
    found = list(page.object_list)
    memberships = _memberships_of({row.actor_id for row in found if row.actor_id is not None})
    return AccessLogPage(
        plan_public_id=str(reader.plan.public_id),
        entries=tuple(_access_log_entry(row, memberships, names_shown=names_shown) for row in found),
        number=page.number,
        page_count=page.paginator.num_pages,
        total=page.paginator.count,
        previous_number=page.previous_page_number() if page.has_previous() else None,
        next_number=page.next_page_number() if page.has_next() else None,
        years=years,
        names_shown=names_shown,
    )


# --- documents (issue 15: the printable plan) ---
# "Print your plan" (portal.views.documents): the reader's own kind of printed plan — the whole plan for the
# patient and a relative with the whole plan, the appointments for a relative with appointments only — in
# both sizes, every version, newest first. Staff may print the same documents for the patient: the list is
# the plan's, whoever asked (who asked is not shown).

DOCUMENT_STATES = {
    DocumentState.QUEUED: "waiting",
    DocumentState.RENDERING: "waiting",
    DocumentState.DONE: "done",
    DocumentState.FAILED: "failed",
}
DOCUMENT_REQUEST_ERROR = gettext_lazy("Choose normal letters or large letters.")


def portal_document(*, reader: PortalReader, document: PlanDocument) -> PortalDocument:
    """A document of the reader's plan from portal.access (access_portal_document, portal_documents), as
    the portal shows it."""
    return PortalDocument(
        document_id=str(document.public_id),
        plan_id=str(reader.plan.public_id),
        large_print=document.kind == DocumentKind.LARGE_PRINT,
        whole_plan=document.content == DocumentContent.WHOLE_PLAN,
        number=document.number,
        printed_at=document.created_at,
        state=DOCUMENT_STATES[DocumentState(document.state)],
        progress=document.progress,
        pages=document.pages,
    )


def portal_documents_page(*, reader: PortalReader, error: str = "") -> PortalDocumentsPage:
    """The printed plans `reader` may open, newest first: one query, however many there are."""
    content = portal_document_content(reader)
    documents = portal_documents(reader).filter(content=content).order_by("-created_at", "-pk")
    return PortalDocumentsPage(
        plan_id=str(reader.plan.public_id),
        is_patient=reader.role == ReaderRole.PATIENT,
        whole_plan=reader.sees_whole_plan,
        documents=tuple(portal_document(reader=reader, document=document) for document in documents),
        error=error,
    )


# --- questionnaires (issue 16: wellbeing, answered in the portal) ---
# "A questionnaire is waiting for you" on the plan page, the answer page and the page after it. Each reads
# only the reader's own questionnaires (portal.access.portal_questionnaire_requests) and never a score.

# When quality.services refused the answers for a reason of its own (the form checks each question first).
QUESTIONNAIRE_NOT_SENT = gettext_lazy("Your answers were not sent. Please try again.")


def portal_questionnaire_invites(*, reader: PortalReader) -> tuple[PortalQuestionnaireInvite, ...]:
    """The reader's own questionnaires still to answer, the one to answer first first: one query."""
    today = timezone.localdate()
    waiting = (
        portal_questionnaire_requests(reader)
        .filter(state=RequestState.OPEN, expires_on__gte=today, plan__status__in=ANSWERING_PLAN_STATUSES)
        .select_related("questionnaire")
        .order_by("expires_on", "opens_on", "pk")
    )
    return tuple(
        PortalQuestionnaireInvite(
            plan_id=str(reader.plan.public_id),
            request_id=str(asked.public_id),
            title=asked.questionnaire.title,
            answer_by=asked.expires_on,
        )
        for asked in waiting
    )


def portal_questionnaire(
    *,
    reader: PortalReader,
    asked: QuestionnaireRequest,
    chosen: dict[str, int] | None = None,
    errors: dict[str, str] | None = None,
    error: str = "",
) -> PortalQuestionnaire:
    """The answer page for `asked` (from portal.access.access_portal_questionnaire: the reader's own), with
    the answers `chosen` so far and an error per question (`errors`), both by the question's link id, and
    an `error` about the whole form. Two queries: the questions and the answers to choose from."""
    chosen, errors = chosen or {}, errors or {}
    questionnaire = asked.questionnaire
    options = tuple(
        PortalAnswerOption(value=option.value, text=option.text)
        for option in AnswerOption.objects.filter(questionnaire=questionnaire).order_by("position")
    )
    items = QuestionnaireItem.objects.filter(questionnaire=questionnaire).order_by("position")
    return PortalQuestionnaire(
        plan_id=str(reader.plan.public_id),
        request_id=str(asked.public_id),
        is_patient=reader.role == ReaderRole.PATIENT,
        title=questionnaire.title,
        introduction=questionnaire.introduction,
        attribution=questionnaire.attribution,
        answer_by=asked.expires_on,
        questions=tuple(
            PortalQuestion(
                link_id=item.link_id,
                number=number,
                text=item.text,
                options=options,
                chosen=chosen.get(item.link_id),
                error=errors.get(item.link_id, ""),
            )
            for number, item in enumerate(items, start=1)
        ),
        error=error,
    )


def portal_questionnaire_done(
    *, reader: PortalReader, asked: QuestionnaireRequest
) -> PortalQuestionnaireDone:
    """The page for a questionnaire no longer to answer: thanks (answered), too late (its time ran out) or
    no longer needed (cancelled)."""
    if asked.state == RequestState.ANSWERED:
        state = "answered"
    elif asked.state == RequestState.CANCELLED or asked.plan.status not in ANSWERING_PLAN_STATUSES:
        state = "closed"  # taken back, or its plan has ended
    else:  # expired, or open with its answer-by day passed
        state = "too_late"
    return PortalQuestionnaireDone(
        plan_id=str(reader.plan.public_id),
        is_patient=reader.role == ReaderRole.PATIENT,
        title=asked.questionnaire.title,
        state=state,
    )
