"""Relatives' data: the relatives on a plan, the patient's consent decisions about each, the checklist for
a child as a relative, and the relative's own support record (strain screening, needs, referrals to support
offers).

Two kinds of data live here (DESIGN.md M7). The relatives on a plan and the patient's consent belong to the
plan: every participant sees them and the plan's history shows them. The support record is the relative's
own data, not the patient's: only the plan's coordinator and the organisations holding an offer for the
relative see it (relatives.access), never the patient's portal, and it is not in the plan's history (the
admin's audit trail keeps it).

Invariants live here as constraints; writes go through relatives.services, reads through relatives.access
and relatives.selectors. FHIR: Relative ↔ RelatedPerson, RelativeConsent ↔ Consent (scope
patient-privacy), StrainScreening ↔ QuestionnaireResponse, SupportReferral ↔ ServiceRequest.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import uuid4

import pgtrigger
from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import get_language_info, override
from django.utils.translation import gettext_lazy as _

from pathways.channels import MessageNotWanted
from pathways.choices import NotificationChannel, NotificationKind
from pathways.models import Notification, Organisation, PathwayPlan, User, audited, choices_check
from pathways.numbers import NumericTextField, validate_phone
from relatives.choices import (
    CapacityLoss,
    ChecklistStatus,
    ChildCareStep,
    ConsentAction,
    ConsentDecider,
    ConsentMethod,
    ConsentScope,
    OfferKind,
    ReferralStatus,
    Relation,
    RelativeChannel,
    RepresentativeBasis,
)


def consent_scope(relative: Relative, consent: RelativeConsent | None, today: date) -> ConsentScope:
    """What `relative` may see given their latest decision `consent` (relatives.access.scope_of is the rule's
    name for the pages): NONE for a relative removed from the plan, for a child (children never get access
    of their own), without a decision, before it is valid or after its end date."""
    if consent is None or relative.ended_at is not None or relative.is_child:
        return ConsentScope.NONE
    if consent.valid_from > today or (consent.valid_until is not None and consent.valid_until < today):
        return ConsentScope.NONE
    return ConsentScope(consent.scope)


# What a message to a relative needs of their consent, checked again when it is sent (a consent may have
# ended, narrowed or run out since the message was written). The notice that access has ended always goes.
MESSAGE_SCOPES: dict[str, frozenset[str]] = {
    NotificationKind.APPOINTMENT_REMINDER: frozenset({ConsentScope.WHOLE_PLAN, ConsentScope.APPOINTMENTS}),
    # A questionnaire about the relative's own wellbeing, answered in the portal (which needs a consent).
    NotificationKind.QUESTIONNAIRE_SENT: frozenset({ConsentScope.WHOLE_PLAN, ConsentScope.APPOINTMENTS}),
    NotificationKind.QUESTIONNAIRE_REMINDER: frozenset({ConsentScope.WHOLE_PLAN, ConsentScope.APPOINTMENTS}),
}
WHOLE_PLAN_ONLY = frozenset({ConsentScope.WHOLE_PLAN})


class RelativeQuerySet(models.QuerySet["Relative"]):
    def current(self) -> RelativeQuerySet:
        """Relatives still on the plan (not removed)."""
        return self.filter(ended_at__isnull=True)


@audited()
class Relative(models.Model):
    """A relative of the patient on one plan (FHIR RelatedPerson). What they may see is the patient's latest
    consent decision (RelativeConsent); a child relative never gets portal access or messages of their own."""

    public_id = models.UUIDField(default=uuid4, unique=True, editable=False)
    plan = models.ForeignKey(PathwayPlan, on_delete=models.CASCADE, related_name="relatives")
    name = models.CharField(_("name"), max_length=200)
    relation = models.CharField(_("relation to the patient"), max_length=16, choices=Relation.choices)
    relation_detail = models.CharField(
        _("relation in own words"), max_length=100, blank=True, help_text=_("For example: eldest daughter.")
    )
    phone = NumericTextField(_("phone"), max_length=30, blank=True, validators=[validate_phone])
    email = models.EmailField(_("e-mail"), blank=True)
    address = models.CharField(_("address"), max_length=300, blank=True)
    preferred_channel = models.CharField(
        _("preferred channel"), max_length=8, choices=RelativeChannel.choices, default=RelativeChannel.SMS
    )
    language = models.CharField(
        _("language"), max_length=8, default="da", help_text=_("ISO 639-1 code, e.g. da, en, ar, tr.")
    )
    is_child = models.BooleanField(_("child under 18"), default=False)
    child_age = models.PositiveSmallIntegerField(_("age"), null=True, blank=True)
    is_closest = models.BooleanField(_("closest relative"), default=False)
    note = models.TextField(_("note"), blank=True, max_length=2000)
    added_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    added_by_organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("added for organisation"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    ended_at = models.DateTimeField(_("removed from the plan"), null=True, blank=True)
    # Set when the relative's access ends (consent withdrawn): a portal session started before it is over.
    sessions_ended_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)

    objects = RelativeQuerySet.as_manager()
    # Bookkeeping of the portal's sessions: the decision that ended access is what the history shows.
    history_hidden_fields = ("sessions_ended_at",)

    class Meta:
        verbose_name = _("relative")
        verbose_name_plural = _("relatives")
        ordering = ["-is_closest", "name", "id"]
        constraints = [
            choices_check("relation", Relation, "relative_relation_valid"),
            choices_check("preferred_channel", RelativeChannel, "relative_channel_valid"),
            models.UniqueConstraint(
                fields=["plan"],
                condition=Q(is_closest=True, ended_at__isnull=True),
                name="relative_one_closest_per_plan",
                violation_error_message=_("The plan already has a closest relative."),
            ),
            models.CheckConstraint(
                condition=Q(child_age__isnull=True) | Q(is_child=True, child_age__lte=17),
                name="relative_child_age_under_18",
            ),
            models.CheckConstraint(condition=~Q(name=""), name="relative_name_required"),
        ]
        indexes = [
            models.Index(fields=["plan"], condition=Q(ended_at__isnull=True), name="relative_plan_idx")
        ]

    def __str__(self) -> str:
        return self.name

    def notification_address(self, channel: str) -> str:
        """Where a message to the relative goes ("" for a child: children get no messages of their own)."""
        if self.is_child:
            return ""
        addresses: dict[str, str] = {
            NotificationChannel.EMAIL: self.email,
            NotificationChannel.SMS: self.phone,
            NotificationChannel.LETTER: self.address,
        }
        return addresses.get(channel, "")

    def latest_consent(self) -> RelativeConsent | None:
        return self.consents.order_by("-recorded_at", "-id").first()

    def notification_text(self, row: Notification) -> tuple[str, str]:
        """The relative's message in plain language and their language: that there is news and where to
        see it, never health data (no diagnosis, no task title, no CPR number). Refused (cancelled by the
        outbox) when the relative's consent no longer covers it."""
        if self.is_child:
            raise MessageNotWanted("a child relative gets no messages of their own")
        if row.kind != NotificationKind.CONSENT_REVOKED:
            scope = consent_scope(self, self.latest_consent(), timezone.localdate())
            if scope not in MESSAGE_SCOPES.get(row.kind, WHOLE_PLAN_ONLY):
                raise MessageNotWanted("the relative's consent no longer covers this message")
        language = self.language if self.language in dict(settings.LANGUAGES) else "da"
        with override(language):
            # --- consent: the wording per kind (relatives.services raises the kinds) ---
            words = self._message_words(row)
            subject = _("News from Fælles forløb")
            if row.kind == NotificationKind.APPOINTMENT_REMINDER:
                reminder = _(
                    "Hello. %(name)s has an appointment in 2 days. See when and where at %(portal)s."
                )
                body = reminder % words
            elif row.kind in (NotificationKind.QUESTIONNAIRE_SENT, NotificationKind.QUESTIONNAIRE_REMINDER):
                subject = _("A few questions about how you are")
                asked = _(
                    "Hello. We would like to know how you are as a relative. Please answer a few short "
                    "questions at %(portal)s. It takes about 2 minutes."
                )
                body = asked % words
            elif row.kind == NotificationKind.CONSENT_REVOKED:
                subject = _("You no longer follow a plan in Fælles forløb")
                ended = _(
                    "Hello. You no longer have access to the plan for %(name)s in Fælles forløb. "
                    "You will get no more messages about it."
                )
                body = ended % words
            else:
                body = _("Hello. There is news in the plan you follow. See it at %(portal)s.") % words
            return str(subject), str(body)

    def _message_words(self, row: Notification) -> dict[str, str]:
        """What a relative's message names: the patient by first name only (the patient has let the
        relative follow the plan, and a relative of two people must know whose it is) and the portal."""
        given = row.plan.patient.given_name.split()
        return {
            "name": given[0] if given else str(_("the person you are a relative of")),
            "portal": settings.SITE_URL.rstrip("/") + settings.PORTAL_PATH,
        }

    def letter_addressee(self, addressee: type[Any]) -> Any:
        """How a letter to the relative is addressed (pathways.outbox.Addressee, passed in by the hub)."""
        lines = [line.strip() for line in self.address.split(",") if line.strip()]
        return addressee(
            name=self.name,
            lines=lines,
            greeting_name=self.name.split()[0],
            language=self.language,
            is_patient=False,
        )

    def letter_paragraphs(self, row: Notification) -> list[str]:
        """A letter to the relative (pathways.outbox.letter_paragraphs asks it), in plain language and
        their language. A letter is read at home later, so it names the day of an appointment."""
        language = self.language if self.language in dict(settings.LANGUAGES) else "da"
        with override(language):
            words = self._message_words(row)
            task = row.task
            day = (task.window_start or task.due_date) if task is not None else None
            if self.is_child:  # never written (children get nothing of their own); nothing named if it were
                return [str(_("There is news in Fælles forløb."))]
            if row.kind == NotificationKind.CONSENT_REVOKED:
                return [
                    str(_("You no longer have access to the plan for %(name)s in Fælles forløb.") % words),
                    str(_("You will get no more letters about it.")),
                ]
            if row.kind in (NotificationKind.QUESTIONNAIRE_SENT, NotificationKind.QUESTIONNAIRE_REMINDER):
                first = str(_("We would like to know how you are as a relative."))
                second = str(_("You can answer a few short questions at %(portal)s.") % words)
            elif row.kind == NotificationKind.APPOINTMENT_REMINDER and day is not None:
                day_words = words | {"day": date_format(day, "j. F Y")}
                first = str(_("%(name)s has an appointment on %(day)s.") % day_words)
                second = str(_("You can see when and where at %(portal)s.") % words)
            else:
                first = str(_("There is news in the plan you follow."))
                second = str(_("You can see it at %(portal)s.") % words)
            paragraphs = [first, second]
            phone = row.plan.coordinator_phone
            if phone:
                paragraphs.append(
                    str(_("If you have questions, call the coordinator on %(phone)s.") % {"phone": phone})
                )
            return paragraphs

    @property
    def language_display(self) -> str:
        """The language's name in the current UI language; the code itself if Django does not know it."""
        try:
            return str(get_language_info(self.language)["name_translated"])
        except KeyError:
            return self.language


