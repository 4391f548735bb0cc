"""Quality's data: questionnaires as data (FHIR Questionnaire), when they are sent (a schedule per pathway
template), each one sent to one person (a request), the answers (FHIR QuestionnaireResponse) with their
score derived when they were given; the indicators across sectors as data, their summary table refreshed by
a worker, and the optional, separately protected social background used only for anonymised statistics.

Whose data. A patient's responses belong to the plan: every participating sector sees the wellbeing trend,
and each response opened is a logged read. A relative's responses are the relative's own data (like the
strain screening in relatives): only those who may see the relative's support record see them. The social
background is never shown with a patient's identity: only the summary refresh reads it, and the dashboard
shows it in anonymised cells, small ones suppressed (quality.suppression).

Invariants live here as constraints; writes go through quality.services, reads through quality.access and
quality.selectors.
"""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from pathways.models import Organisation, PathwayPlan, PathwayTemplate, Patient, User, audited, choices_check
from quality.choices import (
    AgeBand,
    BandTone,
    Direction,
    EducationBand,
    EmploymentStatus,
    IncomeBand,
    LegalBasis,
    Measure,
    Milestone,
    Outcome,
    Period,
    Population,
    QuestionnaireStatus,
    RefreshState,
    ReportingUnit,
    RequestState,
    Respondent,
    ResponseSource,
    ResponseStatus,
    Sex,
    TotalGrain,
)
from relatives.models import Relative


def _in_language(danish: str, english: str) -> str:
    return english if (get_language() or "da").startswith("en") and english else danish


# --- questionnaires ---------------------------------------------------------------------------------------


