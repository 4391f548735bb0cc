"""Choices and status pipelines of the hub. Transitions are data: the services consult these tables."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Sector(models.TextChoices):
    HOSPITAL = "hospital", _("Hospital")
    MUNICIPALITY = "municipality", _("Municipality")
    GENERAL_PRACTICE = "general_practice", _("General practice")
    PSYCHIATRY = "psychiatry", _("Psychiatry")
    SOCIAL_SERVICES = "social_services", _("Social services")
    OTHER = "other", _("Other")


class MembershipRole(models.TextChoices):
    COORDINATOR = "coordinator", _("Pathway coordinator")
    CLINICIAN = "clinician", _("Clinician")
    ADMINISTRATIVE = "administrative", _("Administrative staff")


class ContactChannel(models.TextChoices):
    DIGITAL = "digital", _("Digital (e-Boks, app)")
    LETTER = "letter", _("Letter")
    PHONE = "phone", _("Phone")


class PlanStatus(models.TextChoices):
    """CarePlan.status in FHIR terms (on_hold ↔ on-hold)."""

    DRAFT = "draft", _("Draft")
    ACTIVE = "active", _("Active")
    ON_HOLD = "on_hold", _("On hold")
    COMPLETED = "completed", _("Completed")
    REVOKED = "revoked", _("Revoked")


# A plan in one of these is the patient's current plan; a patient has at most one (database constraint).
PLAN_OPEN_STATUSES = (PlanStatus.DRAFT, PlanStatus.ACTIVE, PlanStatus.ON_HOLD)

PLAN_TRANSITIONS: dict[str, frozenset[str]] = {
    PlanStatus.DRAFT: frozenset({PlanStatus.ACTIVE, PlanStatus.REVOKED}),
    PlanStatus.ACTIVE: frozenset({PlanStatus.ON_HOLD, PlanStatus.COMPLETED, PlanStatus.REVOKED}),
    PlanStatus.ON_HOLD: frozenset({PlanStatus.ACTIVE, PlanStatus.COMPLETED, PlanStatus.REVOKED}),
    PlanStatus.COMPLETED: frozenset(),
    PlanStatus.REVOKED: frozenset(),
}


class GoalStatus(models.TextChoices):
    """Goal.lifecycleStatus in FHIR terms."""

    PROPOSED = "proposed", _("Proposed")
    ACTIVE = "active", _("Agreed")
    ON_HOLD = "on_hold", _("On hold")
    COMPLETED = "completed", _("Reached")
    CANCELLED = "cancelled", _("Cancelled")


# A goal is agreed before it is reached or put on hold; a reached or cancelled goal can be taken up again
# (agreed anew) but never goes back to being a proposal. Same status again: no change.
GOAL_TRANSITIONS: dict[str, frozenset[str]] = {
    GoalStatus.PROPOSED: frozenset({GoalStatus.ACTIVE, GoalStatus.CANCELLED}),
    GoalStatus.ACTIVE: frozenset({GoalStatus.ON_HOLD, GoalStatus.COMPLETED, GoalStatus.CANCELLED}),
    GoalStatus.ON_HOLD: frozenset({GoalStatus.ACTIVE, GoalStatus.COMPLETED, GoalStatus.CANCELLED}),
    GoalStatus.COMPLETED: frozenset({GoalStatus.ACTIVE}),
    GoalStatus.CANCELLED: frozenset({GoalStatus.ACTIVE}),
}


class TaskStatus(models.TextChoices):
    """Task.status in FHIR terms (a subset; in_progress ↔ in-progress)."""

    REQUESTED = "requested", _("Planned")
    ACCEPTED = "accepted", _("Accepted")
    IN_PROGRESS = "in_progress", _("In progress")
    ON_HOLD = "on_hold", _("On hold")
    COMPLETED = "completed", _("Done")
    CANCELLED = "cancelled", _("Cancelled")
    REJECTED = "rejected", _("Rejected")


TASK_OPEN_STATUSES = (
    TaskStatus.REQUESTED,
    TaskStatus.ACCEPTED,
    TaskStatus.IN_PROGRESS,
    TaskStatus.ON_HOLD,
)

TASK_TRANSITIONS: dict[str, frozenset[str]] = {
    TaskStatus.REQUESTED: frozenset(
        {
            TaskStatus.ACCEPTED,
            TaskStatus.IN_PROGRESS,
            TaskStatus.ON_HOLD,
            TaskStatus.COMPLETED,
            TaskStatus.CANCELLED,
            TaskStatus.REJECTED,
        }
    ),
    TaskStatus.ACCEPTED: frozenset(
        {TaskStatus.IN_PROGRESS, TaskStatus.ON_HOLD, TaskStatus.COMPLETED, TaskStatus.CANCELLED}
    ),
    TaskStatus.IN_PROGRESS: frozenset({TaskStatus.ON_HOLD, TaskStatus.COMPLETED, TaskStatus.CANCELLED}),
    TaskStatus.ON_HOLD: frozenset(
        {TaskStatus.REQUESTED, TaskStatus.ACCEPTED, TaskStatus.IN_PROGRESS, TaskStatus.CANCELLED}
    ),
    # A task marked done by mistake can be reopened; cancelled and rejected tasks are final.
    TaskStatus.COMPLETED: frozenset({TaskStatus.IN_PROGRESS}),
    TaskStatus.CANCELLED: frozenset(),
    TaskStatus.REJECTED: frozenset(),
}


class TaskKind(models.TextChoices):
    APPOINTMENT = "appointment", _("Appointment")
    HOME_VISIT = "home_visit", _("Home visit")
    REHABILITATION = "rehabilitation", _("Rehabilitation")
    MEDICATION_REVIEW = "medication_review", _("Medication review")
    ASSISTIVE_DEVICE = "assistive_device", _("Assistive device")
    QUESTIONNAIRE = "questionnaire", _("Questionnaire")
    PHONE_CALL = "phone_call", _("Phone call")
    REFERRAL = "referral", _("Referral")
    OTHER = "other", _("Other")


class AccessAction(models.TextChoices):
    LIST = "list", _("Saw in a list")
    VIEW_PLAN = "view_plan", _("Opened the plan")
    VIEW_HISTORY = "view_history", _("Opened the plan's history")
    EDIT_PLAN = "edit_plan", _("Changed the plan")
    REVEAL_CPR = "reveal_cpr", _("Revealed the CPR number")
    SEARCH_CPR = "search_cpr", _("Searched by CPR number")
    API_READ = "api_read", _("Read through the API")
    FHIR_EXPORT = "fhir_export", _("Fetched the plan into another system (FHIR)")
    ADMIN_VIEW = "admin_view", _("Opened in administration")
    ADMIN_LIST = "admin_list", _("Saw in an administration list")
    VIEW_ACCESS_LOG = "view_access_log", _("Read who has opened the plan")
    VIEW_MESSAGES = "view_messages", _("Read messages between sectors")
    # The relative's own support record (relatives): logged under the plan's patient, but the relative's
    # data — the patient's own access log leaves these reads out (they are not reads of the patient's data).
    VIEW_RELATIVE_SUPPORT = "view_relative_support", _("Read a relative's support record")
    # The portal (issue 14): the patient or a relative reading; the reader is on the row, not a staff user.
    PORTAL_PLAN = "portal_plan", _("Read the plan in the portal")
    PORTAL_ACCESS_LOG = "portal_access_log", _("Read in the portal who has seen the plan")
    # Printable plans (issue 15): opening a rendered PDF is a read of everything printed in it.
    DOWNLOAD_DOCUMENT = "download_document", _("Opened a printed plan (PDF)")
    PORTAL_DOCUMENT = "portal_document", _("Opened the printed plan in the portal")
    # Quality (issue 16): a questionnaire response opened by staff, and the patient or a relative opening
    # a questionnaire (with their earlier answers) in the portal.
    VIEW_RESPONSE = "view_response", _("Read a questionnaire response")
    PORTAL_QUESTIONNAIRE = "portal_questionnaire", _("Opened a questionnaire in the portal")


class AccessPurpose(models.TextChoices):
    TREATMENT = "treatment", _("Current treatment")
    ADMINISTRATION = "administration", _("System administration")
    # Break the glass: a clinician outside the plan opened it, giving a reason (sundhedsloven § 42 a).
    EMERGENCY = "emergency", _("Emergency access (break the glass)")
    # Portal reads: the patient's own, and a relative's within the consent the patient gave.
    OWN_DATA = "own_data", _("The patient's own reading")
    RELATIVE_CONSENT = "relative_consent", _("A relative, with the patient's consent")


class SecurityEventKind(models.TextChoices):
    LOGIN_SUCCEEDED = "login_succeeded", _("Signed in")
    LOGIN_FAILED = "login_failed", _("Failed sign-in")
    LOCKED_OUT = "locked_out", _("Sign-in paused after repeated failures")
    LOGGED_OUT = "logged_out", _("Signed out")
    SESSION_EXPIRED = "session_expired", _("Session expired")
    SESSIONS_REVOKED = "sessions_revoked", _("Signed out everywhere")
    MFA_ENROLLED = "mfa_enrolled", _("Two-step sign-in set up")
    MFA_VERIFIED = "mfa_verified", _("Second step passed")
    MFA_FAILED = "mfa_failed", _("Wrong code in the second step")
    MFA_RECOVERY_USED = "mfa_recovery_used", _("Recovery code used")
    MFA_RECOVERY_REGENERATED = "mfa_recovery_regenerated", _("New recovery codes made")
    MFA_REMOVED = "mfa_removed", _("Two-step sign-in removed")
    PERMISSION_DENIED = "permission_denied", _("Access refused")
    BREAK_GLASS = "break_glass", _("Emergency access to a plan")
    API_TOKEN_ISSUED = "api_token_issued", _("API token issued")


class NotificationKind(models.TextChoices):
    """What a message in the outbox is about (each raised by a service at the moment it happens)."""

    TASK_ASSIGNED = "task_assigned", _("Task assigned to you")
    TASK_DUE_SOON = "task_due_soon", _("Task due soon")
    TASK_OVERDUE = "task_overdue", _("Task overdue")
    APPOINTMENT_REMINDER = "appointment_reminder", _("Appointment reminder")
    PLAN_STATUS_CHANGED = "plan_status_changed", _("Plan status changed")
    TASK_RELEASED = "task_released", _("A task you waited for is done")
    COORDINATOR_ASSIGNED = "coordinator_assigned", _("New coordinator")
    NEED_REVIEW_DUE = "need_review_due", _("Need for a coordinator to be reassessed")
    DISPUTE_RAISED = "dispute_raised", _("Responsibility disputed")
    DISPUTE_ESCALATED = "dispute_escalated", _("Responsibility dispute escalated")
    DISPUTE_RESOLVED = "dispute_resolved", _("Responsibility dispute resolved")
    MESSAGE_RECEIVED = "message_received", _("New message")
    PATIENT_ADMITTED = "patient_admitted", _("Patient admitted to hospital")
    PATIENT_ON_LEAVE = "patient_on_leave", _("Patient on leave from hospital")
    PATIENT_DISCHARGED = "patient_discharged", _("Patient discharged from hospital")
    PATIENT_DIED = "patient_died", _("Patient has died")
    TRANSITION_REVERSED = "transition_reversed", _("Hospital notice corrected or cancelled")
    # Relatives (relatives.services): a withdrawn consent is told to the patient and the relative; a
    # referral's follow-up date reminds the person responsible for it.
    CONSENT_REVOKED = "consent_revoked", _("A relative's consent withdrawn")
    RELATIVE_FOLLOW_UP = "relative_follow_up", _("Follow up on a relative's support")
    # The portal's sign-in (portal.signin): a one-time link, then a code, asked for by the person who
    # receives them — sent at once, also at night (ASKED_FOR_NOW).
    SIGN_IN_LINK = "sign_in_link", _("Sign-in link for the portal")
    SIGN_IN_CODE = "sign_in_code", _("Sign-in code for the portal")
    # Quality (quality.services): a questionnaire sent to the patient or a relative, and its reminders
    # (cancelled in the transaction that answers, expires or cancels it).
    QUESTIONNAIRE_SENT = "questionnaire_sent", _("A questionnaire to answer")
    QUESTIONNAIRE_REMINDER = "questionnaire_reminder", _("Reminder: a questionnaire to answer")
    # To the plan's coordinator: an answer flagged (WHO-5 of 50 or less, an item at 0 or 1; high strain).
    QUESTIONNAIRE_FLAGGED = "questionnaire_flagged", _("A questionnaire answer to look at")


# Messages the recipient is waiting for on the spot: no quiet hours for these.
ASKED_FOR_NOW = frozenset({NotificationKind.SIGN_IN_LINK, NotificationKind.SIGN_IN_CODE})


# --- transitions: pathway templates, hospital stays and their events, MedCom ingest ---


class TemplateTrigger(models.TextChoices):
    """When a template's task is put on a plan: when the plan is made from the template, or at every
    discharge (a discharge rule)."""

    PLAN_START = "plan_start", _("When the plan is made")
    DISCHARGE = "discharge", _("At discharge")


class MunicipalService(models.TextChoices):
    """What a municipal unit does, so a follow-up for "home nursing in the patient's municipality" finds
    the unit."""

    HOME_NURSING = "home_nursing", _("Home nursing")
    REHABILITATION = "rehabilitation", _("Rehabilitation")
    PREVENTION = "prevention", _("Prevention and health centre")


class ResponsibleParty(models.TextChoices):
    """Who a template's task goes to, resolved for the patient when the task is made (see
    pathway_templates.responsible_organisation): a municipal service of the patient's home municipality
    (else the municipality itself), the patient's GP, the hospital, psychiatry or the coordinator's
    organisation."""

    HOME_NURSING = "home_nursing", _("Home nursing in the patient's municipality")
    MUNICIPAL_REHABILITATION = "municipal_rehabilitation", _("Rehabilitation in the patient's municipality")
    MUNICIPAL_PREVENTION = "municipal_prevention", _("Health centre in the patient's municipality")
    HOME_MUNICIPALITY = "home_municipality", _("The patient's home municipality")
    GENERAL_PRACTICE = "general_practice", _("The patient's GP")
    HOSPITAL = "hospital", _("The hospital (the discharging one at discharge)")
    PSYCHIATRY = "psychiatry", _("Psychiatry")
    COORDINATOR = "coordinator", _("The coordinator's organisation")


class StayClass(models.TextChoices):
    """Encounter.class in MedCom's HospitalNotification: EMER (acute ambulant) or IMP (inpatient)."""

    ACUTE_AMBULANT = "acute_ambulant", _("Acute ambulant")
    INPATIENT = "inpatient", _("Admitted")


