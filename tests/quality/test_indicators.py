"""Each shipped indicator on a small hand-built dataset, the answer worked out in the test: which units are
in the denominator, which meet the rule, which are missing ("uoplyst"), which are left out or excluded —
and that the cells carry the breakdowns (sex from the CPR number, age band, municipality, the social
background where there is one)."""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from coordination.choices import DisputeQuestion, DisputeStatus, NeedOutcome
from coordination.models import Dispute, NeedAssessment
from pathways.choices import PlanStatus, Sector, StayClass, StayEnd, StayStatus, TaskKind, TaskStatus
from pathways.models import HospitalStay, Organisation, PathwayPlan, Patient, Task, User
from quality import indicators
from quality.choices import LegalBasis, RequestState, ResponseSource, ResponseStatus
from quality.models import (
    Indicator,
    Questionnaire,
    QuestionnaireRequest,
    QuestionnaireResponse,
    SocialBackground,
)

LOCAL = ZoneInfo("Europe/Copenhagen")
_serial = itertools.count(1)


def at(day: str, hour: int = 12, minute: int = 0) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, minute=minute, tzinfo=LOCAL)


class Data:
    """A hand-built world: one hospital, two municipalities' home nursing, a GP, a coordinator."""

    def __init__(self) -> None:
        self.hospital = Organisation.objects.create(name="Hospital", sector=Sector.HOSPITAL)
        self.other_hospital = Organisation.objects.create(name="Other hospital", sector=Sector.HOSPITAL)
        self.nursing = Organisation.objects.create(
            name="Home nursing Roskilde", sector=Sector.MUNICIPALITY, municipality_code="265"
        )
        self.gp = Organisation.objects.create(name="GP", sector=Sector.GENERAL_PRACTICE)
        self.user = User.objects.create_user(username=f"staff{next(_serial)}", password="x")

    def patient(
        self, *, male: bool = False, born: date = date(1940, 5, 1), municipality: str = "265"
    ) -> Patient:
        number = next(_serial)
        last = 1 if male else 2
        return Patient.objects.create(
            cpr=f"0105{number:05d}{last}"[-10:],
            birth_date=born,
            given_name="Test",
            family_name=f"Person {number}",
            home_municipality=municipality,
            general_practice=self.gp,
        )

    def plan(
        self, patient: Patient | None = None, *, status: str = PlanStatus.ACTIVE, **fields
    ) -> PathwayPlan:
        return PathwayPlan.objects.create(
            patient=patient or self.patient(), title="Plan", status=status, **fields
        )

    def stay(
        self,
        plan: PathwayPlan,
        *,
        started: datetime,
        ended: datetime | None,
        end: str = StayEnd.DISCHARGED,
        stay_class: str = StayClass.INPATIENT,
        hospital: Organisation | None = None,
    ) -> HospitalStay:
        return HospitalStay.objects.create(
            patient=plan.patient,
            plan=plan,
            hospital=hospital or self.hospital,
            stay_class=stay_class,
            status=StayStatus.FINISHED if ended else StayStatus.IN_PROGRESS,
            started_at=started,
            ended_at=ended,
            end_reason=end if ended else "",
        )

    def task(
        self,
        plan: PathwayPlan,
        *,
        created: datetime,
        done: datetime | None = None,
        kind: str = TaskKind.HOME_VISIT,
        organisation: Organisation | None = None,
        status: str | None = None,
    ) -> Task:
        task = Task.objects.create(
            plan=plan,
            title="Task",
            kind=kind,
            responsible_organisation=organisation or self.nursing,
            status=status or (TaskStatus.COMPLETED if done else TaskStatus.REQUESTED),
            completed_at=done,
        )
        Task.objects.filter(pk=task.pk).update(created_at=created)
        return task


@pytest.fixture
def data(db) -> Data:
    return Data()


def indicator(key: str) -> Indicator:
    return Indicator.objects.get(key=key)


def totals(key: str, now: datetime) -> dict[date, tuple[int, int, int]]:
    """(numerator, denominator, missing) per month, added up over the cells."""
    out: dict[date, list[int]] = defaultdict(lambda: [0, 0, 0])
    for cell in indicators.cell_counts(indicator(key), now=now):
        out[cell["month"]][0] += cell["numerator"]
        out[cell["month"]][1] += cell["denominator"]
        out[cell["month"]][2] += cell["missing"]
    return {month: (counts[0], counts[1], counts[2]) for month, counts in out.items()}


MARCH, FEBRUARY = date(2026, 3, 1), date(2026, 2, 1)