class Questionnaire(models.Model):
    """An instrument as data (FHIR Questionnaire): its items, one answer scale shared by the items (each
    option's value is its score), how the score is made (sum × `score_multiplier`: WHO-5 gives 0–25 × 4 =
    0–100) and when it flags the plan for the coordinator. WHO-5 and the Caregiver Strain Index ship
    (quality.instruments); an administrator can add others."""

    key = models.SlugField(_("key"), max_length=40, unique=True)
    version = models.CharField(_("version"), max_length=20, default="1")
    status = models.CharField(
        _("status"), max_length=16, choices=QuestionnaireStatus.choices, default=QuestionnaireStatus.ACTIVE
    )
    name = models.CharField(_("name"), max_length=200)
    title_da = models.CharField(_("title (Danish)"), max_length=200)
    title_en = models.CharField(_("title (English)"), max_length=200)
    introduction_da = models.TextField(_("introduction (Danish)"), blank=True)
    introduction_en = models.TextField(_("introduction (English)"), blank=True)
    # FHIR Questionnaire.copyright: the instrument's origin and licence, shown wherever it is asked.
    attribution = models.TextField(_("attribution"))
    code_system = models.CharField(_("code system"), max_length=200, blank=True)
    code = models.CharField(_("code"), max_length=40, blank=True)
    respondents = ArrayField(
        models.CharField(max_length=16, choices=Respondent.choices), verbose_name=_("who answers it")
    )
    score_multiplier = models.PositiveSmallIntegerField(_("score multiplier"), default=1)
    higher_is_better = models.BooleanField(_("a higher score is better"), default=True)
    # A response flags the plan for the coordinator ("not a diagnosis") when its score is at or below /
    # at or above these, or any item's answer is at or below `flag_item_at_most`. Empty: no such rule.
    flag_score_at_most = models.PositiveSmallIntegerField(
        _("flag a score at or below"), null=True, blank=True
    )
    flag_score_at_least = models.PositiveSmallIntegerField(
        _("flag a score at or above"), null=True, blank=True
    )
    flag_item_at_most = models.PositiveSmallIntegerField(
        _("flag any answer at or below"), null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("questionnaire")
        verbose_name_plural = _("questionnaires")
        ordering = ["name"]
        constraints = [choices_check("status", QuestionnaireStatus, "questionnaire_status_valid")]
        permissions = [("enter_response", _("Can enter a response on a person's behalf"))]

    def __str__(self) -> str:
        return self.name

    @property
    def title(self) -> str:
        return _in_language(self.title_da, self.title_en)

    @property
    def introduction(self) -> str:
        return _in_language(self.introduction_da, self.introduction_en)


class QuestionnaireItem(models.Model):
    """One question (FHIR Questionnaire.item, type choice), answered on the questionnaire's scale."""

    questionnaire = models.ForeignKey(Questionnaire, on_delete=models.CASCADE, related_name="items")
    link_id = models.SlugField(_("link id"), max_length=40)
    position = models.PositiveSmallIntegerField(_("position"))
    text_da = models.TextField(_("text (Danish)"))
    text_en = models.TextField(_("text (English)"))

    class Meta:
        verbose_name = _("question")
        verbose_name_plural = _("questions")
        ordering = ["questionnaire_id", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["questionnaire", "link_id"], name="questionnaireitem_link_unique"
            ),
            models.UniqueConstraint(
                fields=["questionnaire", "position"], name="questionnaireitem_position_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.text_da[:60]}"

    @property
    def text(self) -> str:
        return _in_language(self.text_da, self.text_en)


class AnswerOption(models.Model):
    """One answer on the questionnaire's scale (FHIR answerOption valueCoding with its ordinal value):
    "Hele tiden" = 5 … "På intet tidspunkt" = 0; "Ja" = 1, "Nej" = 0."""

    questionnaire = models.ForeignKey(Questionnaire, on_delete=models.CASCADE, related_name="options")
    position = models.PositiveSmallIntegerField(_("position"))
    value = models.PositiveSmallIntegerField(_("value"))
    text_da = models.CharField(_("text (Danish)"), max_length=100)
    text_en = models.CharField(_("text (English)"), max_length=100)

    class Meta:
        verbose_name = _("answer option")
        verbose_name_plural = _("answer options")
        ordering = ["questionnaire_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["questionnaire", "value"], name="answeroption_value_unique"),
            models.UniqueConstraint(
                fields=["questionnaire", "position"], name="answeroption_position_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.text_da} ({self.value})"

    @property
    def text(self) -> str:
        return _in_language(self.text_da, self.text_en)


class ScoreBand(models.Model):
    """A band of the (multiplied) score with the words shown for it: WHO-5 ≤ 28 low, 29–50 reduced,
    > 50 no sign of reduced wellbeing (STANDARDS.md §4.1); always with "not a diagnosis"."""

    questionnaire = models.ForeignKey(Questionnaire, on_delete=models.CASCADE, related_name="bands")
    lowest = models.PositiveSmallIntegerField(_("from score"))
    highest = models.PositiveSmallIntegerField(_("to score"))
    label_da = models.CharField(_("label (Danish)"), max_length=100)
    label_en = models.CharField(_("label (English)"), max_length=100)
    tone = models.CharField(_("shown as"), max_length=16, choices=BandTone.choices)

    class Meta:
        verbose_name = _("score band")
        verbose_name_plural = _("score bands")
        ordering = ["questionnaire_id", "lowest"]
        constraints = [
            models.CheckConstraint(condition=Q(lowest__lte=F("highest")), name="scoreband_range_valid"),
            choices_check("tone", BandTone, "scoreband_tone_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.lowest}–{self.highest}: {self.label_da}"

    @property
    def label(self) -> str:
        return _in_language(self.label_da, self.label_en)


class QuestionnaireSchedule(models.Model):
    """When a questionnaire is sent, as data per pathway template (no template: every plan): at the plan's
    start, `offset_days` after each discharge home, or every `every_months` months from the start; open
    for `window_days`, with reminders `reminder_days` after it opened (by each person's channel)."""

    questionnaire = models.ForeignKey(
        Questionnaire, verbose_name=_("questionnaire"), on_delete=models.PROTECT, related_name="schedules"
    )
    template = models.ForeignKey(
        PathwayTemplate,
        verbose_name=_("pathway template"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Empty: every plan."),
    )
    respondent = models.CharField(_("who answers"), max_length=16, choices=Respondent.choices)
    milestone = models.CharField(_("when"), max_length=32, choices=Milestone.choices)
    offset_days = models.PositiveSmallIntegerField(_("days after the milestone"), default=0)
    every_months = models.PositiveSmallIntegerField(_("every … months"), null=True, blank=True)
    window_days = models.PositiveSmallIntegerField(_("days to answer"), default=14)
    reminder_days = ArrayField(
        models.PositiveSmallIntegerField(),
        verbose_name=_("reminders, days after sending"),
        default=list,
        blank=True,
    )
    is_active = models.BooleanField(_("in use"), default=True)

    class Meta:
        verbose_name = _("questionnaire schedule")
        verbose_name_plural = _("questionnaire schedules")
        ordering = ["questionnaire_id", "milestone", "offset_days"]
        constraints = [
            choices_check("respondent", Respondent, "questionnaireschedule_respondent_valid"),
            choices_check("milestone", Milestone, "questionnaireschedule_milestone_valid"),
            models.CheckConstraint(
                condition=Q(milestone=Milestone.EVERY_MONTHS, every_months__gte=1)
                | (~Q(milestone=Milestone.EVERY_MONTHS) & Q(every_months__isnull=True)),
                name="questionnaireschedule_every_months_iff_repeating",
            ),
            models.CheckConstraint(
                condition=Q(window_days__gte=1), name="questionnaireschedule_window_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.questionnaire}: {self.get_milestone_display()} +{self.offset_days}"


class QuestionnaireRequestQuerySet(models.QuerySet["QuestionnaireRequest"]):
    def open(self) -> QuestionnaireRequestQuerySet:
        return self.filter(state=RequestState.OPEN)


class QuestionnaireRequest(models.Model):
    """One questionnaire sent to one person (the patient, or a relative: `relative`) at one milestone of one
    plan. Written by the schedule job (or by staff) in the transaction that also writes the outbox rows that
    tell the person and remind them (`reminder_keys`: the outbox rows' dedupe keys, cancelled in the
    transaction that answers, expires or cancels it). `occurrence` names the milestone ("start",
    "discharge:<stay id>", "every:<n>") so the job asks once per milestone, however often it runs."""

    public_id = models.UUIDField(default=uuid4, unique=True, editable=False)
    plan = models.ForeignKey(PathwayPlan, on_delete=models.CASCADE, related_name="+")
    questionnaire = models.ForeignKey(
        Questionnaire, verbose_name=_("questionnaire"), on_delete=models.PROTECT, related_name="requests"
    )
    schedule = models.ForeignKey(
        QuestionnaireSchedule, on_delete=models.SET_NULL, null=True, blank=True, related_name="requests"
    )
    relative = models.ForeignKey(
        Relative, on_delete=models.CASCADE, null=True, blank=True, related_name="questionnaire_requests"
    )
    occurrence = models.CharField(max_length=64)
    opens_on = models.DateField(_("sent"))
    expires_on = models.DateField(_("answer by"))
    state = models.CharField(
        _("status"), max_length=16, choices=RequestState.choices, default=RequestState.OPEN
    )
    reminder_keys = ArrayField(models.CharField(max_length=255), default=list, blank=True, editable=False)
    asked_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)

    objects = QuestionnaireRequestQuerySet.as_manager()

    class Meta:
        verbose_name = _("questionnaire sent")
        verbose_name_plural = _("questionnaires sent")
        ordering = ["-opens_on", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["plan", "questionnaire", "relative", "occurrence"],
                nulls_distinct=False,
                name="questionnairerequest_once_per_occurrence",
            ),
            models.CheckConstraint(
                condition=Q(expires_on__gte=F("opens_on")), name="questionnairerequest_window_valid"
            ),
            choices_check("state", RequestState, "questionnairerequest_state_valid"),
            models.CheckConstraint(
                condition=Q(state=RequestState.OPEN, closed_at__isnull=True)
                | (~Q(state=RequestState.OPEN) & Q(closed_at__isnull=False)),
                name="questionnairerequest_closed_iff_not_open",
            ),
        ]
        indexes = [
            models.Index(fields=["plan", "state"], name="qrequest_plan_state_idx"),
            models.Index(fields=["expires_on"], condition=Q(state="open"), name="qrequest_open_expiry_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.questionnaire} ({self.opens_on})"


class QuestionnaireResponseQuerySet(models.QuerySet["QuestionnaireResponse"]):
    def completed(self) -> QuestionnaireResponseQuerySet:
        return self.filter(status=ResponseStatus.COMPLETED)


@audited()
class QuestionnaireResponse(models.Model):
    """A person's answers (FHIR QuestionnaireResponse) with the score derived when they were given: the raw
    sum, the score (× the multiplier), the band's words and tone, and whether it flags the plan (with the
    questions whose answer was at or below the item rule). Who put them in: the person in the portal, or
    staff (`source`, `entered_by`). The patient's own when `relative` is empty."""

    # The answers stay out of the admin's audit trail (they are read on the logged response page).
    history_hidden_fields = ("answers",)

    public_id = models.UUIDField(default=uuid4, unique=True, editable=False)
    plan = models.ForeignKey(PathwayPlan, on_delete=models.CASCADE, related_name="+")
    questionnaire = models.ForeignKey(
        Questionnaire, verbose_name=_("questionnaire"), on_delete=models.PROTECT, related_name="responses"
    )
    request = models.OneToOneField(
        QuestionnaireRequest, on_delete=models.SET_NULL, null=True, blank=True, related_name="response"
    )
    relative = models.ForeignKey(
        Relative, on_delete=models.CASCADE, null=True, blank=True, related_name="questionnaire_responses"
    )
    answers = models.JSONField(_("answers"), default=dict)  # {link id: option value}
    raw_score = models.PositiveSmallIntegerField(_("raw score"))
    score = models.PositiveSmallIntegerField(_("score"))
    max_score = models.PositiveSmallIntegerField(_("highest possible score"))
    band_label = models.CharField(_("band"), max_length=100, blank=True)
    band_tone = models.CharField(_("shown as"), max_length=16, choices=BandTone.choices, blank=True)
    flagged = models.BooleanField(_("flagged for the coordinator"), default=False)
    low_items = ArrayField(models.CharField(max_length=40), default=list, blank=True)
    source = models.CharField(_("answered how"), max_length=16, choices=ResponseSource.choices)
    entered_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    entered_by_organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    answered_on = models.DateField(_("answered on"), default=timezone.localdate)
    status = models.CharField(
        _("status"), max_length=16, choices=ResponseStatus.choices, default=ResponseStatus.COMPLETED
    )
    flag_seen_at = models.DateTimeField(_("flag seen"), null=True, blank=True)
    flag_seen_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    version = models.PositiveIntegerField(default=1)

    objects = QuestionnaireResponseQuerySet.as_manager()

    class Meta:
        verbose_name = _("questionnaire response")
        verbose_name_plural = _("questionnaire responses")
        ordering = ["-answered_on", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(score__lte=F("max_score")), name="qresponse_score_in_range"),
            choices_check("source", ResponseSource, "qresponse_source_valid"),
            choices_check("status", ResponseStatus, "qresponse_status_valid"),
            # Staff who enter a response are named; a portal answer has no staff author.
            models.CheckConstraint(
                condition=Q(source=ResponseSource.PORTAL, entered_by__isnull=True)
                | (~Q(source=ResponseSource.PORTAL) & Q(entered_by__isnull=False)),
                name="qresponse_staff_entry_named",
            ),
        ]
        indexes = [
            models.Index(fields=["plan", "questionnaire", "-answered_on"], name="qresponse_plan_trend_idx"),
            models.Index(
                fields=["plan"],
                condition=Q(flagged=True, flag_seen_at__isnull=True),
                name="qresponse_flag_idx",
            ),
        ]

    def __str__(self) -> str:
        # No relation: the audit trail renders snapshots without them.
        return f"{self.score}/{self.max_score} ({self.answered_on})"


# --- indicators across sectors ----------------------------------------------------------------------------


class Indicator(models.Model):
    """An indicator as data, reported RKKP style (STANDARDS.md §5.6): the denominator (`population`), the
    numerator (`outcome`, with `parameters` such as {"hours": 24, "task_kind": "home_visit", "sector":
    "municipality"}), what is left out (`exclusions`), the standard with its direction, the reporting period
    and whose result a unit counts towards. quality.indicators turns the rules into queries."""

    key = models.SlugField(_("key"), max_length=60, unique=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    name_da = models.CharField(_("name (Danish)"), max_length=200)
    name_en = models.CharField(_("name (English)"), max_length=200)
    description_da = models.TextField(_("description (Danish)"), blank=True)
    description_en = models.TextField(_("description (English)"), blank=True)
    measure = models.CharField(
        _("measure"), max_length=16, choices=Measure.choices, default=Measure.PROPORTION
    )
    population = models.CharField(_("denominator"), max_length=40, choices=Population.choices)
    outcome = models.CharField(_("numerator"), max_length=40, choices=Outcome.choices)
    exclusions = ArrayField(
        models.CharField(max_length=32), verbose_name=_("exclusions"), default=list, blank=True
    )
    parameters = models.JSONField(_("parameters"), default=dict, blank=True)
    standard = models.DecimalField(_("standard"), max_digits=5, decimal_places=1)
    direction = models.CharField(_("standard is"), max_length=16, choices=Direction.choices)
    period = models.CharField(
        _("reporting period"), max_length=16, choices=Period.choices, default=Period.QUARTER
    )
    reporting_unit = models.CharField(_("reported for"), max_length=32, choices=ReportingUnit.choices)
    is_active = models.BooleanField(_("shown"), default=True)

    class Meta:
        verbose_name = _("indicator")
        verbose_name_plural = _("indicators")
        ordering = ["position", "key"]
        constraints = [
            choices_check("measure", Measure, "indicator_measure_valid"),
            choices_check("population", Population, "indicator_population_valid"),
            choices_check("outcome", Outcome, "indicator_outcome_valid"),
            choices_check("direction", Direction, "indicator_direction_valid"),
            choices_check("period", Period, "indicator_period_valid"),
            choices_check("reporting_unit", ReportingUnit, "indicator_unit_valid"),
        ]
        permissions = [("view_dashboard", _("Can see the quality dashboard (anonymised numbers)"))]

    def __str__(self) -> str:
        return self.name_da

    @property
    def name(self) -> str:
        return _in_language(self.name_da, self.name_en)

    @property
    def description(self) -> str:
        return _in_language(self.description_da, self.description_en)


class IndicatorCell(models.Model):
    """The summary table: one row per indicator × month × reporting organisation × breakdown values, with
    the counts the dashboard adds up (denominator, numerator, missing; for a mean, the sum and the sum of
    squares of the score). Rebuilt by the refresh job; never holds a patient's identity."""

    indicator = models.ForeignKey(Indicator, on_delete=models.CASCADE, related_name="cells")
    month = models.DateField()  # the first day of the month the unit belongs to
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, null=True, related_name="+")
    sector = models.CharField(max_length=32, blank=True)
    municipality = models.CharField(max_length=3, blank=True)
    sex = models.CharField(max_length=8, choices=Sex.choices, blank=True)
    age_band = models.CharField(max_length=8, choices=AgeBand.choices, blank=True)
    education = models.CharField(max_length=16, choices=EducationBand.choices, blank=True)
    employment = models.CharField(max_length=16, choices=EmploymentStatus.choices, blank=True)
    income = models.CharField(max_length=8, choices=IncomeBand.choices, blank=True)
    denominator = models.PositiveIntegerField(default=0)
    numerator = models.PositiveIntegerField(default=0)
    missing = models.PositiveIntegerField(default=0)
    value_sum = models.FloatField(default=0)
    value_sumsq = models.FloatField(default=0)

    class Meta:
        verbose_name = _("indicator summary row")
        verbose_name_plural = _("indicator summary rows")
        constraints = [
            models.CheckConstraint(
                condition=Q(numerator__lte=F("denominator")), name="indicatorcell_counts_valid"
            )
        ]
        indexes = [models.Index(fields=["indicator", "month"], name="indicatorcell_month_idx")]

    def __str__(self) -> str:
        return f"{self.indicator_id} {self.month:%Y-%m}: {self.numerator}/{self.denominator}"


class IndicatorTotal(models.Model):
    """The summary one level up: an indicator's cells added up over the patients' groups (sex, age,
    education, employment, income), per month and per reporting organisation with its sector (`grain`
    organisation) or per home municipality (`grain` municipality). The refresh writes them with the cells,
    in the same transaction. The dashboard's cards, series, funnels and filter checks read them: the cells
    grow towards one per combination of groups as the patients grow, these only with the organisations and
    municipalities, so the dashboard costs the same at 12,000 patients as at 1.2 million. A breakdown by a
    group, and a municipality chosen together with a sector or an organisation, read the cells."""

    indicator = models.ForeignKey(Indicator, on_delete=models.CASCADE, related_name="totals")
    grain = models.CharField(max_length=16, choices=TotalGrain.choices)
    month = models.DateField()
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, null=True, related_name="+")
    sector = models.CharField(max_length=32, blank=True)
    municipality = models.CharField(max_length=3, blank=True)
    denominator = models.PositiveIntegerField(default=0)
    numerator = models.PositiveIntegerField(default=0)
    missing = models.PositiveIntegerField(default=0)
    value_sum = models.FloatField(default=0)
    value_sumsq = models.FloatField(default=0)

    class Meta:
        verbose_name = _("indicator total")
        verbose_name_plural = _("indicator totals")
        constraints = [
            choices_check("grain", TotalGrain, "indicatortotal_grain_valid"),
            models.CheckConstraint(
                condition=Q(numerator__lte=F("denominator")), name="indicatortotal_counts_valid"
            ),
        ]
        indexes = [models.Index(fields=["grain", "month", "indicator"], name="indicatortotal_month_idx")]

    def __str__(self) -> str:
        return f"{self.indicator_id} {self.grain} {self.month:%Y-%m}: {self.numerator}/{self.denominator}"


class IndicatorRefresh(models.Model):
    """One run of the summary refresh (a Celery job): who asked, its progress and when it finished. The job
    claims the row atomically; a dead worker's run is taken over by the sweep after its lease."""

    public_id = models.UUIDField(default=uuid4, unique=True, editable=False)
    requested_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    state = models.CharField(
        _("status"), max_length=16, choices=RefreshState.choices, default=RefreshState.QUEUED
    )
    progress = models.PositiveSmallIntegerField(_("progress %"), default=0)
    step = models.CharField(_("now doing"), max_length=200, blank=True)
    rows = models.PositiveIntegerField(_("summary rows"), default=0)
    attempts = models.PositiveSmallIntegerField(default=0)
    lease_until = models.DateTimeField(null=True, blank=True)
    error = models.CharField(_("error"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("asked for"), default=timezone.now)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("summary refresh")
        verbose_name_plural = _("summary refreshes")
        ordering = ["-created_at", "-id"]
        constraints = [
            choices_check("state", RefreshState, "indicatorrefresh_state_valid"),
            models.CheckConstraint(condition=Q(progress__lte=100), name="indicatorrefresh_progress_valid"),
            # One run at a time: asking while one waits or runs gives that one.
            models.UniqueConstraint(
                fields=["state"],
                condition=Q(state__in=[RefreshState.QUEUED, RefreshState.RUNNING]),
                name="indicatorrefresh_one_at_a_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.get_state_display()}"


# --- the protected social background ----------------------------------------------------------------------


@audited()
class SocialBackground(models.Model):
    """A patient's education, employment and income band, for anonymised statistics only: kept apart from
    the patient's record, with the legal basis for holding it, read only by the summary refresh and by
    administrators with the model's own view permission (never on a page with the patient's identity)."""

    history_hidden_fields = ("education", "employment", "income")

    patient = models.OneToOneField(Patient, on_delete=models.CASCADE, related_name="+")
    education = models.CharField(_("education"), max_length=16, choices=EducationBand.choices, blank=True)
    employment = models.CharField(
        _("employment"), max_length=16, choices=EmploymentStatus.choices, blank=True
    )
    income = models.CharField(_("income band"), max_length=8, choices=IncomeBand.choices, blank=True)
    legal_basis = models.CharField(_("legal basis"), max_length=32, choices=LegalBasis.choices)
    source = models.CharField(_("source"), max_length=200, blank=True)
    recorded_at = models.DateTimeField(_("recorded"), default=timezone.now)

    class Meta:
        verbose_name = _("social background (protected)")
        verbose_name_plural = _("social backgrounds (protected)")
        constraints = [choices_check("legal_basis", LegalBasis, "socialbackground_legal_basis_valid")]

    def __str__(self) -> str:
        return str(_("Social background"))


def band_for(bands: Any, score: int) -> ScoreBand | None:
    """The band a score falls in (bands: the questionnaire's, loaded once)."""
    return next((band for band in bands if band.lowest <= score <= band.highest), None)
