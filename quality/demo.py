"""Quality's demo data (run by `manage.py seed_demo` after the other apps): the shipped questionnaires
and indicators, Kirsten's wellbeing answers over the last year, a quality user, and a synthetic population
with a synthetic social background so the dashboard has numbers to show. Idempotent."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from uuid import uuid4

from django.apps import apps
from django.db import connection
from django.db.models import Model
from django.utils import timezone

from pathways.choices import StayClass, StayEnd, StayStatus
from pathways.models import HospitalStay, Task


def seed(write: Callable[[str], Any] | None = None) -> None:  # noqa: ARG001 (seed_demo passes its writer)
    """seed_demo's step for quality."""
    from quality import instruments

    instruments.ship(apps)
    # --- Kirsten's wellbeing (helper "core") ---
    kirsten_wellbeing_seed()
    # --- the quality user (helper "dashboard") ---
    quality_user_seed()
    # --- the synthetic population and social background (helper "indicators") ---
    synthetic_population_seed()


# --- Kirsten's wellbeing (helper "core") --------------------------------------------------------------------

KIRSTEN_CPR = "1403612126"
# Kirsten's WHO-5 over the last year: (days ago, answers cheerful/calm/active/rested/interest, how given).
# Scores 64, 56, 44 (flagged: she called her coordinator, who filled it in with her and has seen the flag)
# and 52.
KIRSTEN_WHO5: list[tuple[int, list[int], str]] = [
    (330, [4, 3, 3, 3, 3], "portal"),
    (240, [3, 3, 3, 3, 2], "portal"),
    (150, [3, 2, 2, 1, 3], "staff_phone"),
    (60, [3, 3, 2, 3, 2], "portal"),
]


def kirsten_wellbeing_seed() -> None:
    """Kirsten's four WHO-5 answers over the last year, scored as quality.services scores them (each portal
    answer with the questionnaire she was sent, answered), and a WHO-5 sent to her today that she can answer
    in the portal. The old ones are history: no message goes for them. Nothing is added where her plan
    already has answers (a second run); the open questionnaire is asked once."""
    from datetime import time, timedelta

    from django.utils import timezone

    from pathways import outbox
    from pathways.models import PathwayPlan, User
    from quality import services
    from quality.choices import RequestState, ResponseSource
    from quality.instruments import WHO5_KEY
    from quality.models import Questionnaire, QuestionnaireRequest, QuestionnaireResponse

    plan = PathwayPlan.objects.open().filter(patient__cpr=KIRSTEN_CPR).first()
    questionnaire = Questionnaire.objects.filter(key=WHO5_KEY).first()
    if plan is None or questionnaire is None:
        return
    coordinator = User.objects.filter(username="koordinator").first()
    today = timezone.localdate()
    if not QuestionnaireResponse.objects.filter(plan=plan, questionnaire=questionnaire).exists():
        scale = services.Scale.of(questionnaire)
        link_ids = [item.link_id for item in scale.items]
        for days_ago, values, source in KIRSTEN_WHO5:
            day = today - timedelta(days=days_ago)
            answers = services.answers_clean(scale=scale, answers=dict(zip(link_ids, values, strict=True)))
            scored = services.response_score(scale=scale, answers=answers)
            request = None
            if source == ResponseSource.PORTAL:
                opened = day - timedelta(days=2)
                request = QuestionnaireRequest.objects.create(
                    plan=plan,
                    questionnaire=questionnaire,
                    occurrence=f"asked:{opened.isoformat()}",
                    opens_on=opened,
                    expires_on=opened + timedelta(days=13),
                    state=RequestState.ANSWERED,
                    closed_at=outbox.local_moment(day, time(19, 30)),
                )
            staff = source != ResponseSource.PORTAL
            QuestionnaireResponse.objects.create(
                plan=plan,
                questionnaire=questionnaire,
                request=request,
                answers=answers,
                **scored.fields(),
                source=source,
                entered_by=coordinator if staff else None,
                entered_by_organisation_id=plan.coordinator_organisation_id if staff else None,
                answered_on=day,
                flag_seen_at=outbox.local_moment(day + timedelta(days=1), time(9, 15))
                if scored.flagged
                else None,
                flag_seen_by=coordinator if scored.flagged else None,
            )
    services.request_send(actor=None, plan=plan, questionnaire=questionnaire, today=today)


# --- the quality user (helper "dashboard") ----------------------------------------------------------------

QUALITY_USERNAME = "kvalitet"
QUALITY_GROUP = "Kvalitet"
QUALITY_PERMISSIONS = ("view_dashboard", "view_indicator")  # app "quality"


