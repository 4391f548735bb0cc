"""Choices, criteria and pipelines of coordination. Rules are data: the services consult these tables."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class NeedCriterion(models.TextChoices):
    """What speaks for a named coordinator (DESIGN.md, "A named coordinator")."""

    MULTIMORBIDITY = "multimorbidity", _("Several chronic conditions (multimorbidity)")
    MANY_ORGANISATIONS = "many_organisations", _("Many organisations involved")
    NO_RELATIVES = "no_relatives", _("No relatives to lean on")
    MENTAL_ILLNESS_SUBSTANCE_ABUSE = (
        "mental_illness_substance_abuse",
        _("Mental illness together with substance abuse"),
    )
    COGNITIVE_IMPAIRMENT = "cognitive_impairment", _("Cognitive impairment")
    REPEATED_ADMISSIONS = "repeated_admissions", _("Repeated unplanned admissions")
    PATIENT_WISH = "patient_wish", _("The patient wishes a coordinator")


# The rule the assessment form suggests (the assessor decides, and gives a reason when deciding
# otherwise): the patient's own wish is enough; otherwise at least this many criteria.
NEED_CRITERIA_THRESHOLD = 2
NEED_DECISIVE_CRITERIA = frozenset({NeedCriterion.PATIENT_WISH})


class NeedOutcome(models.TextChoices):
    NEEDS_COORDINATOR = "needs_coordinator", _("Needs a coordinator")
    NO_NEED = "no_need", _("Does not need a coordinator now")


class DisputeQuestion(models.TextChoices):
    WHO_ACTS = "who_acts", _("Who does it")
    WHO_PAYS = "who_pays", _("Who pays")
    BOTH = "both", _("Who does it and who pays")


class DisputeStatus(models.TextChoices):
    OPEN = "open", _("Open")
    RESOLVED = "resolved", _("Resolved")


class EscalationTarget(models.TextChoices):
    """Whom a step of the escalation ladder tells."""

    ORGANISATION_CONTACTS = "organisation_contacts", _("Each organisation's escalation contact")
    SECRETARIAT = "secretariat", _("The cross-sector secretariat")


class MessagePriority(models.TextChoices):
    """CareCommunication's priority (MedCom): routine or urgent."""

    ROUTINE = "routine", _("Routine")
    URGENT = "urgent", _("Urgent")


class RiskLevel(models.TextChoices):
    LOW = "low", _("Low")
    MEDIUM = "medium", _("Medium")
    HIGH = "high", _("High")


class RiskPart(models.TextChoices):
    """The parts of a patient's risk level, each shown with its value so a coordinator sees why."""

    ADMISSIONS = "admissions", _("Unplanned admissions in 12 months")
    CONDITIONS = "conditions", _("Conditions")
    ORGANISATIONS = "organisations", _("Organisations involved")
    OVERDUE = "overdue", _("Overdue tasks")
    DISPUTES = "disputes", _("Open disputes")
    NO_RELATIVE = "no_relative", _("No involved relative")
    NEEDS_COORDINATOR = "needs_coordinator", _("Assessed as needing a coordinator")


# The risk weights, in one place: points per unit of each part, the units counted at most `cap`, and
# `free` units that score nothing (a plan always has some organisations). A part that is a yes/no counts
# as 1 unit. Levels: at least `RISK_LEVELS[level]` points.
RISK_WEIGHTS: dict[str, dict[str, int]] = {
    RiskPart.ADMISSIONS: {"points": 2, "cap": 4, "free": 0},
    RiskPart.CONDITIONS: {"points": 1, "cap": 4, "free": 1},
    RiskPart.ORGANISATIONS: {"points": 1, "cap": 4, "free": 3},
    RiskPart.OVERDUE: {"points": 1, "cap": 4, "free": 0},
    RiskPart.DISPUTES: {"points": 2, "cap": 2, "free": 0},
    RiskPart.NO_RELATIVE: {"points": 2, "cap": 1, "free": 0},
    RiskPart.NEEDS_COORDINATOR: {"points": 2, "cap": 1, "free": 0},
}
RISK_LEVELS: list[tuple[int, RiskLevel]] = [(9, RiskLevel.HIGH), (5, RiskLevel.MEDIUM), (0, RiskLevel.LOW)]


class WorkItemKind(models.TextChoices):
    """The lines of the coordinator's worklist, in the order it shows them."""

    OVERDUE = "overdue", _("Overdue tasks")
    DUE_SOON = "due_soon", _("Due within 7 days")
    READY = "ready", _("Ready: what they waited for is done")
    # Hospital events of the coordinator's plans (pathways.stays): tasks were put on hold or resumed.
    HOSPITAL = "hospital", _("Admitted or discharged in the last 7 days")
    DISPUTE = "dispute", _("Open responsibility disputes")
    UNREAD = "unread", _("Unread messages")
    REVIEW = "review", _("Review or reassessment date passed")
    NOT_ACCEPTED = "not_accepted", _("Commitments not yet accepted")
    # Child relatives (relatives): the steps of their checklist still open.
    CHILD_CHECKLIST = "child_checklist", _("Children as relatives: open checklist items")
    EMERGENCY = "emergency", _("Emergency accesses not yet seen")
    NEEDS_COORDINATOR = "needs_coordinator", _("Needs a coordinator, has none")
