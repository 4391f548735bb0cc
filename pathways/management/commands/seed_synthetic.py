"""`manage.py seed_synthetic --patients N`: a large, realistic synthetic dataset for benchmarks.

Grows the synthetic population to N patients (idempotent: running it again with the same N adds
nothing). Each patient gets one active plan with, on average, 12 tasks across hospital, municipality
and general practice, a few goals, three participating organisations and some history (tasks done in the
past, accepted commitments, earlier access-log rows). Organisations: 5 regional hospitals with
departments, the 98 municipalities with home nursing and rehabilitation, and 1,500 GP clinics.
Rows go in with bulk inserts in batches; everything is fictional.
"""

from __future__ import annotations

import random
import time
from datetime import date, timedelta
from typing import Any, cast
from uuid import uuid4

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
    PlanStatus,
    Sector,
    TaskKind,
    TaskStatus,
)
from pathways.models import (
    AccessLog,
    Goal,
    Membership,
    Organisation,
    PathwayPlan,
    Patient,
    PlanCondition,
    PlanParticipant,
    Task,
    User,
)

SOR_PREFIX = "SYN"
# How far back the earlier reads of a plan (access-log rows) go.
HISTORY_DAYS = 300
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

    def handle(self, *args: Any, patients: int, seed: int, **options: Any) -> None:
        rng = random.Random(seed)  # noqa: S311 - synthetic data, not security
        started = time.monotonic()
        orgs = self._organisations()
        users = self._users(orgs)
        # The access-log rows of the past year go straight into their months' partitions.
        partitions.partitions_maintain(since=(timezone.now() - timedelta(days=HISTORY_DAYS)).date())
        existing = Patient.objects.filter(family_name__startswith="Syn-").count()
        self.stdout.write(f"Synthetic patients: {existing} existing, target {patients}")
        for start in range(existing, patients, BATCH):
            stop = min(start + BATCH, patients)
            with transaction.atomic():
                _without_audit_triggers()
                self._batch(rng, start, stop, orgs, users)
            rate = (stop - existing) / max(time.monotonic() - started, 0.001)
            self.stdout.write(f"  {stop:>8} patients  ({rate:,.0f} patients/s)")
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

    def _batch(
        self,
        rng: random.Random,
        start: int,
        stop: int,
        orgs: dict[str, list[Organisation]],
        users: dict[int, User],
    ) -> None:
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
            coordinator = users[home.pk]
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
        log: list[tuple[Any, ...]] = []
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
            for org in (dept, home):
                at = now - timedelta(days=rng.randint(1, HISTORY_DAYS))
                log.append(
                    (uuid4(), at, users[org.pk].pk, org.pk, plan.patient_id, plan.pk,
                     AccessAction.VIEW_PLAN.value, AccessPurpose.TREATMENT.value, "")
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
        _copy(
            AccessLog,
            ["public_id", "at", "actor", "organisation", "patient", "plan", "action", "purpose", "reason"],
            log,
        )


OPEN = [TaskStatus.REQUESTED, TaskStatus.ACCEPTED, TaskStatus.IN_PROGRESS]


def _without_audit_triggers() -> None:
    """Bulk synthetic rows need no audit trail: the per-row history triggers cut COPY from ≈ 700 to ≈ 40
    patients a second. `session_replication_role = replica` (for this transaction only) skips the
    triggers; it needs a superuser, as on the benchmark's throwaway cluster, and otherwise changes nothing.
    The rows are generated consistent, so the foreign-key checks it also skips have nothing to find."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        row = cursor.fetchone()
        if row and row[0]:
            cursor.execute("SET LOCAL session_replication_role = replica")


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