@audited()
class RelativeConsent(models.Model):
    """One decision about a relative, shaped like FHIR Consent (scope patient-privacy): whether they are
    involved and what they may see, how it was given, by whom and who recorded it, until when. Decisions are
    never changed (a trigger refuses UPDATE): the relative's latest decision is the one that counts, the
    earlier ones are its history.

    A patient who cannot consent is a distinct case: decided by a representative, with the legal basis, the
    representative's name and whether the loss of capacity is temporary (then an end date is required)."""

    public_id = models.UUIDField(default=uuid4, unique=True, editable=False)
    plan = models.ForeignKey(PathwayPlan, on_delete=models.CASCADE, related_name="relative_consents")
    relative = models.ForeignKey(
        Relative, verbose_name=_("relative"), on_delete=models.CASCADE, related_name="consents"
    )
    action = models.CharField(_("decision"), max_length=16, choices=ConsentAction.choices)
    scope = models.CharField(_("may see"), max_length=16, choices=ConsentScope.choices)
    method = models.CharField(_("given"), max_length=16, choices=ConsentMethod.choices)
    decided_by = models.CharField(
        _("decided by"), max_length=16, choices=ConsentDecider.choices, default=ConsentDecider.PATIENT
    )
    # NHS proxy-access guidance: before a relative is given access, check that the patient is not pressured.
    coercion_checked = models.BooleanField(_("checked for pressure"), default=False)
    coercion_note = models.TextField(_("about the check for pressure"), blank=True, max_length=1000)
    # When decided by a representative (the patient cannot consent):
    capacity_note = models.TextField(_("why the patient cannot consent"), blank=True, max_length=1000)
    capacity_loss = models.CharField(
        _("loss of capacity"), max_length=16, choices=CapacityLoss.choices, blank=True
    )
    representative_name = models.CharField(_("acting for the patient"), max_length=200, blank=True)
    representative_basis = models.CharField(
        _("legal basis"), max_length=20, choices=RepresentativeBasis.choices, blank=True
    )
    valid_from = models.DateField(_("valid from"), default=timezone.localdate)
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    note = models.TextField(_("note"), blank=True, max_length=2000)
    recorded_by = models.ForeignKey(
        User, verbose_name=_("recorded by"), on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    recorded_by_organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("recorded by organisation"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    recorded_at = models.DateTimeField(_("recorded"), default=timezone.now)

    class Meta:
        verbose_name = _("consent decision")
        verbose_name_plural = _("consent decisions")
        ordering = ["-recorded_at", "-id"]
        constraints = [
            choices_check("action", ConsentAction, "relativeconsent_action_valid"),
            choices_check("scope", ConsentScope, "relativeconsent_scope_valid"),
            choices_check("method", ConsentMethod, "relativeconsent_method_valid"),
            choices_check("decided_by", ConsentDecider, "relativeconsent_decider_valid"),
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True) | Q(valid_until__gte=F("valid_from")),
                name="relativeconsent_dates_in_order",
            ),
            # A representative's decision names who, on what basis, and why the patient cannot decide.
            models.CheckConstraint(
                condition=Q(
                    decided_by=ConsentDecider.PATIENT, representative_name="", representative_basis=""
                )
                | (
                    Q(decided_by=ConsentDecider.REPRESENTATIVE)
                    & ~Q(representative_name="")
                    & ~Q(representative_basis="")
                    & ~Q(capacity_loss="")
                    & ~Q(capacity_note="")
                ),
                name="relativeconsent_representative_complete",
            ),
            # A temporary loss of capacity: the representative's decision ends.
            models.CheckConstraint(
                condition=~Q(capacity_loss=CapacityLoss.TEMPORARY) | Q(valid_until__isnull=False),
                name="relativeconsent_temporary_has_end",
            ),
            # Involving a relative is recorded with the check for pressure.
            models.CheckConstraint(
                condition=Q(scope=ConsentScope.NONE) | Q(coercion_checked=True),
                name="relativeconsent_involvement_checked",
            ),
        ]
        indexes = [
            models.Index(fields=["relative", "-recorded_at", "-id"], name="relativeconsent_latest_idx")
        ]
        triggers = [pgtrigger.Protect(name="relativeconsent_never_changed", operation=pgtrigger.Update)]

    def __str__(self) -> str:
        # Named from its own columns only (the plan's history names it from the audit trail's snapshot).
        return f"{self.get_action_display()}: {self.get_scope_display()}"


