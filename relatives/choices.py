"""The relatives app's vocabularies. Consent follows FHIR Consent (scope patient-privacy, a permit with
what the relative may see); relations follow FHIR RelatedPerson.relationship (v3 RoleCode) where a code
exists."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Relation(models.TextChoices):
    """The relative's relation to the patient (FHIR RelatedPerson.relationship: v3 RoleCode)."""

    SPOUSE = "spouse", _("Spouse or partner")  # SPS / DOMPART
    CHILD = "child", _("Son or daughter")  # CHILD
    PARENT = "parent", _("Mother or father")  # PRN
    SIBLING = "sibling", _("Brother or sister")  # SIB
    GRANDCHILD = "grandchild", _("Grandchild")  # GRNDCHILD
    OTHER_FAMILY = "other_family", _("Other family")  # FAMMEMB
    FRIEND = "friend", _("Friend")  # FRND
    NEIGHBOUR = "neighbour", _("Neighbour")  # NBOR
    OTHER = "other", _("Other")


# The v3 RoleCode each relation maps to (FHIR RelatedPerson.relationship), for the FHIR export (issue 17).
RELATION_ROLE_CODES: dict[str, str] = {
    Relation.SPOUSE: "SPS",
    Relation.CHILD: "CHILD",
    Relation.PARENT: "PRN",
    Relation.SIBLING: "SIB",
    Relation.GRANDCHILD: "GRNDCHILD",
    Relation.OTHER_FAMILY: "FAMMEMB",
    Relation.FRIEND: "FRND",
    Relation.NEIGHBOUR: "NBOR",
    Relation.OTHER: "O",
}


class RelativeChannel(models.TextChoices):
    """How the relative wants to hear from us. A child relative gets nothing of their own."""

    EMAIL = "email", _("E-mail")
    SMS = "sms", _("Text message (SMS)")
    LETTER = "letter", _("Letter")
    NONE = "none", _("Not at all")


class ConsentScope(models.TextChoices):
    """What the patient lets the relative see (the one rule the portal and the reminders use:
    relatives.access.relative_scope). NONE: not involved, or no longer."""

    WHOLE_PLAN = "whole_plan", _("The whole plan")
    APPOINTMENTS = "appointments", _("Appointments only")
    CONTACT_ONLY = "contact_only", _("Contact person only (sees nothing)")
    NONE = "none", _("Not involved")


# The scopes that let a relative see anything of the plan (portal) and hear of appointments.
SEEING_SCOPES = frozenset({ConsentScope.WHOLE_PLAN, ConsentScope.APPOINTMENTS})


class ConsentAction(models.TextChoices):
    """What a consent decision did, as the history shows it (derived when it is recorded)."""

    GIVEN = "given", _("Consent given")
    CHANGED = "changed", _("Consent changed")
    REFUSED = "refused", _("Not to be involved")
    REVOKED = "revoked", _("Consent withdrawn")


class ConsentMethod(models.TextChoices):
    """How the decision was given (FHIR Consent.source / verification)."""

    SPOKEN = "spoken", _("Spoken")
    WRITTEN = "written", _("Written")
    PORTAL = "portal", _("In the portal")


class ConsentDecider(models.TextChoices):
    """Who decided: the patient, or someone acting for a patient who cannot consent."""

    PATIENT = "patient", _("The patient")
    REPRESENTATIVE = "representative", _("Someone acting for the patient")


class RepresentativeBasis(models.TextChoices):
    """The legal basis of the person acting for a patient who cannot consent."""

    # Lov om fremtidsfuldmagter: a lasting power of attorney that has come into force.
    LASTING_POWER = "lasting_power", _("Lasting power of attorney (fremtidsfuldmagt)")
    # Værgeloven: a guardian appointed by Familieretshuset, with personal matters in the guardianship.
    GUARDIAN = "guardian", _("Guardian (værge)")
    # Sundhedsloven § 18: for a patient who lasting lacks capacity, the nearest relative.
    NEAREST_RELATIVE = "nearest_relative", _("Nearest relative (sundhedsloven § 18)")
    OTHER = "other", _("Other legal basis")


class CapacityLoss(models.TextChoices):
    TEMPORARY = "temporary", _("Temporary")
    LASTING = "lasting", _("Lasting")


class OfferKind(models.TextChoices):
    """The kinds of support offered to relatives."""

    CONVERSATION = "conversation", _("Relatives' conversations")
    RESPITE = "respite", _("Respite care (aflastning)")
    COURSE = "course", _("Course for relatives")
    GUIDE = "guide", _("Relatives' guide")
    ASSOCIATION = "association", _("Patient association")
    OTHER = "other", _("Other support")


class ReferralStatus(models.TextChoices):
    """Where a referral to a support offer stands."""

    PROPOSED = "proposed", _("Proposed")
    REFERRED = "referred", _("Referred")
    STARTED = "started", _("Started")
    COMPLETED = "completed", _("Completed")
    DECLINED = "declined", _("Declined by the relative")
    CANCELLED = "cancelled", _("Cancelled")


REFERRAL_OPEN_STATUSES = (ReferralStatus.PROPOSED, ReferralStatus.REFERRED, ReferralStatus.STARTED)


class ChildCareStep(models.TextChoices):
    """The checklist for a child as a relative, in the order staff work through it."""

    CONVERSATION = "conversation", _("A conversation with the child has been offered")
    OTHER_PARENT = "other_parent", _("The other parent or guardian is involved")
    SCHOOL = "school", _("School or daycare informed (only with consent)")
    NAMED_CONTACT = "named_contact", _("The child has a named contact person")


class ChecklistStatus(models.TextChoices):
    OPEN = "open", _("Open")
    DONE = "done", _("Done")
    NOT_RELEVANT = "not_relevant", _("Not relevant")