def quality_user_seed() -> None:
    """The quality consultant: the group "Kvalitet" with the dashboard's permissions, and Hanne Kvist in it
    with the demo password. No organisation membership, so she opens no plan: she sees the anonymised
    dashboard only. Like the other demo clinicians she has no second step set up (she may add one under
    "Sign-in and security"). Idempotent."""
    from django.contrib.auth.models import Group, Permission

    from pathways.demo import DEMO_PASSWORD
    from pathways.models import User

    group, _created = Group.objects.get_or_create(name=QUALITY_GROUP)
    group.permissions.add(
        *Permission.objects.filter(content_type__app_label="quality", codename__in=QUALITY_PERMISSIONS)
    )
    user = User.objects.filter(username=QUALITY_USERNAME).first()
    if user is None:
        user = User(
            username=QUALITY_USERNAME,
            first_name="Hanne",
            last_name="Kvist",
            title="Kvalitetskonsulent",
            email=f"{QUALITY_USERNAME}@example.invalid",
        )
        user.set_password(DEMO_PASSWORD)
        user.save()
    user.groups.add(group)


# --- the synthetic population and social background (helper "indicators") --------------------------------
#
# ≈ 600 fictional patients (family names marked "(syntetisk)", CPR numbers in a range no demo patient
# uses) with 15 months of history: discharges home from two synthetic hospital departments with the home
# nursing visit, the GP follow-up and the rehabilitation that follow, readmissions, need assessments, a few
# responsibility disputes (all resolved: nothing escalates), "What matters to you?" written or not, WHO-5
# sent and answered or not, and a synthetic social background (legal basis SYNTHETIC). Lower education
# gives somewhat worse results, so the dashboard's gap between groups means something. Every organisation
# and login involved is synthetic: no demo user takes part in these plans, so no caseload changes. The rows
# go in with COPY; `synthetic_history` is shared with `manage.py seed_synthetic_quality` (benchmarks).

SYNTHETIC_MARK = "(syntetisk)"
SYNTHETIC_PATIENTS = 600
SYNTHETIC_SEED = 1612
SYNTHETIC_SOURCE = "Syntetiske data (demo og test): ingen rigtige personer"
SYNTHETIC_USERNAME_PREFIX = "syntetisk-"
HISTORY_DAYS = 456  # ≈ 15 months

# (municipality code, share of the patients, home nursing units, how much better or worse its units do).
SYNTHETIC_MUNICIPALITIES: list[tuple[str, float, tuple[str, ...], float]] = [
    ("265", 0.44, ("Roskilde Øst", "Roskilde Vest"), 0.0),
    ("316", 0.16, ("Holbæk",), -0.07),
    ("259", 0.13, ("Køge",), 0.04),
    ("253", 0.11, ("Greve",), -0.02),
    ("350", 0.09, ("Lejre",), -0.10),
    ("329", 0.07, ("Ringsted",), 0.03),
]
SYNTHETIC_HOSPITALS = [("Sygehus Nord", 0.03), ("Sygehus Syd", -0.04)]
SYNTHETIC_GPS = 10
SYNTHETIC_GIVEN = [
    "Anna", "Bent", "Birthe", "Erik", "Grethe", "Jørgen", "Karin", "Leif", "Lis", "Niels", "Ole", "Pia",
    "Poul", "Ruth", "Svend", "Tove", "Ulla", "Verner", "Yasmin", "Ali", "Fatima", "Mads", "Ida", "Bo",
]  # fmt: skip
SYNTHETIC_FAMILY = [
    "Hansen", "Jensen", "Nielsen", "Pedersen", "Andersen", "Christensen", "Larsen", "Sørensen", "Rasmussen",
    "Jørgensen", "Madsen", "Kristensen", "Olsen", "Thomsen", "Poulsen", "Møller", "Holm", "Lund", "Demir",
]  # fmt: skip
CONDITIONS = [
    ("KOL", "J44"), ("Type 2-diabetes", "E11"), ("Hjertesvigt", "I50"), ("Apopleksi", "I63"),
    ("Artrose", "M17"), ("Kronisk nyresygdom", "N18"),
]  # fmt: skip

# How far each education band is from the best off (0) to the worst off (1); unknown in the middle.
DISADVANTAGE: dict[str, float] = {
    "long_higher": 0.0,
    "short_higher": 0.3,
    "upper_secondary": 0.6,
    "basic": 1.0,
    "": 0.5,
}