class StayStatus(models.TextChoices):
    """Encounter.status of a stay as the product knows it (onleave ↔ on_leave)."""

    IN_PROGRESS = "in_progress", _("In hospital")
    ON_LEAVE = "on_leave", _("On leave")
    FINISHED = "finished", _("Ended")
    CANCELLED = "cancelled", _("Cancelled")


STAY_OPEN_STATUSES = (StayStatus.IN_PROGRESS, StayStatus.ON_LEAVE)


class StayEnd(models.TextChoices):
    DISCHARGED = "discharged", _("Discharged home")
    DIED = "died", _("Died")
    # MedCom sends no end message for these: a new STIN from another hospital (transfer), or an acute
    # ambulant stay that became an admission (STAA → STIN). The new stay ends the old one.
    TRANSFERRED = "transferred", _("Moved to another hospital")
    CONVERTED = "converted", _("Became an admission")


class TransitionKind(models.TextChoices):
    """A hospital event on the plan; the MedCom code it corresponds to in the comment."""

    ADMISSION_ACUTE = "admission_acute", _("Acute ambulant stay started")  # STAA
    ADMISSION = "admission", _("Admitted")  # STIN
    LEAVE_START = "leave_start", _("Leave started")  # STOR
    LEAVE_END = "leave_end", _("Leave ended")  # SLOR
    DISCHARGE = "discharge", _("Discharged home")  # SLHJ
    DEATH = "death", _("Died")  # MORS


