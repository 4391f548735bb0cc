"""The indicators' rules as queries: each denominator rule (Population) is a queryset of units, each
numerator rule (Outcome) a condition on a unit, and one GROUP BY in the database adds the units up into the
summary table's cells (IndicatorCell): indicator × month × reporting organisation × municipality × sex × age
band × education × employment × income. The summary refresh (quality.summaries) runs it; nothing here
writes.

Per unit, three outcomes: met (counted in numerator and denominator), not met (denominator only), missing
("uoplyst": the outcome cannot be known, e.g. a task marked done without the moment it was done; counted in
`missing`, outside the denominator). A unit whose time is not up yet (a discharge 10 hours ago without a
visit yet, an open dispute younger than its limit, a questionnaire still open) is left out until it is.

The units
---------
- discharges_home: inpatient stays ended "discharged home" (StayEnd.DISCHARGED) of a patient with a plan;
  the unit's moment is the discharge (`ended_at`). Outcomes: a task (of the kind, by an organisation of the
  sector) done within the hours / days after the discharge; a task of the kind on the plan by the end of
  the discharge day (only discharges that needed one: such a task is on the plan within `days` after);
  admitted again within the days.
- plans_needing_coordinator: plans whose latest need assessment says a coordinator is needed (the moment:
  that assessment's day); outcome: the plan has a named coordinator.
- disputes: responsibility disputes by the day raised; outcome: resolved within the working days
  (weekends and Danish public holidays skipped, as the outbox counts them). Open disputes past the limit
  count as not met.
- plans_open: open plans by the month they were made; outcome: "What matters to you?" written.
- questionnaire_requests: the questionnaire (`parameters["questionnaire"]`) sent to patients, by the day
  sent; answered ones meet it, expired ones do not; open and cancelled ones are left out.
- questionnaire_responses: completed patient responses by the day answered; the cell adds up the score
  (a mean: `value_sum`, `value_sumsq`, the count in `denominator`).

Exclusions: died (a stay of the patient ended with death within the indicator's time), transferred (moved
to another hospital: such stays do not end "discharged", so never in the population), plan_revoked,
readmitted_before (admitted again before the time was up).

The breakdowns: sex from the CPR number's last digit (odd: male); the age band at the unit's day; the
municipality is the patient's home municipality; education, employment and income from the patient's
SocialBackground (blank when there is none). The reporting organisation: the discharging hospital, the
patient's general practice, the coordinator's organisation or the organisation that raised the dispute;
for the home municipality, the cell's `municipality` (organisation empty).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import (
    Case,
    CharField,
    Count,
    DateField,
    Exists,
    F,
    FloatField,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, Length, Trim, TruncDate, TruncMonth
from django.utils import timezone

from coordination.choices import DisputeStatus, NeedOutcome
from coordination.models import Dispute, NeedAssessment
from pathways.choices import (
    PLAN_OPEN_STATUSES,
    PlanStatus,
    Sector,
    StayClass,
    StayEnd,
    StayStatus,
    TaskStatus,
)
from pathways.models import HospitalStay, Organisation, PathwayPlan, Task
from pathways.outbox import is_working_day
from quality.choices import (
    AgeBand,
    Exclusion,
    Outcome,
    Population,
    ReportingUnit,
    RequestState,
    ResponseStatus,
    Sex,
)
from quality.models import (
    Indicator,
    IndicatorCell,
    QuestionnaireRequest,
    QuestionnaireResponse,
    SocialBackground,
)

MET, NOT_MET, MISSING, LEFT_OUT = "met", "not_met", "missing", "left_out"

BREAKDOWN_FIELDS = ("municipality", "sex", "age_band", "education", "employment", "income")
CELL_KEY = ("month", "organisation_id", "sector", *BREAKDOWN_FIELDS)


class _AgeYears(Func):
    """Whole years between two days (PostgreSQL's age())."""

    template = "CAST(EXTRACT(YEAR FROM AGE(%(expressions)s)) AS integer)"
    output_field = IntegerField()


class _JsonDate(Func):
    """A day looked up in a {day: day} JSON object given as a parameter."""

    arg_joiner = "::jsonb ->> "
    template = "((%(expressions)s)::date)"
    output_field = DateField()


@dataclass(frozen=True)
class _Units:
    """One population as a queryset of units with what the cells need: `patient` the path to the
    patient, `moment` the unit's day (a date expression) and the reporting organisation."""

    queryset: QuerySet[Any]
    patient: str
    day: Any
    organisation: Any
    outcome: Any  # a Case giving MET / NOT_MET / MISSING / LEFT_OUT
    value: Any = None  # for a mean: the score


def _outcome(
    *, met: Q | Exists, missing: Q | Exists | None = None, left_out: Q | Exists | None = None
) -> Case:
    # A unit whose time is not up is left out whether or not it has met the outcome yet: counting the early
    # successes alone would flatter the latest period (a readmission within 30 days, a WHO-5 answered).
    whens = []
    if left_out is not None:
        whens.append(When(left_out, then=Value(LEFT_OUT)))
    whens.append(When(met, then=Value(MET)))
    if missing is not None:
        whens.append(When(missing, then=Value(MISSING)))
    return Case(*whens, default=Value(NOT_MET), output_field=CharField())


def _hours(indicator: Indicator) -> timedelta:
    parameters = indicator.parameters or {}
    if "hours" in parameters:
        return timedelta(hours=int(parameters["hours"]))
    return timedelta(days=int(parameters.get("days", 0)))


def _tasks_for(parameters: dict[str, Any]) -> QuerySet[Task]:
    """Tasks of the indicator's kind and sector on the outer stay's plan (cancelled and rejected ones
    never count)."""
    tasks = Task.objects.filter(plan=OuterRef("plan_id")).exclude(
        status__in=[TaskStatus.CANCELLED, TaskStatus.REJECTED]
    )
    if parameters.get("task_kind"):
        tasks = tasks.filter(kind=parameters["task_kind"])
    if parameters.get("sector"):
        tasks = tasks.filter(responsible_organisation__sector=parameters["sector"])
    return tasks


def _discharges(indicator: Indicator, now: datetime) -> _Units:
    parameters = indicator.parameters or {}
    window = _hours(indicator)
    stays = HospitalStay.objects.filter(
        plan__isnull=False,
        stay_class=StayClass.INPATIENT,
        status=StayStatus.FINISHED,
        end_reason=StayEnd.DISCHARGED,
        ended_at__isnull=False,
        ended_at__lte=now,
    )
    later_stays = HospitalStay.objects.filter(
        patient=OuterRef("patient_id"), started_at__gt=OuterRef("ended_at")
    ).exclude(status=StayStatus.CANCELLED)
    exclusions = set(indicator.exclusions or [])
    if Exclusion.DIED in exclusions:
        stays = stays.filter(
            ~Exists(later_stays.filter(end_reason=StayEnd.DIED, ended_at__lte=OuterRef("ended_at") + window))
        )
    if Exclusion.READMITTED_BEFORE in exclusions:
        stays = stays.filter(~Exists(later_stays.filter(started_at__lt=OuterRef("ended_at") + window)))
    if Exclusion.PLAN_REVOKED in exclusions:
        stays = stays.exclude(plan__status=PlanStatus.REVOKED)

    time_not_up = Q(ended_at__gt=now - window)
    outcome: Case
    if indicator.outcome in (Outcome.TASK_DONE_WITHIN_HOURS, Outcome.TASK_DONE_WITHIN_DAYS):
        tasks = _tasks_for(parameters).filter(created_at__gte=OuterRef("started_at"))
        done_in_time = tasks.filter(
            completed_at__gte=OuterRef("ended_at"), completed_at__lte=OuterRef("ended_at") + window
        )
        done_unknown_when = tasks.filter(status=TaskStatus.COMPLETED, completed_at__isnull=True)
        outcome = _outcome(met=Exists(done_in_time), left_out=time_not_up, missing=Exists(done_unknown_when))
    elif indicator.outcome == Outcome.TASK_ON_DISCHARGE_DAY:
        needs_kind = parameters.get("needs_task_kind") or parameters.get("task_kind")
        needed = Task.objects.filter(
            plan=OuterRef("plan_id"),
            kind=needs_kind,
            created_at__gte=OuterRef("started_at"),
            created_at__lte=OuterRef("ended_at") + window,
        ).exclude(status__in=[TaskStatus.CANCELLED, TaskStatus.REJECTED])
        stays = stays.filter(Exists(needed))
        by_discharge_day = _tasks_for(parameters).filter(
            created_at__gte=OuterRef("started_at"),
            created_at__date__lte=OuterRef("discharge_day"),
        )
        stays = stays.annotate(discharge_day=TruncDate("ended_at"))
        outcome = _outcome(met=Exists(by_discharge_day))
    elif indicator.outcome == Outcome.READMITTED_WITHIN_DAYS:
        readmitted = later_stays.filter(
            stay_class=StayClass.INPATIENT, started_at__lte=OuterRef("ended_at") + window
        )
        outcome = _outcome(met=Exists(readmitted), left_out=time_not_up)
    else:
        raise ValueError(f"{indicator.outcome} does not apply to discharges.")

    unit = indicator.reporting_unit
    organisation: Any
    if unit == ReportingUnit.HOSPITAL:
        organisation = F("hospital_id")
    elif unit == ReportingUnit.GENERAL_PRACTICE:
        organisation = F("patient__general_practice_id")
    elif unit == ReportingUnit.COORDINATOR_ORGANISATION:
        organisation = F("plan__coordinator_organisation_id")
    else:
        organisation = Value(None, output_field=IntegerField())
    return _Units(stays, "patient", TruncDate("ended_at"), organisation, outcome)


def _plan_organisation(indicator: Indicator, prefix: str = "") -> Any:
    unit = indicator.reporting_unit
    if unit == ReportingUnit.COORDINATOR_ORGANISATION:
        return F(f"{prefix}coordinator_organisation_id")
    if unit == ReportingUnit.GENERAL_PRACTICE:
        return F(f"{prefix}patient__general_practice_id")
    return Value(None, output_field=IntegerField())


def _plans_needing_coordinator(indicator: Indicator, now: datetime) -> _Units:
    latest = NeedAssessment.objects.filter(plan=OuterRef("pk")).order_by("-assessed_on", "-id")
    plans = PathwayPlan.objects.annotate(
        latest_outcome=Subquery(latest.values("outcome")[:1]),
        latest_day=Subquery(latest.values("assessed_on")[:1]),
    ).filter(latest_outcome=NeedOutcome.NEEDS_COORDINATOR, latest_day__lte=timezone.localdate(now))
    if Exclusion.PLAN_REVOKED in (indicator.exclusions or []):
        plans = plans.exclude(status=PlanStatus.REVOKED)
    if indicator.outcome != Outcome.HAS_COORDINATOR:
        raise ValueError(f"{indicator.outcome} does not apply to plans needing a coordinator.")
    outcome = _outcome(met=Q(coordinator__isnull=False))
    return _Units(plans, "patient", F("latest_day"), _plan_organisation(indicator), outcome)


def working_days_after(day: date, count: int) -> date:
    """The date `count` working days after `day` (weekends and Danish public holidays skipped)."""
    current = day
    while count > 0:
        current += timedelta(days=1)
        if is_working_day(current):
            count -= 1
    return current


def _deadlines(first: date, last: date, count: int) -> str:
    """{day: the day `count` working days later} for every day from first to last, as JSON."""
    out: dict[str, str] = {}
    day = first
    while day <= last:
        out[day.isoformat()] = working_days_after(day, count).isoformat()
        day += timedelta(days=1)
    return json.dumps(out)


def _disputes(indicator: Indicator, now: datetime) -> _Units:
    if indicator.outcome != Outcome.RESOLVED_WITHIN_WORKING_DAYS:
        raise ValueError(f"{indicator.outcome} does not apply to disputes.")
    days = int((indicator.parameters or {}).get("days", 10))
    today = timezone.localdate(now)
    disputes = Dispute.objects.filter(raised_at__lte=now).annotate(raised_day=TruncDate("raised_at"))
    if Exclusion.PLAN_REVOKED in (indicator.exclusions or []):
        disputes = disputes.exclude(plan__status=PlanStatus.REVOKED)
    first = disputes.order_by("raised_at").values_list("raised_at", flat=True).first()
    table = _deadlines(timezone.localdate(first) if first else today, today, days)
    disputes = disputes.annotate(
        deadline=_JsonDate(Value(table), Cast("raised_day", CharField())),
        resolved_day=TruncDate("resolved_at"),
    )
    outcome = _outcome(
        met=Q(status=DisputeStatus.RESOLVED, resolved_day__lte=F("deadline")),
        left_out=Q(status=DisputeStatus.OPEN, deadline__gte=today),
    )
    organisation = (
        F("raised_by_organisation_id")
        if indicator.reporting_unit == ReportingUnit.RAISED_BY
        else _plan_organisation(indicator, "plan__")
    )
    return _Units(disputes, "plan__patient", F("raised_day"), organisation, outcome)


def _plans_open(indicator: Indicator, now: datetime) -> _Units:
    if indicator.outcome != Outcome.WHAT_MATTERS_WRITTEN:
        raise ValueError(f"{indicator.outcome} does not apply to open plans.")
    plans = PathwayPlan.objects.filter(status__in=PLAN_OPEN_STATUSES, created_at__lte=now).annotate(
        what_matters_length=Length(Trim("what_matters"))
    )
    outcome = _outcome(met=Q(what_matters_length__gt=0))
    return _Units(plans, "patient", TruncDate("created_at"), _plan_organisation(indicator), outcome)


def _requests(indicator: Indicator, now: datetime) -> _Units:
    if indicator.outcome != Outcome.ANSWERED:
        raise ValueError(f"{indicator.outcome} does not apply to questionnaires sent.")
    requests = QuestionnaireRequest.objects.filter(
        relative__isnull=True,
        questionnaire__key=(indicator.parameters or {}).get("questionnaire"),
        state__in=[RequestState.ANSWERED, RequestState.EXPIRED],
        opens_on__lte=timezone.localdate(now),
    )
    if Exclusion.PLAN_REVOKED in (indicator.exclusions or []):
        requests = requests.exclude(plan__status=PlanStatus.REVOKED)
    # Answered: a response that stands — one marked entered in error leaves the request unanswered.
    answers = QuestionnaireResponse.objects.filter(request=OuterRef("pk")).exclude(
        status=ResponseStatus.ENTERED_IN_ERROR
    )
    outcome = _outcome(met=Exists(answers))
    return _Units(requests, "plan__patient", F("opens_on"), _plan_organisation(indicator, "plan__"), outcome)


def _responses(indicator: Indicator, now: datetime) -> _Units:
    if indicator.outcome != Outcome.SCORE:
        raise ValueError(f"{indicator.outcome} does not apply to questionnaire answers.")
    responses = QuestionnaireResponse.objects.filter(
        relative__isnull=True,
        status=ResponseStatus.COMPLETED,
        questionnaire__key=(indicator.parameters or {}).get("questionnaire"),
        answered_on__lte=timezone.localdate(now),
    )
    if Exclusion.PLAN_REVOKED in (indicator.exclusions or []):
        responses = responses.exclude(plan__status=PlanStatus.REVOKED)
    outcome = _outcome(met=Q(pk__isnull=True))  # a mean has no numerator: every answer is "not met"
    return _Units(
        responses,
        "plan__patient",
        F("answered_on"),
        _plan_organisation(indicator, "plan__"),
        outcome,
        value=Cast("score", FloatField()),
    )


POPULATIONS = {
    Population.DISCHARGES_HOME: _discharges,
    Population.PLANS_NEEDING_COORDINATOR: _plans_needing_coordinator,
    Population.DISPUTES: _disputes,
    Population.PLANS_OPEN: _plans_open,
    Population.QUESTIONNAIRE_REQUESTS: _requests,
    Population.QUESTIONNAIRE_RESPONSES: _responses,
}


def _age_band(years: str) -> Case:
    return Case(
        When(**{f"{years}__lt": 50}, then=Value(AgeBand.UNDER_50.value)),
        When(**{f"{years}__lt": 65}, then=Value(AgeBand.FROM_50.value)),
        When(**{f"{years}__lt": 80}, then=Value(AgeBand.FROM_65.value)),
        default=Value(AgeBand.FROM_80.value),
        output_field=CharField(),
    )


def units(indicator: Indicator, *, now: datetime | None = None) -> QuerySet[Any]:
    """The indicator's units, each annotated with its cell's key and its outcome (unaggregated: for
    tests and for the benchmark's floor)."""
    now = now or timezone.now()
    rule = POPULATIONS[Population(indicator.population)](indicator, now)
    patient = rule.patient
    background = SocialBackground.objects.filter(patient=OuterRef(patient))
    sector_of = Organisation.objects.filter(pk=OuterRef("cell_organisation")).values("sector")[:1]
    queryset = rule.queryset.annotate(
        unit_day=rule.day,
        cell_organisation=rule.organisation,
        unit_outcome=rule.outcome,
    ).annotate(
        month=TruncMonth("unit_day", output_field=DateField()),
        cell_sector=(
            Value(Sector.MUNICIPALITY.value)
            if indicator.reporting_unit == ReportingUnit.HOME_MUNICIPALITY
            else Coalesce(Subquery(sector_of), Value(""))
        ),
        cell_municipality=F(f"{patient}__home_municipality"),
        cell_sex=Case(
            When(Q(**{f"{patient}__cpr__regex": r"[13579]$"}), then=Value(Sex.MALE.value)),
            default=Value(Sex.FEMALE.value),
            output_field=CharField(),
        ),
        age_years=_AgeYears("unit_day", f"{patient}__birth_date"),
        cell_education=Coalesce(Subquery(background.values("education")[:1]), Value("")),
        cell_employment=Coalesce(Subquery(background.values("employment")[:1]), Value("")),
        cell_income=Coalesce(Subquery(background.values("income")[:1]), Value("")),
        unit_value=rule.value if rule.value is not None else Value(0.0, output_field=FloatField()),
    )
    result: QuerySet[Any] = queryset.annotate(cell_age_band=_age_band("age_years")).exclude(
        unit_outcome=LEFT_OUT
    )
    return result


def cell_counts(indicator: Indicator, *, now: datetime | None = None) -> Iterator[dict[str, Any]]:
    """The indicator's cells as dicts (one GROUP BY in the database): the cell's key (`CELL_KEY`) and its
    denominator, numerator, missing, value_sum and value_sumsq."""
    known = ~Q(unit_outcome=MISSING)
    rows = (
        units(indicator, now=now)
        .values(
            "month",
            "cell_organisation",
            "cell_sector",
            "cell_municipality",
            "cell_sex",
            "cell_age_band",
            "cell_education",
            "cell_employment",
            "cell_income",
        )
        .annotate(
            denominator=Count("pk", filter=known),
            numerator=Count("pk", filter=Q(unit_outcome=MET)),
            missing=Count("pk", filter=Q(unit_outcome=MISSING)),
            value_sum=Coalesce(Sum("unit_value", filter=known), Value(0.0)),
            value_sumsq=Coalesce(Sum(F("unit_value") * F("unit_value"), filter=known), Value(0.0)),
        )
        .order_by()
    )
    for row in rows.iterator(chunk_size=5000):
        yield {
            "month": row["month"],
            "organisation_id": row["cell_organisation"],
            "sector": row["cell_sector"] or "",
            "municipality": row["cell_municipality"] or "",
            "sex": row["cell_sex"],
            "age_band": row["cell_age_band"],
            "education": row["cell_education"],
            "employment": row["cell_employment"],
            "income": row["cell_income"],
            "denominator": row["denominator"],
            "numerator": row["numerator"],
            "missing": row["missing"],
            "value_sum": float(row["value_sum"]),
            "value_sumsq": float(row["value_sumsq"]),
        }


def cells(indicator: Indicator, *, now: datetime | None = None) -> Iterator[IndicatorCell]:
    """The indicator's summary rows, unsaved (the refresh writes them)."""
    for row in cell_counts(indicator, now=now):
        yield IndicatorCell(indicator=indicator, **row)