@dataclass(frozen=True)
class SyntheticPlan:
    """What `synthetic_history` needs of one synthetic plan: who takes part, and how well the patient's
    circumstances and the local units tend to do (`disadvantage` 0–1, `lean` ± a few points)."""

    plan_id: int
    patient_id: int
    birth_date: date
    started: datetime
    hospital_id: int
    home_nursing_id: int
    rehabilitation_id: int
    gp_id: int
    staff_id: int  # a synthetic clinician of the home nursing unit (assesses, raises disputes, enters)
    education: str
    lean: float = 0.0
    most_stays: int = 4


def synthetic_background(rng: random.Random, *, birth_date: date, today: date) -> tuple[str, str, str]:
    """A plausible (education, employment, income) for a patient born on `birth_date`: older people
    have shorter education; retired from 67; income follows education."""
    age = (today - birth_date).days // 365
    weights = [0.45, 0.35, 0.15, 0.05] if age >= 70 else [0.25, 0.42, 0.23, 0.10]
    education = rng.choices(["basic", "upper_secondary", "short_higher", "long_higher"], weights)[0]
    if age >= 67:
        employment = "retired"
    else:
        employment = rng.choices(
            ["employed", "unemployed", "retired", "other"],
            [0.55 - 0.3 * DISADVANTAGE[education], 0.1 + 0.15 * DISADVANTAGE[education], 0.15, 0.2],
        )[0]
    step = {"basic": 0, "upper_secondary": 1, "short_higher": 2, "long_higher": 3}[education]
    income = ["q1", "q2", "q3", "q4"][min(3, max(0, step + rng.choice([-1, 0, 0, 1])))]
    return education, employment, income


def _p(base: float, slope: float, plan: SyntheticPlan) -> float:
    """A probability: `base` for the best off, `slope` lower for the worst off, moved by the units."""
    return min(0.99, max(0.01, base - slope * DISADVANTAGE.get(plan.education, 0.5) + plan.lean))


def _moment(day: date, hour: int, minute: int = 0) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour, minute)))


class _Rows:
    """Rows for COPY, per model, with their primary keys reserved from the tables' own sequences."""

    def __init__(self) -> None:
        self.rows: dict[type[Model], list[dict[str, Any]]] = {}

    def add(self, model: type[Model], **values: Any) -> dict[str, Any]:
        self.rows.setdefault(model, []).append(values)
        return values

    def write(self, order: Sequence[type[Model]]) -> dict[str, int]:
        written = {}
        for model in order:
            rows = self.rows.get(model, [])
            copy_rows(model, rows)
            written[model.__name__] = len(rows)
        return written


@contextmanager
def triggers_skipped() -> Iterator[None]:
    """Inside a transaction: skip the per-row triggers (the audit history, the foreign-key checks) while
    synthetic rows go in, as seed_synthetic does; it takes a superuser (the development and benchmark
    databases) and otherwise changes nothing. The rows are generated consistent."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        row = cursor.fetchone()
        superuser = bool(row and row[0])
        if superuser:
            cursor.execute("SET LOCAL session_replication_role = replica")
    try:
        yield
    finally:
        if superuser:
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL session_replication_role = origin")


def analyze(models: Sequence[type[Model]]) -> None:
    """Fresh statistics for tables that just grew (the indicators' queries plan badly without)."""
    with connection.cursor() as cursor:
        for model in models:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")


def reserve_ids(model: type[Model], count: int) -> list[int]:
    """`count` primary keys from the table's own sequence (so related rows can go in with COPY at once)."""
    if count <= 0:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [model._meta.db_table, count],
        )
        return [row[0] for row in cursor.fetchall()]