STAY_STARTS = (TransitionKind.ADMISSION_ACUTE, TransitionKind.ADMISSION)


class TransitionSource(models.TextChoices):
    MANUAL = "manual", _("Entered by hand")
    MEDCOM = "medcom", _("MedCom hospital notice")


class TransitionState(models.TextChoices):
    APPLIED = "applied", _("In effect")
    # RE_: a correction replaced it (the correction is a new row pointing at it).
    CORRECTED = "corrected", _("Corrected")
    # AN_ or a cancellation on the plan page: what it did is undone.
    CANCELLED = "cancelled", _("Cancelled")


class TransitionEffectKind(models.TextChoices):
    """What a transition did, one row each, so a correction or cancellation can undo exactly that."""

    TASK_PAUSED = "task_paused", _("Task put on hold")
    TASK_RESUMED = "task_resumed", _("Task resumed")
    TASK_REDATED = "task_redated", _("Task given a new date")
    TASK_CREATED = "task_created", _("Follow-up task created")
    PLAN_COMPLETED = "plan_completed", _("Plan completed")
    PLAN_REOPENED = "plan_reopened", _("Plan reopened")
    REMINDERS_CANCELLED = "reminders_cancelled", _("Reminders cancelled")


class MedcomCode(models.TextChoices):
    """HospitalNotification message types (STANDARDS.md §2.2): the event, its correction (RE_) and its
    cancellation (AN_)."""

    STAA = "STAA", _("Start hospital stay – acute ambulant")
    RE_STAA = "RE_STAA", _("Correction: start hospital stay – acute ambulant")
    AN_STAA = "AN_STAA", _("Cancellation: start hospital stay – acute ambulant")
    STIN = "STIN", _("Start hospital stay – admitted")
    RE_STIN = "RE_STIN", _("Correction: start hospital stay – admitted")
    AN_STIN = "AN_STIN", _("Cancellation: start hospital stay – admitted")
    STOR = "STOR", _("Start leave")
    RE_STOR = "RE_STOR", _("Correction: start leave")
    AN_STOR = "AN_STOR", _("Cancellation: start leave")
    SLOR = "SLOR", _("End leave")
    RE_SLOR = "RE_SLOR", _("Correction: end leave")
    AN_SLOR = "AN_SLOR", _("Cancellation: end leave")
    SLHJ = "SLHJ", _("End hospital stay – discharged home")
    RE_SLHJ = "RE_SLHJ", _("Correction: end hospital stay – discharged home")
    AN_SLHJ = "AN_SLHJ", _("Cancellation: end hospital stay – discharged home")
    MORS = "MORS", _("Deceased")
    RE_MORS = "RE_MORS", _("Correction: deceased")
    AN_MORS = "AN_MORS", _("Cancellation: deceased")


