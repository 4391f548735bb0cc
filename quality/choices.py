"""Values of the quality app: questionnaires and their responses (FHIR Questionnaire and
QuestionnaireResponse), their schedule, the indicators across sectors, and the optional social background
used only for anonymised statistics."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

# --- questionnaires (STANDARDS.md §1.7, §4) ---------------------------------------------------------------


class QuestionnaireStatus(models.TextChoices):
    """Questionnaire.status (FHIR PublicationStatus): only "active" ones are sent and answered."""

    DRAFT = "draft", _("Draft")
    ACTIVE = "active", _("In use")
    RETIRED = "retired", _("Retired")


class Respondent(models.TextChoices):
    """Who answers a questionnaire: the patient about themselves, or a relative about themselves (a
    relative's WHO-5 and strain are the relative's own data, never the patient's)."""

    PATIENT = "patient", _("The patient")
    RELATIVE = "relative", _("A relative")


class Milestone(models.TextChoices):
    """When a schedule asks (counted in days from the milestone, `QuestionnaireSchedule.offset_days`):
    at the plan's start, after each discharge home, and again every `every_months` months from the start."""

    PLAN_START = "plan_start", _("At the plan's start")
    AFTER_DISCHARGE = "after_discharge", _("After a discharge from hospital")
    EVERY_MONTHS = "every_months", _("Every few months")


class RequestState(models.TextChoices):
    """A questionnaire sent to one person: open until answered, expired after its window, or cancelled
    (the plan ended, the patient died, the relative left the plan)."""

    OPEN = "open", _("Waiting for an answer")
    ANSWERED = "answered", _("Answered")
    EXPIRED = "expired", _("Not answered in time")
    CANCELLED = "cancelled", _("Cancelled")


REQUEST_TRANSITIONS: dict[str, frozenset[str]] = {
    RequestState.OPEN: frozenset({RequestState.ANSWERED, RequestState.EXPIRED, RequestState.CANCELLED}),
    RequestState.ANSWERED: frozenset(),
    RequestState.EXPIRED: frozenset(),
    RequestState.CANCELLED: frozenset(),
}


class ResponseSource(models.TextChoices):
    """Who put the answers in (QuestionnaireResponse.source/author): the person in the portal, or staff
    entering what the person said on the phone, on paper or at a visit."""

    PORTAL = "portal", _("Answered in the portal")
    STAFF_PHONE = "staff_phone", _("Entered by staff: answered by phone")
    STAFF_PAPER = "staff_paper", _("Entered by staff: answered on paper")
    STAFF_VISIT = "staff_visit", _("Entered by staff: answered at a visit")


STAFF_SOURCES = (ResponseSource.STAFF_PHONE, ResponseSource.STAFF_PAPER, ResponseSource.STAFF_VISIT)


class ResponseStatus(models.TextChoices):
    """QuestionnaireResponse.status: a response entered by mistake is marked, never deleted."""

    COMPLETED = "completed", _("Completed")
    ENTERED_IN_ERROR = "entered_in_error", _("Entered in error")


class BandTone(models.TextChoices):
    """How a score band is shown (and whether it flags the plan for the coordinator)."""

    GOOD = "good", _("Good")
    NEUTRAL = "neutral", _("Neutral")
    WARNING = "warning", _("Reduced")
    ALERT = "alert", _("Low")


# --- indicators across sectors (STANDARDS.md §5.5, §5.6) --------------------------------------------------


class Measure(models.TextChoices):
    """An indicator is a share (numerator of denominator, RKKP style) or a mean of a score."""

    PROPORTION = "proportion", _("Share (numerator / denominator)")
    MEAN = "mean", _("Mean score")


class Direction(models.TextChoices):
    """Which way the standard points: at least (higher is better) or at most (lower is better)."""

    AT_LEAST = "at_least", _("At least")
    AT_MOST = "at_most", _("At most")


class Population(models.TextChoices):
    """The denominator rule: which units an indicator counts. Each is one query in quality.indicators."""

    DISCHARGES_HOME = "discharges_home", _("Discharges home of patients with a plan")
    PLANS_NEEDING_COORDINATOR = (
        "plans_needing_coordinator",
        _("Plans whose latest assessment says a coordinator is needed"),
    )
    DISPUTES = "disputes", _("Responsibility disputes raised")
    PLANS_OPEN = "plans_open", _("Open plans")
    QUESTIONNAIRE_REQUESTS = "questionnaire_requests", _("Questionnaires sent to patients")
    QUESTIONNAIRE_RESPONSES = "questionnaire_responses", _("Questionnaires answered by patients")


class Outcome(models.TextChoices):
    """The numerator rule: what a unit of the population must show to count (with the indicator's
    parameters: a task kind and sector, hours or days)."""

    TASK_DONE_WITHIN_HOURS = "task_done_within_hours", _("A task of the kind done within the hours")
    TASK_DONE_WITHIN_DAYS = "task_done_within_days", _("A task of the kind done within the days")
    TASK_ON_DISCHARGE_DAY = "task_on_discharge_day", _("A task of the kind on the plan by the discharge day")
    HAS_COORDINATOR = "has_coordinator", _("Has a named coordinator")
    RESOLVED_WITHIN_WORKING_DAYS = "resolved_within_working_days", _("Resolved within the working days")
    READMITTED_WITHIN_DAYS = "readmitted_within_days", _("Admitted again within the days")
    WHAT_MATTERS_WRITTEN = "what_matters_written", _('"What matters to you" written')
    ANSWERED = "answered", _("Answered")
    SCORE = "score", _("The score (for a mean)")


class Exclusion(models.TextChoices):
    """Units an indicator leaves out of numerator and denominator alike."""

    DIED = "died", _("The patient died in hospital or within the indicator's time")
    TRANSFERRED = "transferred", _("Moved to another hospital")
    PLAN_REVOKED = "plan_revoked", _("The plan was revoked")
    READMITTED_BEFORE = "readmitted_before", _("Admitted again before the time was up")


class Period(models.TextChoices):
    MONTH = "month", _("Month")
    QUARTER = "quarter", _("Quarter")
    YEAR = "year", _("Year")


class ReportingUnit(models.TextChoices):
    """Whose result a unit counts towards (the funnel plot's dots, the organisation filter)."""

    HOSPITAL = "hospital", _("The discharging hospital")
    HOME_MUNICIPALITY = "home_municipality", _("The patient's municipality")
    GENERAL_PRACTICE = "general_practice", _("The patient's general practice")
    COORDINATOR_ORGANISATION = "coordinator_organisation", _("The coordinator's organisation")
    RAISED_BY = "raised_by", _("The organisation that raised it")


class TotalGrain(models.TextChoices):
    """What a row of the summary one level up (IndicatorTotal) adds the cells up by."""

    ORGANISATION = "organisation", _("reporting organisation")
    MUNICIPALITY = "municipality", _("home municipality")


class RefreshState(models.TextChoices):
    QUEUED = "queued", _("Waiting")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


# --- breakdowns (inequality) ------------------------------------------------------------------------------


class Sex(models.TextChoices):
    """Legal sex as the CPR number's last digit gives it (odd: male, even: female)."""

    FEMALE = "female", _("Women")
    MALE = "male", _("Men")


class AgeBand(models.TextChoices):
    UNDER_50 = "0-49", _("Under 50")
    FROM_50 = "50-64", _("50–64")
    FROM_65 = "65-79", _("65–79")
    FROM_80 = "80+", _("80 and over")


class EducationBand(models.TextChoices):
    """Highest completed education in the ISCED bands Danmarks Statistik uses."""

    BASIC = "basic", _("Primary school")
    UPPER_SECONDARY = "upper_secondary", _("Upper secondary or vocational")
    SHORT_HIGHER = "short_higher", _("Short or medium-cycle higher education")
    LONG_HIGHER = "long_higher", _("Long-cycle higher education")


class EmploymentStatus(models.TextChoices):
    EMPLOYED = "employed", _("In work")
    UNEMPLOYED = "unemployed", _("Out of work")
    RETIRED = "retired", _("Retired (pension)")
    OTHER = "other", _("Other (studying, on benefits)")


class IncomeBand(models.TextChoices):
    """Equivalised household income in quartiles of the population."""

    Q1 = "q1", _("Lowest quarter")
    Q2 = "q2", _("Second quarter")
    Q3 = "q3", _("Third quarter")
    Q4 = "q4", _("Highest quarter")


class LegalBasis(models.TextChoices):
    """Why the product may hold a patient's social background (GDPR art. 6 and 9; STANDARDS.md §5.1, §5.4)."""

    STATISTICS_LINKAGE = (
        "statistics_linkage",
        _("Linked from Danmarks Statistik for anonymised quality statistics (sundhedsloven § 42 d)"),
    )
    CONSENT = "consent", _("The patient's explicit consent (GDPR art. 9(2)(a))")
    SYNTHETIC = "synthetic", _("Synthetic data for demonstration and tests")


class Breakdown(models.TextChoices):
    """The dimensions the dashboard breaks an indicator down by."""

    MUNICIPALITY = "municipality", _("Municipality")
    SEX = "sex", _("Sex")
    AGE_BAND = "age_band", _("Age band")
    EDUCATION = "education", _("Education")
    EMPLOYMENT = "employment", _("Employment")
    INCOME = "income", _("Income")


# Breakdowns by social background are for anonymised statistics only: they read the protected attributes.
PROTECTED_BREAKDOWNS = frozenset({Breakdown.EDUCATION, Breakdown.EMPLOYMENT, Breakdown.INCOME})