# --- Children as relatives ---------------------------------------------------------------------------------


@audited()
class ChildChecklistItem(models.Model):
    """One step of the checklist staff work through for a child relative (made when the child is recorded,
    one row per ChildCareStep)."""

    public_id = models.UUIDField(default=uuid4, unique=True, editable=False)
    plan = models.ForeignKey(PathwayPlan, on_delete=models.CASCADE, related_name="child_checklist_items")
    relative = models.ForeignKey(
        Relative, verbose_name=_("relative"), on_delete=models.CASCADE, related_name="checklist_items"
    )
    step = models.CharField(_("step"), max_length=16, choices=ChildCareStep.choices)
    status = models.CharField(
        _("status"), max_length=16, choices=ChecklistStatus.choices, default=ChecklistStatus.OPEN
    )
    # NAMED_CONTACT: who the child's contact person is; SCHOOL: that consent to inform was given.
    contact_name = models.CharField(_("contact person"), max_length=200, blank=True)
    consent_confirmed = models.BooleanField(_("consent to inform was given"), default=False)
    note = models.TextField(_("note"), blank=True, max_length=1000)
    done_by = models.ForeignKey(
        User, verbose_name=_("done by"), on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    done_at = models.DateTimeField(_("done"), null=True, blank=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        verbose_name = _("child checklist item")
        verbose_name_plural = _("child checklist items")
        ordering = ["relative_id", "id"]
        constraints = [
            choices_check("step", ChildCareStep, "childchecklistitem_step_valid"),
            choices_check("status", ChecklistStatus, "childchecklistitem_status_valid"),
            models.UniqueConstraint(fields=["relative", "step"], name="childchecklistitem_one_per_step"),
            models.CheckConstraint(
                condition=~Q(step=ChildCareStep.SCHOOL, status=ChecklistStatus.DONE)
                | Q(consent_confirmed=True),
                name="childchecklistitem_school_needs_consent",
            ),
            models.CheckConstraint(
                condition=~Q(step=ChildCareStep.NAMED_CONTACT, status=ChecklistStatus.DONE)
                | ~Q(contact_name=""),
                name="childchecklistitem_contact_named",
            ),
        ]
        indexes = [
            models.Index(
                fields=["plan"], condition=Q(status=ChecklistStatus.OPEN), name="childchecklist_open_plan_idx"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_step_display()} ({self.get_status_display()})"


# --- The relative's own support record (not the patient's data) ------------------------------------------


class StrainInstrument(models.Model):
    """A screening instrument for relatives' burden, as data (the Caregiver Strain Index ships; another can
    be configured in the admin): its items, how many "yes" count as high strain, and its attribution."""

    key = models.SlugField(_("key"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=200)
    introduction = models.TextField(_("introduction"), blank=True)
    attribution = models.TextField(_("attribution"))
    high_strain_from = models.PositiveSmallIntegerField(_("high strain from score"))
    is_active = models.BooleanField(_("in use"), default=True)

    class Meta:
        verbose_name = _("strain instrument")
        verbose_name_plural = _("strain instruments")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class StrainItem(models.Model):
    """One yes/no item of an instrument ("yes" scores 1). Texts in Danish and English."""

    instrument = models.ForeignKey(StrainInstrument, on_delete=models.CASCADE, related_name="items")
    key = models.SlugField(_("key"), max_length=40)
    position = models.PositiveSmallIntegerField(_("position"))
    text_da = models.TextField(_("text (Danish)"))
    text_en = models.TextField(_("text (English)"))

    class Meta:
        verbose_name = _("strain item")
        verbose_name_plural = _("strain items")
        ordering = ["instrument_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["instrument", "key"], name="strainitem_key_unique"),
            models.UniqueConstraint(fields=["instrument", "position"], name="strainitem_position_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.text_da[:60]}"

    @property
    def text(self) -> str:
        from django.utils.translation import get_language

        return self.text_en if (get_language() or "da").startswith("en") else self.text_da


@audited()
class StrainScreening(models.Model):
    """A relative's answers to a strain instrument, with the score derived when it was recorded (the items'
    "yes" answers) and whether it is high strain by the instrument's threshold then."""

    # The relative's own words stay out of the admin's audit trail (read on the logged support page).
    history_hidden_fields = ("answers", "note")

    public_id = models.UUIDField(default=uuid4, unique=True, editable=False)
    plan = models.ForeignKey(PathwayPlan, on_delete=models.CASCADE, related_name="+")
    relative = models.ForeignKey(Relative, on_delete=models.CASCADE, related_name="strain_screenings")
    instrument = models.ForeignKey(
        StrainInstrument, verbose_name=_("instrument"), on_delete=models.PROTECT, related_name="+"
    )
    answers = models.JSONField(_("answers"), default=dict)  # {item key: true/false}
    score = models.PositiveSmallIntegerField(_("score"))
    max_score = models.PositiveSmallIntegerField(_("highest possible score"))
    high_strain = models.BooleanField(_("high strain"))
    screened_on = models.DateField(_("screened on"), default=timezone.localdate)
    note = models.TextField(_("note"), blank=True, max_length=2000)
    screened_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    screened_by_organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("strain screening")
        verbose_name_plural = _("strain screenings")
        ordering = ["-screened_on", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(score__lte=F("max_score")), name="strainscreening_score_in_range"
            )
        ]

    def __str__(self) -> str:
        return f"{self.score}/{self.max_score}"


@audited()
class RelativeNeed(models.Model):
    """A need in the relative's own words."""

    # The relative's own words stay out of the admin's audit trail (read on the logged support page).
    history_hidden_fields = ("text",)

    public_id = models.UUIDField(default=uuid4, unique=True, editable=False)
    plan = models.ForeignKey(PathwayPlan, on_delete=models.CASCADE, related_name="+")
    relative = models.ForeignKey(Relative, on_delete=models.CASCADE, related_name="needs")
    text = models.TextField(_("in the relative's own words"), max_length=2000)
    recorded_on = models.DateField(_("recorded on"), default=timezone.localdate)
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    met_at = models.DateTimeField(_("met"), null=True, blank=True)

    class Meta:
        verbose_name = _("relative's need")
        verbose_name_plural = _("relative's needs")
        ordering = ["-recorded_on", "-id"]
        constraints = [models.CheckConstraint(condition=~Q(text=""), name="relativeneed_text_required")]

    def __str__(self) -> str:
        return self.text[:60]


class SupportOffer(models.Model):
    """A support offer for relatives (the catalogue, edited in the admin): the municipality's relatives'
    conversations, respite care, courses, a named relatives' guide, patient associations."""

    public_id = models.UUIDField(default=uuid4, unique=True, editable=False)
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=16, choices=OfferKind.choices)
    organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("offered by"),
        on_delete=models.PROTECT,
        related_name="relative_support_offers",
        help_text=_("Its staff see the support record of the relatives referred to it."),
    )
    contact_name = models.CharField(
        _("contact person"), max_length=200, blank=True, help_text=_("For a relatives' guide: their name.")
    )
    phone = NumericTextField(_("phone"), max_length=30, blank=True, validators=[validate_phone])
    description = models.TextField(_("description"), blank=True, max_length=2000)
    is_active = models.BooleanField(_("offered now"), default=True)

    class Meta:
        verbose_name = _("support offer")
        verbose_name_plural = _("support offers")
        ordering = ["name"]
        constraints = [choices_check("kind", OfferKind, "supportoffer_kind_valid")]

    def __str__(self) -> str:
        return self.name


@audited()
class SupportReferral(models.Model):
    """A referral of the relative to a support offer: its status, who in which organisation is responsible
    and the next follow-up date (a reminder goes to the responsible person, else the organisation's
    coordinators, at 08:00 that day)."""

    # The relative's own words stay out of the admin's audit trail (read on the logged support page).
    history_hidden_fields = ("note",)

    public_id = models.UUIDField(default=uuid4, unique=True, editable=False)
    plan = models.ForeignKey(PathwayPlan, on_delete=models.CASCADE, related_name="+")
    relative = models.ForeignKey(Relative, on_delete=models.CASCADE, related_name="referrals")
    offer = models.ForeignKey(
        SupportOffer, verbose_name=_("offer"), on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(
        _("status"), max_length=16, choices=ReferralStatus.choices, default=ReferralStatus.REFERRED
    )
    responsible_organisation = models.ForeignKey(
        Organisation, verbose_name=_("responsible organisation"), on_delete=models.PROTECT, related_name="+"
    )
    responsible_person = models.ForeignKey(
        User,
        verbose_name=_("responsible person"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    follow_up_date = models.DateField(_("follow up on"), null=True, blank=True)
    note = models.TextField(_("note"), blank=True, max_length=2000)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        verbose_name = _("referral to support")
        verbose_name_plural = _("referrals to support")
        ordering = ["-created_at", "-id"]
        constraints = [choices_check("status", ReferralStatus, "supportreferral_status_valid")]
        indexes = [
            models.Index(
                fields=["follow_up_date"],
                condition=Q(status__in=["proposed", "referred", "started"]),
                name="supportreferral_follow_up_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_status_display()}"