# The event each base code stands for.
MEDCOM_TRANSITIONS: dict[str, str] = {
    "STAA": TransitionKind.ADMISSION_ACUTE,
    "STIN": TransitionKind.ADMISSION,
    "STOR": TransitionKind.LEAVE_START,
    "SLOR": TransitionKind.LEAVE_END,
    "SLHJ": TransitionKind.DISCHARGE,
    "MORS": TransitionKind.DEATH,
}


class ReceivedState(models.TextChoices):
    """What became of a received HospitalNotification."""

    APPLIED = "applied", _("Applied to the plan")
    # Arrived before the message it follows (e.g. a discharge before its admission): applied when that
    # arrives, or on its own by the sweeper after MEDCOM_HOLD_MINUTES.
    HELD = "held", _("Waiting for an earlier message")
    NO_PLAN = "no_plan", _("Citizen without a plan")
    # Nothing to do (e.g. a cancellation of something that was never applied); kept for the record.
    NOTED = "noted", _("Noted, nothing to change")


class NotificationChannel(models.TextChoices):
    IN_APP = "in_app", _("In the product")
    EMAIL = "email", _("E-mail")
    SMS = "sms", _("Text message (SMS)")
    LETTER = "letter", _("Letter")


class NotificationState(models.TextChoices):
    PENDING = "pending", _("Waiting")
    SENDING = "sending", _("Being sent")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