def test_home_nursing_within_24_hours(data):
    now = at("2026-03-20", 12)
    # Met: visit 10 hours after the discharge.
    plan = data.plan()
    data.stay(plan, started=at("2026-02-27"), ended=at("2026-03-02", 10))
    data.task(plan, created=at("2026-02-28"), done=at("2026-03-02", 20))
    # Not met: visit after 2 days.
    plan = data.plan()
    data.stay(plan, started=at("2026-03-01"), ended=at("2026-03-03", 10))
    data.task(plan, created=at("2026-03-03", 9), done=at("2026-03-05", 10))
    # Missing: the visit is marked done, but not when.
    plan = data.plan()
    data.stay(plan, started=at("2026-03-01"), ended=at("2026-03-04", 10))
    data.task(plan, created=at("2026-03-04", 9), status=TaskStatus.COMPLETED)
    # Not met: the visit within 24 hours was by general practice, not the municipality.
    plan = data.plan()
    data.stay(plan, started=at("2026-03-01"), ended=at("2026-03-05", 10))
    data.task(plan, created=at("2026-03-04"), done=at("2026-03-05", 15), organisation=data.gp)
    # Not met: the only visit was done before the admission (an old task).
    plan = data.plan()
    data.task(plan, created=at("2026-02-01"), done=at("2026-02-02"))
    data.stay(plan, started=at("2026-03-05"), ended=at("2026-03-07", 10))
    # Left out: discharged 4 hours ago, the 24 hours are not up.
    plan = data.plan()
    data.stay(plan, started=at("2026-03-18"), ended=at("2026-03-20", 8))
    # Excluded: admitted again after 8 hours (before the 24 hours were up).
    plan = data.plan()
    data.stay(plan, started=at("2026-03-05"), ended=at("2026-03-06", 10))
    data.stay(plan, started=at("2026-03-06", 18), ended=at("2026-03-09"))
    # (the second stay, discharged 9 March 12:00, is itself a discharge: not met)
    # Excluded: died in hospital within the 24 hours (readmitted and died).
    plan = data.plan()
    data.stay(plan, started=at("2026-03-08"), ended=at("2026-03-10", 10))
    data.stay(plan, started=at("2026-03-10", 15), ended=at("2026-03-10", 20), end=StayEnd.DIED)
    # Not in the population: moved to another hospital; an acute ambulant stay; a stay without a plan.
    plan = data.plan()
    data.stay(plan, started=at("2026-03-01"), ended=at("2026-03-02"), end=StayEnd.TRANSFERRED)
    data.stay(
        data.plan(), started=at("2026-03-01"), ended=at("2026-03-02"), stay_class=StayClass.ACUTE_AMBULANT
    )
    HospitalStay.objects.create(
        patient=data.patient(),
        hospital=data.hospital,
        stay_class=StayClass.INPATIENT,
        status=StayStatus.FINISHED,
        started_at=at("2026-03-01"),
        ended_at=at("2026-03-02"),
        end_reason=StayEnd.DISCHARGED,
    )
    # February: met.
    plan = data.plan()
    data.stay(plan, started=at("2026-02-10"), ended=at("2026-02-12", 9))
    data.task(plan, created=at("2026-02-12", 8), done=at("2026-02-13", 8))

    assert totals("home-nursing-24h", now) == {MARCH: (1, 5, 1), FEBRUARY: (1, 1, 0)}


def test_home_nursing_cells_carry_the_breakdowns(data):
    now = at("2026-03-20", 12)
    man = data.patient(male=True, born=date(1950, 3, 3), municipality="316")
    SocialBackground.objects.create(
        patient=man,
        education="long_higher",
        employment="retired",
        income="q4",
        legal_basis=LegalBasis.SYNTHETIC,
    )
    plan = data.plan(man)
    data.stay(plan, started=at("2026-03-01"), ended=at("2026-03-02", 10))
    data.task(plan, created=at("2026-03-01"), done=at("2026-03-02", 12))
    woman = data.patient(born=date(1940, 3, 10))
    plan = data.plan(woman)
    data.stay(plan, started=at("2026-03-01"), ended=at("2026-03-09", 10))

    rows = sorted(indicators.cell_counts(indicator("home-nursing-24h"), now=now), key=lambda row: row["sex"])
    assert [
        (r["sex"], r["age_band"], r["municipality"], r["education"], r["employment"], r["income"])
        for r in rows
    ] == [
        ("female", "80+", "265", "", "", ""),  # 85 on 9 March 2026: born 10 March 1940
        ("male", "65-79", "316", "long_higher", "retired", "q4"),  # 76
    ]
    assert [(r["numerator"], r["denominator"]) for r in rows] == [(0, 1), (1, 1)]
    # The unit is the home municipality: no organisation, the municipality's sector.
    assert {(r["organisation_id"], r["sector"]) for r in rows} == {(None, "municipality")}


