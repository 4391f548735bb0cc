"""The whitelisted read models the portal's templates receive: frozen dataclasses of plain values, never
model instances, so a staff-only field cannot reach a portal page through a careless template variable.
A field belongs here only if the patient (or a relative within their consent) may read it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

# --- plan (the plan page and the chooser) ---
# Left out on purpose (staff-facing): task descriptions and hold reasons, notes, participants'
# commitments, the CPR number, conditions, disputes, messages, relatives' records, staff members' own
# phone numbers and e-mail addresses.

# What happens next: the first this many are listed; the rest fold away under "Later" (the plan page).
NEXT_SHOWN = 5


@dataclass(frozen=True)
class PortalContact:
    """Someone to call: an organisation, where given a person in it, and a phone number ("" if none)."""

    organisation: str
    person: str = ""
    phone: str = ""
    phone_uri: str = ""  # "tel:+4546313010"


@dataclass(frozen=True)
class PortalGoal:
    description: str
    expected_result: str
    target_date: date | None
    status: str  # in plain words


@dataclass(frozen=True)
class PortalNextItem:
    """A coming appointment or task: when, what, who does it and how to reach them."""

    when: date | None
    until: date | None  # the last day, when it is a span of days
    what: str
    who: PortalContact
    is_appointment: bool
    is_late: bool  # its day has passed and it is not done yet
    is_paused: bool  # on hold for now (why is staff-facing: not shown)


@dataclass(frozen=True)
class PortalParticipant:
    organisation: str
    sector: str  # in plain words
    phone: str
    phone_uri: str


@dataclass(frozen=True)
class PortalPastEvent:
    """Something that has happened: a task done, or a hospital stay ("stay"; "visit" for an acute
    ambulant one) at `place` from `on` to `until` (None while it lasts)."""

    kind: str  # "task", "stay" or "visit"
    on: date
    until: date | None
    what: str  # the task's title; "" for a stay
    place: str
    ongoing: bool = False


@dataclass(frozen=True)
class PortalPlanPage:
    """The plan as one reader may see it. A relative with "appointments only" gets the appointments and
    whom to call, nothing else: the other parts are empty and `whole_plan` is False."""

    plan_id: str
    patient_name: str
    is_patient: bool
    whole_plan: bool
    title: str
    is_paused: bool
    is_finished: bool
    what_matters: str
    goals: tuple[PortalGoal, ...]
    next_items: tuple[PortalNextItem, ...]
    coordinator: PortalContact | None
    substitute: PortalContact | None
    participants: tuple[PortalParticipant, ...]
    past_events: tuple[PortalPastEvent, ...]
    show_access_log: bool  # the patient's own: relatives do not see who has looked at the plan

    @property
    def next_soon(self) -> tuple[PortalNextItem, ...]:
        """What happens next, listed: the first NEXT_SHOWN."""
        return self.next_items[:NEXT_SHOWN]

    @property
    def next_later(self) -> tuple[PortalNextItem, ...]:
        """The rest, folded away under "Later"."""
        return self.next_items[NEXT_SHOWN:]


@dataclass(frozen=True)
class PortalChoice:
    """One plan on the chooser (a relative of two patients, a patient who is also a relative): whose it
    is, not what it is about (its title is read on the plan page, where the read is logged)."""

    plan_id: str
    patient_name: str
    is_own: bool
    whole_plan: bool
    is_finished: bool
    questionnaires_waiting: int = 0  # the reader's own questionnaires to answer there (issue 16)


# --- access log (Hvem har set mine oplysninger?) ---
# Who read the patient's data, in plain words for the patient: never a staff user or a Relative instance,
# and a staff member's name only when settings.PORTAL_SHOW_STAFF_NAMES is on (else "" here).


@dataclass(frozen=True)
class AccessLogEntry:
    """One read of the patient's data: when, by whom (an organisation and a role, or a relative), what
    was looked at and why; an emergency access with the reason the reader gave."""

    at: datetime
    organisation: str  # "" for a relative, or where the log names none
    role: str  # the reader's role then ("Coordinator", "Relative", "System administrator"…)
    person: str  # a relative's name; a staff member's only when names are shown
    what: str
    why: str
    by_relative: bool
    by_administrator: bool
    emergency: bool
    reason: str  # the reason given for an emergency access ("" otherwise)
    by_patient: bool = False  # the patient herself (a PDF of her plan got in the portal)


@dataclass(frozen=True)
class AccessLogPage:
    """One page of the patient's access log, newest first."""

    plan_public_id: str
    entries: tuple[AccessLogEntry, ...]
    number: int
    page_count: int
    total: int
    previous_number: int | None
    next_number: int | None
    years: int
    names_shown: bool