# Danish municipalities (kommunekoder, Danmarks Statistik). Used for the patient's home municipality and,
# later, for breakdowns by municipality.
MUNICIPALITIES: list[tuple[str, str]] = [
    ("101", "København"), ("147", "Frederiksberg"), ("151", "Ballerup"), ("153", "Brøndby"),
    ("155", "Dragør"), ("157", "Gentofte"), ("159", "Gladsaxe"), ("161", "Glostrup"), ("163", "Herlev"),
    ("165", "Albertslund"), ("167", "Hvidovre"), ("169", "Høje-Taastrup"), ("173", "Lyngby-Taarbæk"),
    ("175", "Rødovre"), ("183", "Ishøj"), ("185", "Tårnby"), ("187", "Vallensbæk"), ("190", "Furesø"),
    ("201", "Allerød"), ("210", "Fredensborg"), ("217", "Helsingør"), ("219", "Hillerød"),
    ("223", "Hørsholm"), ("230", "Rudersdal"), ("240", "Egedal"), ("250", "Frederikssund"),
    ("253", "Greve"), ("259", "Køge"), ("260", "Halsnæs"), ("265", "Roskilde"), ("269", "Solrød"),
    ("270", "Gribskov"), ("306", "Odsherred"), ("316", "Holbæk"), ("320", "Faxe"), ("326", "Kalundborg"),
    ("329", "Ringsted"), ("330", "Slagelse"), ("336", "Stevns"), ("340", "Sorø"), ("350", "Lejre"),
    ("360", "Lolland"), ("370", "Næstved"), ("376", "Guldborgsund"), ("390", "Vordingborg"),
    ("400", "Bornholm"), ("410", "Middelfart"), ("420", "Assens"), ("430", "Faaborg-Midtfyn"),
    ("440", "Kerteminde"), ("450", "Nyborg"), ("461", "Odense"), ("479", "Svendborg"), ("480", "Nordfyns"),
    ("482", "Langeland"), ("492", "Ærø"), ("510", "Haderslev"), ("530", "Billund"), ("540", "Sønderborg"),
    ("550", "Tønder"), ("561", "Esbjerg"), ("563", "Fanø"), ("573", "Varde"), ("575", "Vejen"),
    ("580", "Aabenraa"), ("607", "Fredericia"), ("615", "Horsens"), ("621", "Kolding"), ("630", "Vejle"),
    ("657", "Herning"), ("661", "Holstebro"), ("665", "Lemvig"), ("671", "Struer"), ("706", "Syddjurs"),
    ("707", "Norddjurs"), ("710", "Favrskov"), ("727", "Odder"), ("730", "Randers"), ("740", "Silkeborg"),
    ("741", "Samsø"), ("746", "Skanderborg"), ("751", "Aarhus"), ("756", "Ikast-Brande"),
    ("760", "Ringkøbing-Skjern"), ("766", "Hedensted"), ("773", "Morsø"), ("779", "Skive"),
    ("787", "Thisted"), ("791", "Viborg"), ("810", "Brønderslev"), ("813", "Frederikshavn"),
    ("820", "Vesthimmerlands"), ("825", "Læsø"), ("840", "Rebild"), ("846", "Mariagerfjord"),
    ("849", "Jammerbugt"), ("851", "Aalborg"), ("860", "Hjørring"),
]  # fmt: skip
MUNICIPALITY_NAMES = dict(MUNICIPALITIES)


class DocumentKind(models.TextChoices):
    """The printable documents made from a plan (issue 15)."""

    PATIENT = "patient", _("Plan for the patient")
    LARGE_PRINT = "large_print", _("Plan for the patient in large print")
    STAFF = "staff", _("Complete plan for staff")
    LETTER = "letter", _("Letter")


# The kinds the patient and relatives may have: the portal offers and shows only these.
DOCUMENT_PATIENT_KINDS = (DocumentKind.PATIENT, DocumentKind.LARGE_PRINT)


class DocumentContent(models.TextChoices):
    """How much of the plan a document holds: a relative who may see the appointments only gets a document
    made for them, and may open no other."""

    WHOLE_PLAN = "whole_plan", _("The whole plan")
    APPOINTMENTS = "appointments", _("Appointments only")


class DocumentState(models.TextChoices):
    """A render job's pipeline: queued → rendering → done, or failed (and queued again by a retry)."""

    QUEUED = "queued", _("Waiting")
    RENDERING = "rendering", _("Being made")
    DONE = "done", _("Ready")
    FAILED = "failed", _("Failed")


DOCUMENT_WAITING_STATES = (DocumentState.QUEUED, DocumentState.RENDERING)