def test_age_band_is_taken_on_the_day_of_the_unit(data):
    now = at("2026-03-20", 12)
    # 65 on 2 March 2026, discharged 1 March: still 64.
    plan = data.plan(data.patient(born=date(1961, 3, 2)))
    data.stay(plan, started=at("2026-02-27"), ended=at("2026-03-01", 10))
    [row] = indicators.cell_counts(indicator("home-nursing-24h"), now=now)
    assert row["age_band"] == "50-64"


def test_gp_follow_up_within_7_days_counts_for_the_patients_practice(data):
    now = at("2026-03-31", 12)
    # Met: the GP's task (any kind) done on day 6.
    plan = data.plan()
    data.stay(plan, started=at("2026-03-01"), ended=at("2026-03-02", 10))
    data.task(
        plan,
        created=at("2026-03-02"),
        done=at("2026-03-08", 9),
        kind=TaskKind.APPOINTMENT,
        organisation=data.gp,
    )
    # Not met: done on day 8.
    plan = data.plan()
    data.stay(plan, started=at("2026-03-01"), ended=at("2026-03-02", 10))
    data.task(plan, created=at("2026-03-02"), done=at("2026-03-10", 11), organisation=data.gp)
    # Not met: only the municipality came.
    plan = data.plan()
    data.stay(plan, started=at("2026-03-01"), ended=at("2026-03-03", 10))
    data.task(plan, created=at("2026-03-02"), done=at("2026-03-03", 20))
    # Left out: discharged 3 days ago.
    plan = data.plan()
    data.stay(plan, started=at("2026-03-20"), ended=at("2026-03-28", 10))

    assert totals("gp-follow-up-7d", now) == {MARCH: (1, 3, 0)}
    organisations = {
        r["organisation_id"] for r in indicators.cell_counts(indicator("gp-follow-up-7d"), now=now)
    }
    assert organisations == {data.gp.pk}


def test_rehabilitation_plan_by_the_day_of_discharge(data):
    now = at("2026-04-30", 12)
    rehab = TaskKind.REHABILITATION
    # Met: the rehabilitation task made during the stay.
    plan = data.plan()
    data.stay(plan, started=at("2026-03-01"), ended=at("2026-03-05", 10))
    data.task(plan, created=at("2026-03-03"), kind=rehab)
    # Met: made late on the discharge day itself.
    plan = data.plan()
    data.stay(plan, started=at("2026-03-01"), ended=at("2026-03-05", 10))
    data.task(plan, created=at("2026-03-05", 23, 30), kind=rehab)
    # Not met: made three days after the discharge.
    plan = data.plan()
    data.stay(plan, started=at("2026-03-01"), ended=at("2026-03-06", 10))
    data.task(plan, created=at("2026-03-09"), kind=rehab)
    # Not in the population: no rehabilitation needed (none within 30 days); one made 40 days after.
    plan = data.plan()
    data.stay(plan, started=at("2026-03-01"), ended=at("2026-03-06", 10))
    data.task(plan, created=at("2026-03-07"), kind=TaskKind.HOME_VISIT)
    plan = data.plan()
    data.stay(plan, started=at("2026-03-01"), ended=at("2026-03-06", 10))
    data.task(plan, created=at("2026-04-15"), kind=rehab)

    assert totals("rehabilitation-plan-discharge-day", now) == {MARCH: (2, 3, 0)}
    organisations = {
        r["organisation_id"]
        for r in indicators.cell_counts(indicator("rehabilitation-plan-discharge-day"), now=now)
    }
    assert organisations == {data.hospital.pk}


