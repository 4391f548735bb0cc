"""`manage.py seed_synthetic --patients N`: a large, realistic synthetic dataset for benchmarks.

Grows the synthetic population to N patients (idempotent: running it again with the same N adds
nothing; resumable: a stopped run goes on from its last whole batch). Each patient gets one active plan
with, on average, 12 tasks across hospital, municipality and general practice, a few goals, three
participating organisations and the history of `--history-months` (24) of use: tasks done in the past,
accepted commitments, `--reads-per-month` reads of the plan a month in the access log, an audit-trail
insert event for every row (and the update that completed a task), and the coordinator's in-app notices.
Organisations: 5 regional hospitals with departments, the 98 municipalities with home nursing and
rehabilitation, and 1,500 GP clinics. Rows go in with COPY and INSERT … SELECT in batches; everything is
fictional. The other apps add their part with their own commands (seed_synthetic_relatives,
seed_synthetic_coordination, seed_synthetic_quality).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, cast
from uuid import uuid4

from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.core.management.base import BaseCommand, CommandParser
from django.db import connection, transaction
from django.db.models import Field, Model
from django.utils import timezone

from pathways import partitions
from pathways.choices import (
    MUNICIPALITIES,
    AccessAction,
    AccessPurpose,
    MembershipRole,
    MunicipalService,
    NotificationChannel,
    NotificationKind,
    NotificationState,
    PlanStatus,
    Sector,
    TaskKind,
    TaskStatus,
)
from pathways.management.synthetic import progress, without_audit_triggers
from pathways.models import (
    Goal,
    Membership,
    Organisation,
    PathwayPlan,
    Patient,
    PlanCondition,
    PlanParticipant,
    Task,
    User,
    event_model_label,
)

SOR_PREFIX = "SYN"
# A coordinator in home nursing coordinates about this many plans (the worklist's length).
PLANS_PER_COORDINATOR = 100
BATCH = 2000
GIVEN = [
    "Anne",
    "Bent",
    "Birgit",
    "Erik",
    "Hanne",
    "Jens",
    "Karen",
    "Lars",
    "Lone",
    "Niels",
    "Ole",
    "Pia",
    "Poul",
    "Rita",
    "Søren",
    "Tove",
    "Ulla",
    "Villy",
    "Yasmin",
    "Ahmed",
    "Fatima",
    "Mads",
    "Ida",
    "Emil",
]
FAMILY = [
    "Hansen",
    "Jensen",
    "Nielsen",
    "Pedersen",
    "Andersen",
    "Christensen",
    "Larsen",
    "Sørensen",
    "Rasmussen",
    "Jørgensen",
    "Petersen",
    "Madsen",
    "Kristensen",
    "Olsen",
    "Thomsen",
    "Poulsen",
    "Johansen",
    "Møller",
    "Mortensen",
    "Yilmaz",
    "Holm",
    "Berg",
    "Lund",
    "Dahl",
]
CONDITIONS = [
    ("KOL", "J44"),
    ("Type 2-diabetes", "E11"),
    ("Hjertesvigt", "I50"),
    ("Apopleksi", "I63"),
    ("Depression", "F32"),
    ("Artrose", "M17"),
    ("Kronisk nyresygdom", "N18"),
    ("Demens", "F03"),
]
TASKS = [
    (Sector.HOSPITAL, TaskKind.APPOINTMENT, "Ambulant kontrol"),
    (Sector.HOSPITAL, TaskKind.REFERRAL, "Genoptræningsplan ved udskrivelse"),
    (Sector.HOSPITAL, TaskKind.PHONE_CALL, "Telefonkonsultation"),
    (Sector.HOSPITAL, TaskKind.APPOINTMENT, "Blodprøver og måling"),
    (Sector.MUNICIPALITY, TaskKind.HOME_VISIT, "Hjemmesygeplejebesøg"),
    (Sector.MUNICIPALITY, TaskKind.REHABILITATION, "Genoptræning"),
    (Sector.MUNICIPALITY, TaskKind.ASSISTIVE_DEVICE, "Hjælpemiddel"),
    (Sector.MUNICIPALITY, TaskKind.QUESTIONNAIRE, "Trivselsskema (WHO-5)"),
    (Sector.MUNICIPALITY, TaskKind.HOME_VISIT, "Opfølgende hjemmebesøg"),
    (Sector.GENERAL_PRACTICE, TaskKind.MEDICATION_REVIEW, "Medicingennemgang"),
    (Sector.GENERAL_PRACTICE, TaskKind.APPOINTMENT, "Årskontrol hos egen læge"),
    (Sector.GENERAL_PRACTICE, TaskKind.PHONE_CALL, "Opfølgning efter udskrivelse"),
]  # fmt: skip


class Command(BaseCommand):
    help = "Grow the synthetic dataset to N patients with realistic multi-sector plans (for benchmarks)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--patients", type=int, required=True)
        parser.add_argument("--seed", type=int, default=2026)
        parser.add_argument(
            "--reads-per-month",
            type=int,
            default=1,
            help="access-log rows per plan and month of history (the country's real rate is about 10; "
            "docs/scaling.md says why the benchmark writes fewer)",
        )
        parser.add_argument("--history-months", type=int, default=24, help="how far back the history goes")

    def handle(
        self, *args: Any, patients: int, seed: int, reads_per_month: int, history_months: int, **options: Any
    ) -> None:
        started = time.monotonic()
        self._coordinators: dict[str, User] = {}
        orgs = self._organisations()
        users = self._users(orgs)
        history = History(months=history_months, reads_per_month=reads_per_month)
        # The access log and audit rows of the past go straight into their months' partitions.
        partitions.partitions_maintain(since=(timezone.now() - history.span).date())
        # Resumable: each batch of patients is one transaction with its own random seed, so a run that is
        # stopped (or dies) goes on from the last whole batch and makes the same patients, plans and tasks as
        # one that was not.
        existing = Patient.objects.filter(family_name__startswith="Syn-").count()
        self.stdout.write(f"Synthetic patients: {existing:,} existing, target {patients:,}")
        with progress(total=max(patients, existing), initial=existing, unit=" patients") as bar:
            for start in range(existing, patients, BATCH):
                stop = min(start + BATCH, patients)
                rng = random.Random(f"{seed}:{start}")  # noqa: S311 - synthetic data, not security
                with transaction.atomic():
                    without_audit_triggers()
                    plan_ids = self._batch(rng, start, stop, orgs, users)
                    history.write(plan_ids)
                bar.update(stop - start)
                if bar.disable:
                    rate = (stop - existing) / max(time.monotonic() - started, 0.001)
                    self.stdout.write(f"  {stop:>9,} patients  ({rate:,.0f} patients/s)")
        self.stdout.write(self.style.SUCCESS(f"Done in {time.monotonic() - started:.1f} s"))

    def _organisations(self) -> dict[str, list[Organisation]]:
        wanted: list[tuple[str, str, Sector, str | None]] = []
        for r in range(5):
            wanted.append((f"{SOR_PREFIX}-H{r}", f"Syntetisk sygehus {r + 1}", Sector.HOSPITAL, None))
            for d, name in enumerate(["Medicinsk afdeling", "Lungemedicinsk amb.", "Endokrinologisk amb."]):
                wanted.append(
                    (f"{SOR_PREFIX}-H{r}-{d}", f"{name} {r + 1}", Sector.HOSPITAL, f"{SOR_PREFIX}-H{r}")
                )
        for code, name in MUNICIPALITIES:
            wanted.append((f"{SOR_PREFIX}-K{code}", f"{name} Kommune", Sector.MUNICIPALITY, None))
            wanted.append((f"{SOR_PREFIX}-K{code}-HS", f"Hjemmesygeplejen {name}", Sector.MUNICIPALITY,
                           f"{SOR_PREFIX}-K{code}"))  # fmt: skip
            wanted.append((f"{SOR_PREFIX}-K{code}-GT", f"Genoptræning {name}", Sector.MUNICIPALITY,
                           f"{SOR_PREFIX}-K{code}"))  # fmt: skip
        for g in range(1500):
            wanted.append((f"{SOR_PREFIX}-G{g}", f"Lægepraksis {g + 1}", Sector.GENERAL_PRACTICE, None))
        have = {o.sor_code: o for o in Organisation.objects.filter(sor_code__startswith=f"{SOR_PREFIX}-")}
        missing = [w for w in wanted if w[0] not in have]
        services = {"HS": MunicipalService.HOME_NURSING, "GT": MunicipalService.REHABILITATION}
        for sor, name, sector, parent in sorted(missing, key=lambda w: w[3] is not None):
            # SYN-K265-HS: home nursing of municipality 265 (discharge follow-ups find it by these two).
            parts = sor.split("-")
            municipal = sector == Sector.MUNICIPALITY
            have[sor] = Organisation.objects.create(
                sor_code=sor,
                name=name,
                sector=sector,
                parent=have[parent] if parent else None,
                municipality_code=parts[1][1:] if municipal else "",
                municipal_service=services.get(parts[-1], "") if municipal else "",
            )
        return {
            "departments": [
                o for s, o in have.items() if s.startswith(f"{SOR_PREFIX}-H") and s.count("-") == 2
            ],
            "home_nursing": [o for s, o in have.items() if s.endswith("-HS")],
            "rehabilitation": [o for s, o in have.items() if s.endswith("-GT")],
            "gp": [o for s, o in have.items() if s.startswith(f"{SOR_PREFIX}-G")],
        }

    def _users(self, orgs: dict[str, list[Organisation]]) -> dict[int, User]:
        """One clinician per home-nursing unit, department and GP clinic (named syn-<sor>)."""
        users = {u.username: u for u in User.objects.filter(username__startswith="syn-")}
        result: dict[int, User] = {}
        for org in [*orgs["home_nursing"], *orgs["departments"], *orgs["gp"]]:
            username = f"syn-{org.sor_code.lower()}"
            user = users.get(username)
            if user is None:
                user = User.objects.create(username=username, first_name="Syntetisk", last_name=org.name)
                Membership.objects.create(user=user, organisation=org, role=MembershipRole.CLINICIAN)
            result[org.pk] = user
        return result

    def _coordinator(self, home: Organisation, number: int) -> User:
        """The home-nursing unit's coordinator number `number` (each coordinates PLANS_PER_COORDINATOR
        plans, so a coordinator's worklist is as long in a small data set as in the country's)."""
        username = f"syn-{home.sor_code.lower()}-k{number}"
        user = self._coordinators.get(username)
        if user is None:
            user = User.objects.filter(username=username).first()
            if user is None:
                user = User.objects.create(username=username, first_name="Koordinator", last_name=home.name)
                Membership.objects.create(user=user, organisation=home, role=MembershipRole.COORDINATOR)
            self._coordinators[username] = user
        return user

    def _batch(
        self,
        rng: random.Random,
        start: int,
        stop: int,
        orgs: dict[str, list[Organisation]],
        users: dict[int, User],
    ) -> list[int]:
        today = timezone.localdate()
        today_ts = timezone.now()
        n_mun = len(MUNICIPALITIES)
        patients = []
        for i in range(start, stop):
            born = date(1930, 1, 1) + timedelta(days=i % 21900)  # 1930–1989
            serial = 1000 + i // 21900  # digit 7 = 1: born in the 1900s
            patients.append(
                Patient(
                    cpr=f"{born:%d%m%y}{serial:04d}",
                    birth_date=born,
                    given_name=rng.choice(GIVEN),
                    family_name=f"Syn-{rng.choice(FAMILY)}",
                    home_municipality=MUNICIPALITIES[i % n_mun][0],
                    phone=f"{rng.randint(20000000, 99999999)}",
                )
            )
        for patient, pk in zip(patients, _next_ids(Patient, len(patients)), strict=True):
            patient.pk = pk
        _copy(
            Patient,
            ["id", "public_id", "cpr", "birth_date", "given_name", "family_name", "address", "postal_code",
             "city", "phone", "email", "home_municipality", "preferred_contact", "language",
             "interpreter_needed", "general_practice", "created_at", "updated_at"],
            [(p.pk, p.public_id, p.cpr, p.birth_date, p.given_name, p.family_name, "", "", "", p.phone, "",
              p.home_municipality, p.preferred_contact, "da", False, orgs["gp"][i % len(orgs["gp"])].pk,
              today_ts, today_ts) for i, p in enumerate(patients, start=start)],
        )  # fmt: skip
        plans, triples = [], []
        for i, patient in enumerate(patients, start=start):
            home = orgs["home_nursing"][i % n_mun]
            rehab = orgs["rehabilitation"][i % n_mun]
            dept = orgs["departments"][i % len(orgs["departments"])]
            gp = orgs["gp"][i % len(orgs["gp"])]
            coordinator = self._coordinator(home, (i // n_mun) // PLANS_PER_COORDINATOR)
            plans.append(
                PathwayPlan(
                    patient=patient,
                    title="Fælles forløbsplan",
                    what_matters="At kunne klare mig selv derhjemme.",
                    status=PlanStatus.ACTIVE,
                    review_date=today + timedelta(days=rng.randint(10, 120)),
                    coordinator=coordinator,
                    coordinator_organisation=home,
                    version=rng.randint(1, 9),
                )
            )
            triples.append((dept, home, rehab, gp))
        for plan, pk in zip(plans, _next_ids(PathwayPlan, len(plans)), strict=True):
            plan.pk = pk
        _copy(
            PathwayPlan,
            ["id", "public_id", "patient", "title", "what_matters", "status", "review_date",
             "coordinator", "coordinator_organisation", "coordinator_phone", "coordinator_substitute",
             "resume_services_on_leave", "version", "created_by", "created_at", "updated_at"],
            [(p.pk, p.public_id, p.patient.pk, p.title, p.what_matters, p.status, p.review_date,
              p.coordinator_id, p.coordinator_organisation_id, "", None, False, p.version, None, today_ts,
              today_ts) for p in plans],
        )  # fmt: skip
        # The bulk of the rows (≈ 20 per patient) goes in with COPY: model instances and bound INSERTs
        # made the first version ≈ 40 times slower.
        conditions: list[tuple[Any, ...]] = []
        participants: list[tuple[Any, ...]] = []
        goals: list[tuple[Any, ...]] = []
        tasks: list[tuple[Any, ...]] = []
        now = timezone.now()
        for plan, (dept, home, rehab, gp) in zip(plans, triples, strict=True):
            for display, code in rng.sample(CONDITIONS, 2):
                conditions.append((plan.pk, display, code))
            for org in (dept, home, gp):
                accepted = rng.random() < 0.8
                participants.append(
                    (uuid4(), plan.pk, org.pk, "", now, None, now if accepted else None,
                     users[org.pk].pk if accepted else None)
                )  # fmt: skip
            for order, text in enumerate(["Færre akutte indlæggelser", "Klare hverdagen selv"]):
                goals.append((uuid4(), plan.pk, text, "", "active", None, order, "", 1, None, now, now))
            by_sector = {Sector.HOSPITAL: dept, Sector.MUNICIPALITY: home, Sector.GENERAL_PRACTICE: gp}
            for _ in range(rng.randint(6, 18)):  # 12 on average
                sector, kind, title = rng.choice(TASKS)
                org = rehab if kind == TaskKind.REHABILITATION else by_sector[sector]
                due = today + timedelta(days=rng.randint(-90, 120))
                done = due < today and rng.random() < 0.8
                status = TaskStatus.COMPLETED if done else rng.choice(OPEN)
                person = users.get(org.pk)
                tasks.append(
                    (uuid4(), plan.pk, None, title, "", kind.value, org.pk, person.pk if person else None,
                     None, due, status.value, True, None, "", "", None, rng.randint(1, 4), None, now, now,
                     now - timedelta(days=(today - due).days) if done else None)
                )  # fmt: skip
        _copy(PlanCondition, ["plan", "display", "icd10_code"], conditions)
        _copy(
            PlanParticipant,
            ["public_id", "plan", "organisation", "commitment", "added_at", "added_by", "accepted_at",
             "accepted_by"],
            participants,
        )  # fmt: skip
        _copy(
            Goal,
            ["public_id", "plan", "description", "expected_result", "status", "target_date", "sort_order",
             "template_key", "version", "created_by", "created_at", "updated_at"],
            goals,
        )  # fmt: skip
        _copy(
            Task,
            ["public_id", "plan", "goal", "title", "description", "kind", "responsible_organisation",
             "responsible_person", "window_start", "due_date", "status", "visible_to_patient", "depends_on",
             "hold_reason", "template_key", "created_by_transition", "version", "created_by", "created_at",
             "updated_at", "completed_at"],
            tasks,
        )  # fmt: skip
        return [plan.pk for plan in plans]


OPEN = [TaskStatus.REQUESTED, TaskStatus.ACCEPTED, TaskStatus.IN_PROGRESS]

# The rows of a batch whose audit trail History writes: the model, which of its rows (SQL on `t`, with
# %(plans)s the batch's plan ids), and when each was made (SQL; `now` and `span` as in History).
_PLAN_ROWS = "t.plan_id = ANY(%(plans)s)"
_SOME_TIME_AGO = "%(now)s - random() * %(span)s"
AUDITED_ROWS: list[tuple[type[Model], str, str]] = [
    (
        Patient,
        "t.id IN (SELECT patient_id FROM pathways_pathwayplan WHERE id = ANY(%(plans)s))",
        _SOME_TIME_AGO,
    ),
    (PathwayPlan, "t.id = ANY(%(plans)s)", _SOME_TIME_AGO),
    (PlanCondition, _PLAN_ROWS, _SOME_TIME_AGO),
    (PlanParticipant, _PLAN_ROWS, _SOME_TIME_AGO),
    (Goal, _PLAN_ROWS, _SOME_TIME_AGO),
    # A task was planned some weeks before it fell due.
    (Task, _PLAN_ROWS, "LEAST(t.due_date::timestamptz, %(now)s) - random() * interval '60 days'"),
]


@dataclass(frozen=True)
class History:
    """What `months` of use leave behind a batch of plans, written by the database itself (INSERT …
    SELECT, so no row crosses the wire): `reads_per_month` reads of each plan a month in the access log,
    by its organisations' clinicians in turn (their times, ids and UUIDs are the database's random ones: a
    resumed run's history has the same shape, not the same rows); the audit trail's insert event of every
    row the batch made and the update that completed a task; three in-app notices to the coordinator, two
    of them read."""

    months: int
    reads_per_month: int

    @property
    def span(self) -> timedelta:
        return timedelta(days=self.months * 30)  # never before the retention's first month

    def write(self, plan_ids: list[int]) -> None:
        params: dict[str, Any] = {"plans": plan_ids, "now": timezone.now(), "span": self.span}
        with connection.cursor() as cursor:
            self._reads(cursor, params)
            self._audit_trail(cursor, params)
            self._notices(cursor, params)

    def _reads(self, cursor: Any, params: dict[str, Any]) -> None:
        cursor.execute(
            # One reader per organisation taking part: its clinician (a home-nursing unit's coordinators
            # read only the plans they coordinate, through the page, not here).
            "WITH clinicians AS ("
            " SELECT DISTINCT ON (pp.id) pp.id, pp.plan_id, pp.organisation_id, m.user_id"
            " FROM pathways_planparticipant pp"
            " JOIN pathways_membership m ON m.organisation_id = pp.organisation_id AND m.ended_at IS NULL"
            " WHERE pp.plan_id = ANY(%(plans)s)"
            " ORDER BY pp.id, m.role <> %(clinician)s, m.user_id),"
            " readers AS ("
            " SELECT plan_id, organisation_id, user_id,"
            "  row_number() OVER (PARTITION BY plan_id ORDER BY id) - 1 AS k,"
            "  count(*) OVER (PARTITION BY plan_id) AS n"
            " FROM clinicians)"
            " INSERT INTO pathways_accesslog"
            " (public_id, at, actor_id, organisation_id, patient_id, plan_id, action, purpose, reason)"
            " SELECT gen_random_uuid(), %(now)s - random() * %(span)s, r.user_id, r.organisation_id,"
            "  p.patient_id, p.id, %(action)s, %(purpose)s, ''"
            " FROM pathways_pathwayplan p CROSS JOIN generate_series(0, %(reads)s - 1) AS g(i)"
            " JOIN readers r ON r.plan_id = p.id AND r.k = g.i %% r.n"
            " WHERE p.id = ANY(%(plans)s)",
            {
                **params,
                "reads": self.months * self.reads_per_month,
                "clinician": MembershipRole.CLINICIAN.value,
                "action": AccessAction.VIEW_PLAN.value,
                "purpose": AccessPurpose.TREATMENT.value,
            },
        )

    def _audit_trail(self, cursor: Any, params: dict[str, Any]) -> None:
        quote = connection.ops.quote_name
        for model, rows, made_at in AUDITED_ROWS:
            event = apps.get_model(event_model_label(model))
            columns = [f.column for f in event._meta.concrete_fields if not f.name.startswith("pgh_")]
            names = ", ".join(quote(c) for c in columns)
            values = ", ".join(f"t.{quote(c)}" for c in columns)
            events, table = quote(event._meta.db_table), quote(model._meta.db_table)
            cursor.execute(
                f"INSERT INTO {events} (pgh_created_at, pgh_label, pgh_obj_id, {names}) "  # noqa: S608
                f"SELECT {made_at}, 'insert', t.id, {values} FROM {table} t WHERE {rows}",
                params,
            )
            if model is Task:
                cursor.execute(
                    f"INSERT INTO {events} (pgh_created_at, pgh_label, pgh_obj_id, {names}) "  # noqa: S608
                    f"SELECT t.completed_at, 'update', t.id, {values} FROM {table} t "
                    f"WHERE {rows} AND t.completed_at IS NOT NULL",
                    params,
                )

    def _notices(self, cursor: Any, params: dict[str, Any]) -> None:
        cursor.execute(
            "INSERT INTO pathways_notification (public_id, dedupe_key, kind, channel, recipient_type_id,"
            " recipient_id, plan_id, due_at, state, attempts, last_error, sent_at, read_at, created_at)"
            " SELECT gen_random_uuid(), 'synthetic:' || x.id || ':' || x.i, %(kind)s, %(channel)s,"
            "  %(user_type)s, x.coordinator_id, x.id, x.at, %(state)s, 1, '', x.at,"
            "  CASE WHEN x.i < 2 THEN x.at + interval '3 hours' END, x.at"
            " FROM (SELECT p.id, p.coordinator_id, g.i, %(now)s - random() * %(span)s AS at"
            "  FROM pathways_pathwayplan p CROSS JOIN generate_series(0, 2) AS g(i)"
            "  WHERE p.id = ANY(%(plans)s)) AS x",
            {
                **params,
                "kind": NotificationKind.TASK_OVERDUE.value,
                "channel": NotificationChannel.IN_APP.value,
                "state": NotificationState.SENT.value,
                "user_type": ContentType.objects.get_for_model(User).pk,
            },
        )


def _next_ids(model: type[Model], n: int) -> list[int]:
    """Reserve n primary keys from the table's own sequence (so COPY can insert related rows at once)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [model._meta.db_table, n],
        )
        return [row[0] for row in cursor.fetchall()]


def _copy(model: type[Model], field_names: list[str], rows: list[tuple[Any, ...]]) -> None:
    """COPY rows into the model's table; field names are mapped to their database columns."""
    columns = ", ".join(cast("Field[Any, Any]", model._meta.get_field(name)).column for name in field_names)
    with connection.cursor() as cursor:
        raw = cursor.cursor  # the psycopg 3 cursor under Django's wrapper
        with raw.copy(f"COPY {model._meta.db_table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