# --- documents (issue 15: the printable plan) ---
# A printed plan as the portal lists it: which, which version, when, and whether it is ready. Left out on
# purpose: who asked for it (a staff member, another relative), its HTML, its error (the kind of error is
# for staff; the reader is told it failed and may try again).


@dataclass(frozen=True)
class PortalDocument:
    """One printed plan: the plan (or the appointments) or its large print, version `number`, printed
    (asked for) `printed_at`; `state`: "waiting" (being made, `progress` %), "done" (`pages` pages) or
    "failed"."""

    document_id: str
    plan_id: str
    large_print: bool
    whole_plan: bool  # the whole plan, or the appointments only (a relative's)
    number: int
    printed_at: datetime
    state: str
    progress: int
    pages: int | None

    @property
    def waiting(self) -> bool:
        return self.state == "waiting"

    @property
    def done(self) -> bool:
        return self.state == "done"

    @property
    def failed(self) -> bool:
        return self.state == "failed"


@dataclass(frozen=True)
class PortalDocumentsPage:
    """ "Print your plan": the two buttons, and the printed plans made before (newest first). A relative
    with appointments only prints the appointments (`whole_plan` False). Nothing of the plan itself is on
    this page (not even the patient's name): it is no read of the plan, and writes no access-log row."""

    plan_id: str
    is_patient: bool
    whole_plan: bool
    documents: tuple[PortalDocument, ...]
    error: str = ""  # a request the page could not take ("Choose the plan or the large print.")


# --- questionnaires (issue 16: wellbeing, answered in the portal) ---
# A questionnaire sent to the signed-in person (the patient's own, or a relative's own about themselves):
# its words (title, introduction, questions, answers, the instrument's attribution) and the answer-by day.
# Left out on purpose: any score, band or flag (the coordinator reads them; the person is never shown a
# number that alarms), earlier answers, who sent it, and anything of another person's questionnaire.


@dataclass(frozen=True)
class PortalQuestionnaireInvite:
    """ "A questionnaire is waiting for you": one open questionnaire of the reader's, and the day to
    answer by."""

    plan_id: str
    request_id: str
    title: str
    answer_by: date


@dataclass(frozen=True)
class PortalAnswerOption:
    value: int
    text: str


@dataclass(frozen=True)
class PortalQuestion:
    """One question (a fieldset of radio buttons): its number, its words, the answers to choose from, the
    answer chosen (kept when the form comes back) and what is wrong ("" when nothing)."""

    link_id: str
    number: int
    text: str
    options: tuple[PortalAnswerOption, ...]
    chosen: int | None = None
    error: str = ""

    @property
    def field_name(self) -> str:
        """The radio buttons' name in the form (the CSRF token's name can never clash with it)."""
        return f"q-{self.link_id}"


@dataclass(frozen=True)
class PortalQuestionnaire:
    """The answer page: the questionnaire as its reader meets it, with the answers given so far and an error
    per unanswered question when the form comes back."""

    plan_id: str
    request_id: str
    is_patient: bool
    title: str
    introduction: str
    attribution: str
    answer_by: date
    questions: tuple[PortalQuestion, ...]
    error: str = ""  # about the whole form (the answers could not be sent); the questions' are theirs

    @property
    def errors(self) -> tuple[PortalQuestion, ...]:
        """The questions that need an answer (the error summary at the top)."""
        return tuple(question for question in self.questions if question.error)


@dataclass(frozen=True)
class PortalQuestionnaireDone:
    """The page after the answer page: thanks, or why the questionnaire can no longer be answered —
    `state` "answered" (thanks; the same when it was answered before), "too_late" (its time ran out) or
    "closed" (taken back: cancelled)."""

    plan_id: str
    is_patient: bool
    title: str
    state: str