def test_readmission_within_30_days(data):
    now = at("2026-04-20", 12)
    # Met: admitted again after 10 days (the second stay, ended 14 March, is a discharge of its own).
    plan = data.plan()
    data.stay(plan, started=at("2026-03-01"), ended=at("2026-03-02", 10))
    data.stay(plan, started=at("2026-03-12"), ended=at("2026-03-14", 10), hospital=data.other_hospital)
    # Not met: admitted again after 40 days (that stay is still going on).
    plan = data.plan()
    data.stay(plan, started=at("2026-03-01"), ended=at("2026-03-03", 10))
    data.stay(plan, started=at("2026-04-12"), ended=None)
    # Not met: an acute ambulant visit is not an admission.
    plan = data.plan()
    data.stay(plan, started=at("2026-03-01"), ended=at("2026-03-04", 10))
    data.stay(plan, started=at("2026-03-10"), ended=at("2026-03-10", 15), stay_class=StayClass.ACUTE_AMBULANT)
    # Excluded: died in hospital within the 30 days.
    plan = data.plan()
    data.stay(plan, started=at("2026-03-01"), ended=at("2026-03-05", 10))
    data.stay(plan, started=at("2026-03-15"), ended=at("2026-03-20"), end=StayEnd.DIED)
    # Left out: discharged 5 days ago.
    plan = data.plan()
    data.stay(plan, started=at("2026-04-10"), ended=at("2026-04-15", 10))
    # Left out too, although already admitted again: its 30 days are not over, and counting only the early
    # readmissions of the latest weeks would make April look worse than it is.
    plan = data.plan()
    data.stay(plan, started=at("2026-04-01"), ended=at("2026-04-05", 10))
    data.stay(plan, started=at("2026-04-08"), ended=None)

    # March: stays ended 2, 3, 4 and 14 March; the one on the 14th was not followed by an admission.
    assert totals("readmission-30d", now) == {MARCH: (1, 4, 0)}
    by_hospital: defaultdict[int, int] = defaultdict(int)
    for row in indicators.cell_counts(indicator("readmission-30d"), now=now):
        by_hospital[row["organisation_id"]] += row["denominator"]
    assert by_hospital == {data.hospital.pk: 3, data.other_hospital.pk: 1}


def test_coordinator_when_needed(data):
    now = at("2026-03-20", 12)
    municipality = data.nursing

    def assessed(plan: PathwayPlan, day: str, outcome: str) -> None:
        NeedAssessment.objects.create(
            plan=plan,
            assessed_by=data.user,
            assessed_by_organisation=municipality,
            assessed_on=date.fromisoformat(day),
            outcome=outcome,
            review_date=date.fromisoformat(day) + timedelta(days=90),
        )

    # Met: needs one, has one.
    plan = data.plan(coordinator=data.user, coordinator_organisation=municipality)
    assessed(plan, "2026-03-02", NeedOutcome.NEEDS_COORDINATOR)
    # Not met: needs one, has none (counted in the month of the latest assessment).
    plan = data.plan()
    assessed(plan, "2026-01-10", NeedOutcome.NO_NEED)
    assessed(plan, "2026-02-10", NeedOutcome.NEEDS_COORDINATOR)
    # Not in the population: the latest assessment says no need; no assessment at all.
    plan = data.plan()
    assessed(plan, "2026-01-10", NeedOutcome.NEEDS_COORDINATOR)
    assessed(plan, "2026-03-10", NeedOutcome.NO_NEED)
    data.plan()
    # Excluded: the plan was revoked.
    plan = data.plan(status=PlanStatus.REVOKED)
    assessed(plan, "2026-03-03", NeedOutcome.NEEDS_COORDINATOR)

    assert totals("coordinator-when-needed", now) == {MARCH: (1, 1, 0), FEBRUARY: (0, 1, 0)}


def test_disputes_resolved_within_10_working_days_skip_weekends_and_holidays(data):
    now = at("2026-05-04", 12)
    plan = data.plan()
    task = data.task(plan, created=at("2026-01-01"))

    def dispute(raised: datetime, resolved: datetime | None) -> None:
        Dispute.objects.create(
            plan=plan,
            task=Task.objects.create(plan=plan, title="T", responsible_organisation=data.nursing),
            question=DisputeQuestion.WHO_ACTS,
            reason="Who?",
            interim_organisation=data.nursing,
            raised_by=data.user,
            raised_by_organisation=data.hospital,
            raised_at=raised,
            status=DisputeStatus.RESOLVED if resolved else DisputeStatus.OPEN,
            resolved_at=resolved,
            decided_organisation=data.nursing if resolved else None,
            decision="Decided" if resolved else "",
        )

    del task
    # Raised Monday 30 March 2026; Easter: 2, 3 and 6 April are holidays → 10 working days end Thursday
    # 16 April.
    dispute(at("2026-03-30", 9), at("2026-04-16", 16))  # met
    dispute(at("2026-03-30", 9), at("2026-04-17", 9))  # not met
    # Raised Monday 5 January: ten working days end Monday 19 January.
    dispute(at("2026-01-05", 9), at("2026-01-19", 15))  # met
    dispute(at("2026-01-05", 9), None)  # still open long after: not met
    # Open, raised last Thursday: the 10 working days are not up, left out.
    dispute(at("2026-04-30", 9), None)

    assert totals("disputes-10-working-days", now) == {MARCH: (1, 2, 0), date(2026, 1, 1): (1, 2, 0)}