def copy_rows(model: type[Model], rows: Sequence[dict[str, Any]]) -> None:
    """COPY rows (dicts by attribute name, e.g. "plan_id") into the model's table. Columns a row leaves out
    get the field's default (a new UUID, "", an empty list…); timestamps left out are now."""
    if not rows:
        return
    now = timezone.now()
    fields = [
        field
        for field in model._meta.concrete_fields
        if not (field.primary_key and "id" not in rows[0] and field.attname == "id")
    ]
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    with connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg 3 under Django's wrapper
        with raw.copy(f"COPY {model._meta.db_table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                values = []
                for field in fields:
                    if field.attname in row:
                        value = row[field.attname]
                    elif getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
                        value = now
                    else:
                        value = field.get_default()
                    if isinstance(value, dict | list) and field.get_internal_type() == "JSONField":
                        value = json.dumps(value)
                    values.append(value)
                copy.write_row(values)


class _Who5:
    """WHO-5 scored as quality.services scores it (each distinct set of answers scored once)."""

    def __init__(self) -> None:
        from quality import services
        from quality.instruments import WHO5_KEY
        from quality.models import Questionnaire, QuestionnaireSchedule

        self.services = services
        self.questionnaire = Questionnaire.objects.get(key=WHO5_KEY)
        self.scale = services.Scale.of(self.questionnaire)
        self.link_ids = [item.link_id for item in self.scale.items]
        self.schedules = {
            schedule.milestone: schedule
            for schedule in QuestionnaireSchedule.objects.filter(
                questionnaire=self.questionnaire, template__isnull=True, respondent="patient"
            ).order_by("pk")
        }
        self.cache: dict[tuple[int, ...], Any] = {}

    def answers(self, rng: random.Random, mean_score: float) -> tuple[dict[str, int], Any]:
        centre = mean_score / 20  # a score of 0–100 is five answers of 0–5, × 4
        values = tuple(min(5, max(0, round(rng.gauss(centre, 0.9)))) for _ in self.link_ids)
        if values not in self.cache:
            answers = dict(zip(self.link_ids, values, strict=True))
            self.cache[values] = self.services.response_score(scale=self.scale, answers=answers)
        return dict(zip(self.link_ids, values, strict=True)), self.cache[values]


def synthetic_history(
    rng: random.Random, plans: Sequence[SyntheticPlan], *, now: datetime | None = None
) -> dict[str, int]:
    """Write 15 months of history for each synthetic plan (see the section's comment) with COPY: stays,
    follow-up tasks, need assessments, disputes, WHO-5 sent and answered. The plans, their patients and
    their social backgrounds are the caller's. Returns the rows written per model."""
    from coordination.models import Dispute, NeedAssessment
    from quality.models import QuestionnaireRequest, QuestionnaireResponse

    now = now or timezone.now()
    today = timezone.localdate(now)
    who5 = _Who5()
    rows = _Rows()
    stays: list[tuple[SyntheticPlan, dict[str, Any]]] = []
    # The stays first: their ids are needed by the tasks' titles and the WHO-5 after each discharge.
    for plan in plans:
        first = max(timezone.localdate(plan.started), today - timedelta(days=HISTORY_DAYS))
        span = (today - first).days
        if span < 3:
            continue
        day = first + timedelta(days=rng.randint(0, max(0, min(span - 2, 200))))
        readmit = min(0.5, max(0.01, 0.09 + 0.1 * DISADVANTAGE.get(plan.education, 0.5) - plan.lean))
        count = 0
        while day < today - timedelta(days=1) and count < plan.most_stays:
            count += 1
            length = rng.randint(2, 9)
            started = _moment(day, rng.randint(0, 23), rng.randint(0, 59))
            ended_day = min(day + timedelta(days=length), today - timedelta(days=1))
            ended = _moment(ended_day, rng.randint(9, 16), rng.randint(0, 59))
            if ended <= started:
                break
            stay = rows.add(
                HospitalStay,
                public_id=uuid4(),
                patient_id=plan.patient_id,
                plan_id=plan.plan_id,
                hospital_id=plan.hospital_id,
                stay_class=StayClass.INPATIENT,
                status=StayStatus.FINISHED,
                started_at=started,
                ended_at=ended,
                end_reason=StayEnd.DISCHARGED,
                created_at=started,
                updated_at=ended,
            )
            stays.append((plan, stay))
            gap = rng.randint(3, 28) if rng.random() < readmit else rng.randint(45, 260)
            day = ended_day + timedelta(days=gap)
    for (_plan, stay), pk in zip(stays, reserve_ids(HospitalStay, len(stays)), strict=True):
        stay["id"] = pk

    for plan, stay in stays:
        ended = stay["ended_at"]
        ended_day = timezone.localdate(ended)
        noted = _moment(ended_day, 8) if ended.hour >= 9 else stay["started_at"]
        label = f"{ended_day:%d.%m.%Y}"
        # The home nursing visit after the discharge: within 24 hours or later; now and then marked done
        # without the moment it was done (counted as missing).
        roll = rng.random()
        if roll < 0.02:
            visit_done: datetime | None = None
        elif roll < 0.02 + _p(0.97, 0.25, plan):
            visit_done = ended + timedelta(hours=rng.uniform(2, 23))
        else:
            visit_done = ended + timedelta(hours=rng.uniform(26, 100))
        _task(
            rows,
            plan,
            "Hjemmesygeplejebesøg efter udskrivelse " + label,
            "home_visit",
            plan.home_nursing_id,
            plan.staff_id,
            noted,
            ended_day + timedelta(days=1),
            visit_done,
            now,
        )
        # The GP's follow-up: within 7 days or later.
        if rng.random() < _p(0.92, 0.25, plan):
            gp_done = ended + timedelta(days=rng.uniform(1, 6.8))
        else:
            gp_done = ended + timedelta(days=rng.uniform(8, 25))
        _task(
            rows,
            plan,
            "Opfølgning hos egen læge efter udskrivelse " + label,
            "phone_call",
            plan.gp_id,
            None,
            noted,
            ended_day + timedelta(days=7),
            gp_done,
            now,
        )
        # Rehabilitation for some: on the plan by the discharge day, or only days later.
        if rng.random() < 0.45:
            on_time = rng.random() < _p(0.97, 0.2, plan)
            late = timedelta(days=rng.uniform(1.2, 12))
            made = ended - timedelta(hours=rng.uniform(1, 6)) if on_time else ended + late
            if made < stay["started_at"]:
                made = stay["started_at"] + (ended - stay["started_at"]) / 2
            if made > now:
                continue
            _task(
                rows,
                plan,
                "Genoptræning efter udskrivelse " + label,
                "rehabilitation",
                plan.rehabilitation_id,
                None,
                made,
                timezone.localdate(made) + timedelta(days=14),
                made + timedelta(days=rng.uniform(14, 40)),
                now,
            )

    # Need assessments: about a third need a coordinator (most have one); some do not need one now.
    for plan in plans:
        roll = rng.random()
        if roll > 0.55:
            continue
        start = timezone.localdate(plan.started)
        span = max(1, (today - start).days)
        assessed_on = start + timedelta(days=rng.randint(0, min(span, 60)))
        if assessed_on >= today:
            assessed_on = today - timedelta(days=1)
        needs = roll < 0.35
        rows.add(
            NeedAssessment,
            public_id=uuid4(),
            plan_id=plan.plan_id,
            assessed_by_id=plan.staff_id,
            assessed_by_organisation_id=plan.home_nursing_id,
            assessed_on=assessed_on,
            patient_present=True,
            criteria=["multimorbidity", "many_organisations"] if needs else [],
            unplanned_admissions_12m=rng.randint(0, 3),
            outcome="needs_coordinator" if needs else "no_need",
            review_date=assessed_on + timedelta(days=180),
            created_at=_moment(assessed_on, 11),
        )

    # A few responsibility disputes, each resolved (within 10 working days or later).
    tasks = rows.rows.get(Task, [])
    task_ids = reserve_ids(Task, len(tasks))
    for task, pk in zip(tasks, task_ids, strict=True):
        task["id"] = pk
    by_plan: dict[int, dict[str, Any]] = {}
    for task in tasks:
        if task["kind"] in ("rehabilitation", "home_visit"):
            by_plan.setdefault(task["plan_id"], task)
    disputes: list[dict[str, Any]] = []
    parties: list[tuple[dict[str, Any], tuple[int, int]]] = []
    for plan in plans:
        disputed = by_plan.get(plan.plan_id)
        if disputed is None or rng.random() > 0.1:
            continue
        raised = disputed["created_at"] + timedelta(hours=rng.uniform(1, 30))
        if raised >= now - timedelta(days=30):
            continue
        days = rng.uniform(2, 12) if rng.random() < _p(0.9, 0.2, plan) else rng.uniform(16, 40)
        dispute = rows.add(
            Dispute,
            public_id=uuid4(),
            plan_id=plan.plan_id,
            task_id=disputed["id"],
            question="who_acts",
            reason="Uenighed om hvem der står for opgaven efter udskrivelsen.",
            interim_organisation_id=plan.home_nursing_id,
            interim_note="Hjemmesygeplejen tager sig af det i mellemtiden.",
            raised_by_id=plan.staff_id,
            raised_by_organisation_id=plan.home_nursing_id,
            raised_at=raised,
            status="resolved",
            decision="Kommunen står for opgaven.",
            decided_organisation_id=plan.home_nursing_id,
            resolved_by_id=plan.staff_id,
            resolved_at=raised + timedelta(days=days),
        )
        disputes.append(dispute)
        parties.append((dispute, (plan.home_nursing_id, plan.hospital_id)))
    for dispute, pk in zip(disputes, reserve_ids(Dispute, len(disputes)), strict=True):
        dispute["id"] = pk

    # WHO-5 at each of the schedule's milestones so far (the occurrences the schedule job uses, so it asks
    # none of them again): answered or not, and the answers' score.
    by_plan_stays: dict[int, list[dict[str, Any]]] = {}
    for plan, stay in stays:
        by_plan_stays.setdefault(plan.plan_id, []).append(stay)
    requests: list[tuple[SyntheticPlan, dict[str, Any]]] = []
    for plan in plans:
        start = timezone.localdate(plan.started)
        asks: list[tuple[str, date, str]] = [("start", start, "plan_start")]
        for k in range(1, 4):
            asks.append((f"every:{k}", who5.services.add_months(start, 6 * k), "every_months"))
        for stay in by_plan_stays.get(plan.plan_id, []):
            asks.append(
                (
                    f"discharge:{stay['public_id']}",
                    timezone.localdate(stay["ended_at"]) + timedelta(days=30),
                    "after_discharge",
                )
            )
        taken: list[date] = []
        for occurrence, opens_on, milestone in sorted(asks, key=lambda ask: ask[1]):
            if opens_on > today or any(abs((opens_on - other).days) < 14 for other in taken):
                continue  # not yet; or one WHO-5 at a time
            taken.append(opens_on)
            expires_on = opens_on + timedelta(days=13)
            schedule = who5.schedules.get(milestone)
            request = rows.add(
                QuestionnaireRequest,
                public_id=uuid4(),
                plan_id=plan.plan_id,
                questionnaire_id=who5.questionnaire.pk,
                schedule_id=schedule.pk if schedule is not None else None,
                occurrence=occurrence,
                opens_on=opens_on,
                expires_on=expires_on,
                state="open",
                reminder_keys=[],
                created_at=_moment(opens_on, 7),
                closed_at=None,
            )
            if expires_on < today:
                if rng.random() < _p(0.85, 0.35, plan):
                    request["state"] = "answered"
                    answered_on = opens_on + timedelta(days=rng.randint(0, 12))
                    request["closed_at"] = _moment(answered_on, 19, 30)
                    request["ff_answered_on"] = answered_on
                else:
                    request["state"] = "expired"
                    request["closed_at"] = _moment(expires_on + timedelta(days=1), 2)
            requests.append((plan, request))
    for (_plan, request), pk in zip(requests, reserve_ids(QuestionnaireRequest, len(requests)), strict=True):
        request["id"] = pk
    for plan, request in requests:
        answered_on = request.pop("ff_answered_on", None)
        if answered_on is None:
            continue
        answers, scored = who5.answers(rng, rng.gauss(66 - 20 * DISADVANTAGE.get(plan.education, 0.5), 12))
        by_staff = rng.random() < 0.15
        rows.add(
            QuestionnaireResponse,
            public_id=uuid4(),
            plan_id=plan.plan_id,
            questionnaire_id=who5.questionnaire.pk,
            request_id=request["id"],
            relative_id=None,
            answers=answers,
            **scored.fields(),
            source="staff_phone" if by_staff else "portal",
            entered_by_id=plan.staff_id if by_staff else None,
            entered_by_organisation_id=plan.home_nursing_id if by_staff else None,
            answered_on=answered_on,
            status="completed",
            # Seen by the (synthetic) coordinator the day after: nothing waits on anyone's worklist.
            flag_seen_at=_moment(answered_on + timedelta(days=1), 9) if scored.flagged else None,
            flag_seen_by_id=plan.staff_id if scored.flagged else None,
            created_at=_moment(answered_on, 19, 30),
            version=1,
        )

    written = rows.write(
        [HospitalStay, Task, NeedAssessment, Dispute, QuestionnaireRequest, QuestionnaireResponse]
    )
    copy_rows(
        Dispute.parties.through,
        [
            {"dispute_id": dispute["id"], "organisation_id": organisation}
            for dispute, organisations in parties
            for organisation in organisations
        ],
    )
    return written


def _task(
    rows: _Rows,
    plan: SyntheticPlan,
    title: str,
    kind: str,
    organisation_id: int,
    person_id: int | None,
    created: datetime,
    due: date,
    done: datetime | None,
    now: datetime,
) -> None:
    """A follow-up task written at `created`, done at `done` (None: marked done without the moment; in
    the future: not done yet)."""
    finished = done is None or done <= now
    rows.add(
        Task,
        public_id=uuid4(),
        plan_id=plan.plan_id,
        title=title,
        kind=kind,
        responsible_organisation_id=organisation_id,
        responsible_person_id=person_id,
        due_date=due,
        status="completed" if finished else "accepted",
        visible_to_patient=True,
        version=2 if finished else 1,
        created_at=created,
        updated_at=done if done is not None and finished else created,
        completed_at=done if finished else None,
    )


def _synthetic_cpr(rng: random.Random, born: date, taken: set[str]) -> str:
    """A CPR number for the birth date that passes modulus 11, with digit 7 = 3 (born 1900–1999): the
    demo's synthetic range (seed_synthetic uses 1…, the demo patients others)."""
    from pathways.cpr import cpr_passes_modulus11

    start = rng.randint(0, 999)
    for step in range(1000):
        number = f"{born:%d%m%y}3{(start + step) % 1000:03d}"
        if number not in taken and cpr_passes_modulus11(number):
            taken.add(number)
            return number
    raise RuntimeError("No synthetic CPR number left for the day.")


def synthetic_population_seed(*, patients: int = SYNTHETIC_PATIENTS) -> int:
    """The demo's synthetic population (see the section's comment), then a first summary refresh so the
    dashboard has numbers at once. Once only: nothing is added when the population is there, and the
    summary is refreshed again only if it never was. Returns how many patients it added."""
    from pathways.choices import MembershipRole, PlanStatus, Sector
    from pathways.models import Membership, Organisation, PathwayPlan, Patient
    from pathways.models import User as StaffUser
    from quality import summaries
    from quality.choices import LegalBasis, RefreshState
    from quality.models import IndicatorRefresh

    if Patient.objects.filter(family_name__endswith=SYNTHETIC_MARK).exists():
        if not IndicatorRefresh.objects.filter(state=RefreshState.DONE).exists():
            summaries.refresh_in_transaction()
        return 0
    rng = random.Random(SYNTHETIC_SEED)  # noqa: S311 - synthetic data, not security
    now = timezone.now()
    today = timezone.localdate(now)

    def organisation(
        sor_code: str, name: str, sector: str, parent: Organisation | None = None
    ) -> Organisation:
        # No municipality code or service: the pathway templates never pick a synthetic unit for a demo
        # patient's follow-up.
        found, _created = Organisation.objects.get_or_create(
            sor_code=sor_code,
            defaults={"name": f"{name} {SYNTHETIC_MARK}", "sector": sector, "parent": parent},
        )
        return found

    def clinician(username: str, first_name: str, unit: Organisation) -> StaffUser:
        user = StaffUser.objects.filter(username=username).first()
        if user is None:
            user = StaffUser(username=username, first_name=first_name, last_name=SYNTHETIC_MARK)
            user.set_unusable_password()  # nobody signs in as a synthetic clinician
            user.save()
        Membership.objects.get_or_create(
            user=user, organisation=unit, defaults={"role": MembershipRole.COORDINATOR}
        )
        return user

    departments = []
    for number, (name, lean) in enumerate(SYNTHETIC_HOSPITALS, start=1):
        hospital = organisation(f"9909000000{number:02d}0", name, Sector.HOSPITAL)
        department = organisation(
            f"9909000000{number:02d}1", f"Medicinsk afdeling, {name}", Sector.HOSPITAL, hospital
        )
        departments.append((department, lean))
    units: list[tuple[str, Organisation, Organisation, StaffUser, float]] = []
    for m, (code, _share, names, lean) in enumerate(SYNTHETIC_MUNICIPALITIES, start=1):
        rehabilitation = organisation(
            f"99091{m:02d}000090", f"Genoptræning {names[0].split()[0]}", Sector.MUNICIPALITY
        )
        for u, name in enumerate(names, start=1):
            unit = organisation(f"99091{m:02d}0000{u:02d}", f"Hjemmesygeplejen {name}", Sector.MUNICIPALITY)
            staff = clinician(f"{SYNTHETIC_USERNAME_PREFIX}hjsp-{m}-{u}", "Syntetisk", unit)
            units.append(
                (code, unit, rehabilitation, staff, lean + (0.03 if u == 1 else -0.06) * (len(names) > 1))
            )
    gps = [
        organisation(f"99092000000{g:02d}", f"Lægehuset {g}", Sector.GENERAL_PRACTICE)
        for g in range(1, SYNTHETIC_GPS + 1)
    ]
    codes = [code for code, _share, _names, _lean in SYNTHETIC_MUNICIPALITIES]
    shares = [share for _code, share, _names, _lean in SYNTHETIC_MUNICIPALITIES]

    taken = set(Patient.objects.values_list("cpr", flat=True))
    patient_rows: list[dict[str, Any]] = []
    plan_rows: list[dict[str, Any]] = []
    synthetic: list[SyntheticPlan] = []
    backgrounds: list[dict[str, Any]] = []
    patient_ids = reserve_ids(Patient, patients)
    plan_ids = reserve_ids(PathwayPlan, patients)
    roskilde_unknown = 0
    for i in range(patients):
        code = rng.choices(codes, shares)[0]
        unit_code, unit, rehabilitation, staff, lean = rng.choice([u for u in units if u[0] == code])
        department, hospital_lean = departments[i % len(departments)]
        gp = gps[i % len(gps)]
        born = date(1930, 1, 1) + timedelta(days=rng.randint(0, 60 * 365))
        started = now - timedelta(days=rng.randint(20, HISTORY_DAYS + 60), hours=rng.randint(0, 8))
        # A few without a known background: in Roskilde only two, so that their group is a small cell.
        known = rng.random() > 0.04 if code != "265" else roskilde_unknown >= 2
        most_stays = 4
        if not known:
            roskilde_unknown += code == "265"
            if code == "265":
                most_stays = 1
        education = ""
        if known:
            education, employment, income = synthetic_background(rng, birth_date=born, today=today)
            backgrounds.append(
                {
                    "patient_id": patient_ids[i],
                    "education": education,
                    "employment": employment,
                    "income": income,
                    "legal_basis": LegalBasis.SYNTHETIC,
                    "source": SYNTHETIC_SOURCE,
                    "recorded_at": now,
                }
            )
        plan = SyntheticPlan(
            plan_id=plan_ids[i],
            patient_id=patient_ids[i],
            birth_date=born,
            started=started,
            hospital_id=department.pk,
            home_nursing_id=unit.pk,
            rehabilitation_id=rehabilitation.pk,
            gp_id=gp.pk,
            staff_id=staff.pk,
            education=education,
            lean=lean + hospital_lean / 2,
            most_stays=most_stays,
        )
        synthetic.append(plan)
        patient_rows.append(
            {
                "id": patient_ids[i],
                "cpr": _synthetic_cpr(rng, born, taken),
                "birth_date": born,
                "given_name": rng.choice(SYNTHETIC_GIVEN),
                "family_name": f"{rng.choice(SYNTHETIC_FAMILY)} {SYNTHETIC_MARK}",
                "home_municipality": unit_code,
                "general_practice_id": gp.pk,
                "created_at": started,
                "updated_at": started,
            }
        )
        plan_rows.append(
            {
                "id": plan_ids[i],
                "patient_id": patient_ids[i],
                "title": "Fælles forløbsplan",
                "what_matters": "At kunne klare mig selv derhjemme."
                if rng.random() < _p(0.97, 0.3, plan)
                else "",
                "status": PlanStatus.ACTIVE,
                "review_date": today + timedelta(days=rng.randint(10, 120)),
                "coordinator_id": staff.pk if rng.random() < _p(0.99, 0.2, plan) else None,
                "coordinator_organisation_id": unit.pk,
                "version": 1,
                "created_at": started,
                "updated_at": started,
            }
        )
    with triggers_skipped():
        _population_write(rng, synthetic, patient_rows, plan_rows, backgrounds, now=now)
    analyze(synthetic_tables())
    summaries.refresh_in_transaction()
    return patients


def synthetic_tables() -> list[type[Model]]:
    """The tables the synthetic population writes."""
    from coordination.models import Dispute, NeedAssessment
    from pathways.models import PathwayPlan, Patient, PlanParticipant
    from quality.models import QuestionnaireRequest, QuestionnaireResponse, SocialBackground

    return [
        Patient, PathwayPlan, PlanParticipant, HospitalStay, Task, NeedAssessment, Dispute,
        QuestionnaireRequest, QuestionnaireResponse, SocialBackground,
    ]  # fmt: skip


def _population_write(
    rng: random.Random,
    synthetic: list[SyntheticPlan],
    patient_rows: list[dict[str, Any]],
    plan_rows: list[dict[str, Any]],
    backgrounds: list[dict[str, Any]],
    *,
    now: datetime,
) -> None:
    from pathways.models import PathwayPlan, Patient, PlanCondition, PlanParticipant
    from quality.models import SocialBackground

    copy_rows(Patient, patient_rows)
    copy_rows(PathwayPlan, plan_rows)
    copy_rows(
        PlanParticipant,
        [
            {
                "plan_id": plan.plan_id,
                "organisation_id": organisation_id,
                "added_at": plan.started,
                # The home nursing unit's clinician accepted; the others have not said yet.
                "accepted_at": plan.started if organisation_id == plan.home_nursing_id else None,
                "accepted_by_id": plan.staff_id if organisation_id == plan.home_nursing_id else None,
            }
            for plan in synthetic
            for organisation_id in (plan.hospital_id, plan.home_nursing_id, plan.gp_id)
        ],
    )
    copy_rows(
        PlanCondition,
        [
            {"plan_id": plan.plan_id, "display": display, "icd10_code": icd10}
            for plan in synthetic
            for display, icd10 in rng.sample(CONDITIONS, 2)
        ],
    )
    copy_rows(SocialBackground, backgrounds)
    synthetic_history(rng, synthetic, now=now)