def test_working_days_after_skips_weekends_and_danish_holidays():
    assert indicators.working_days_after(date(2026, 3, 30), 10) == date(2026, 4, 16)
    assert indicators.working_days_after(date(2026, 1, 2), 1) == date(2026, 1, 5)  # Friday → Monday
    assert indicators.working_days_after(date(2025, 12, 24), 1) == date(2025, 12, 29)  # 25–26 Dec, weekend


def test_what_matters_written_on_open_plans(data):
    now = at("2026-03-20", 12)
    written = data.plan(what_matters="To stay at home.", coordinator_organisation=data.nursing)
    blank = data.plan(what_matters="   ", coordinator_organisation=data.nursing)
    draft = data.plan(what_matters="", status=PlanStatus.DRAFT, coordinator_organisation=data.nursing)
    done = data.plan(what_matters="Done.", status=PlanStatus.COMPLETED)  # not open: not counted
    PathwayPlan.objects.filter(pk__in=[written.pk, blank.pk]).update(created_at=at("2026-02-10"))
    PathwayPlan.objects.filter(pk__in=[draft.pk, done.pk]).update(created_at=at("2026-03-05"))
    data.plan(what_matters="Later.")  # made after the refresh's moment: not yet counted

    rows = list(indicators.cell_counts(indicator("what-matters-written"), now=now))
    assert totals("what-matters-written", now) == {FEBRUARY: (1, 2, 0), MARCH: (0, 1, 0)}
    assert {r["organisation_id"] for r in rows} == {data.nursing.pk}


def test_who5_response_rate_counts_answered_and_expired_only(data):
    now = at("2026-03-20", 12)
    who5 = Questionnaire.objects.get(key="who5")
    csi = Questionnaire.objects.get(key="csi")
    plan = data.plan()

    def sent(state: str, day: str, questionnaire: Questionnaire = who5, *, answer: str = "") -> None:
        request = QuestionnaireRequest.objects.create(
            plan=plan,
            questionnaire=questionnaire,
            occurrence=f"o{next(_serial)}",
            opens_on=date.fromisoformat(day),
            expires_on=date.fromisoformat(day) + timedelta(days=14),
            state=state,
            closed_at=None if state == RequestState.OPEN else at(day),
        )
        if answer:
            QuestionnaireResponse.objects.create(
                plan=plan,
                questionnaire=questionnaire,
                request=request,
                answers={},
                raw_score=15,
                score=60,
                max_score=100,
                source=ResponseSource.PORTAL,
                answered_on=date.fromisoformat(day),
                status=answer,
            )

    sent(RequestState.ANSWERED, "2026-02-01", answer=ResponseStatus.COMPLETED)
    sent(RequestState.ANSWERED, "2026-02-05", answer=ResponseStatus.COMPLETED)
    sent(RequestState.EXPIRED, "2026-02-07")
    # Its only answer was entered in error: not answered.
    sent(RequestState.ANSWERED, "2026-02-08", answer=ResponseStatus.ENTERED_IN_ERROR)
    sent(RequestState.OPEN, "2026-03-15")  # still open: left out
    sent(RequestState.CANCELLED, "2026-02-09")  # cancelled: left out
    sent(RequestState.ANSWERED, "2026-02-09", csi, answer=ResponseStatus.COMPLETED)  # another questionnaire

    assert totals("who5-response-rate", now) == {FEBRUARY: (2, 4, 0)}


def test_who5_mean_adds_up_scores_and_their_squares(data):
    now = at("2026-03-20", 12)
    who5 = Questionnaire.objects.get(key="who5")
    plan = data.plan()
    for score, status in [
        (40, ResponseStatus.COMPLETED),
        (60, ResponseStatus.COMPLETED),
        (80, ResponseStatus.COMPLETED),
        (4, ResponseStatus.ENTERED_IN_ERROR),
    ]:
        QuestionnaireResponse.objects.create(
            plan=plan,
            questionnaire=who5,
            answers={},
            raw_score=score // 4,
            score=score,
            max_score=100,
            source=ResponseSource.PORTAL,
            answered_on=date(2026, 3, 1),
            status=status,
        )

    [row] = indicators.cell_counts(indicator("who5-mean"), now=now)
    assert (row["denominator"], row["numerator"], row["missing"]) == (3, 0, 0)
    assert row["value_sum"] == 180.0
    assert row["value_sumsq"] == 40.0**2 + 60.0**2 + 80.0**2


def test_every_shipped_indicator_runs_on_an_empty_database(db):
    for shipped in Indicator.objects.all():
        assert list(indicators.cell_counts(shipped)) == []
    assert Indicator.objects.count() == 9
