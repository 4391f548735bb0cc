"""The hub's demo data: fictional organisations, logins, patients and plans for Fælles forløb, created
through the services by `manage.py seed_demo` (which runs every app's demo step in layer order).

Organisations are found by SOR code, users by username, patients by CPR number, and a patient's plan is
their current (open) plan. What exists is left alone; a patient's plan, goals and tasks are built only when
the patient has no current plan. Running the command twice therefore gives exactly the same rows.

Dates are relative to today so the demo always looks current. All names, CPR numbers, SOR codes,
addresses and phone numbers are made up.
"""

from __future__ import annotations

import importlib
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, time, timedelta
from typing import Any

from django.apps import apps as django_apps
from django.utils import timezone

from pathways import ingest, medcom, outbox, pathway_templates, services, stays
from pathways.choices import (
    ContactChannel,
    MembershipRole,
    MunicipalService,
    NotificationKind,
    NotificationState,
    PlanStatus,
    Sector,
    TaskKind,
    TaskStatus,
    TransitionKind,
    TransitionSource,
)
from pathways.models import (
    Goal,
    HospitalStay,
    IntegrationCredential,
    Membership,
    Notification,
    Organisation,
    PathwayPlan,
    PathwayTemplate,
    Patient,
    PlanCondition,
    PlanParticipant,
    Task,
    User,
)

DEMO_PASSWORD = "Demo-forloeb-2026"  # noqa: S105 - a published demo password, never for real data

# (username, who the login is, which patients they see). Used by the README and the tests.
DEMO_LOGINS: list[tuple[str, str, str]] = [
    (
        "admin",
        "Administrator (Django admin): organisationer, brugere og skabeloner",
        "Ingen patienter i forløbsvisningen; administrerer kun",
    ),
    (
        "sygehus",
        "Anne Holm, overlæge, Medicinsk afdeling, Sygehus Sjælland Øst",
        "Kirsten Poulsen, Ingrid Mortensen, Fatma Yilmaz og Jens Pedersen",
    ),
    (
        "kommune",
        "Mette Jensen, sygeplejerske, Hjemmesygeplejen Roskilde",
        "Kirsten Poulsen, Ingrid Mortensen og Fatma Yilmaz",
    ),
    (
        "aftenvagt",
        "Ida Kristensen, sygeplejerske (aftenvagt), Hjemmesygeplejen Roskilde",
        "Kirsten Poulsen, Ingrid Mortensen og Fatma Yilmaz",
    ),
    (
        "koordinator",
        "Lars Nielsen, forløbskoordinator, Roskilde Kommune",
        "Kirsten Poulsen, Ingrid Mortensen og Fatma Yilmaz",
    ),
    (
        "egenlaege",
        "Peter Madsen, praktiserende læge, Lægehuset Algade",
        "Kirsten Poulsen og Ingrid Mortensen",
    ),
    (
        "holbaek",
        "Sofie Larsen, sygeplejerske, Hjemmesygeplejen Holbæk (en anden kommune)",
        "Helle Sørensen, Kasper Lund og Jens Pedersen",
    ),
    (
        "psykiatri",
        "Jonas Berg, sygeplejerske, Psykiatrisk afdeling",
        "Kasper Lund",
    ),
]


@dataclass(frozen=True)
class _OrgSpec:
    key: str
    sor_code: str
    name: str
    sector: Sector
    parent: str | None
    phone: str
    municipality_code: str = ""
    service: str = ""


@dataclass(frozen=True)
class _UserSpec:
    username: str
    first_name: str
    last_name: str
    title: str
    phone: str
    organisation: str | None
    role: MembershipRole | None
    superuser: bool = False


ORGANISATIONS: list[_OrgSpec] = [
    _OrgSpec(
        "sygehus", "990100000000001", "Sygehus Sjælland Øst (fiktivt)", Sector.HOSPITAL, None, "47 32 00 00"
    ),
    _OrgSpec("medicinsk", "990100000000002", "Medicinsk afdeling", Sector.HOSPITAL, "sygehus", "47 32 21 00"),
    _OrgSpec(
        "lunge", "990100000000003", "Lungemedicinsk ambulatorium", Sector.HOSPITAL, "sygehus", "47 32 22 00"
    ),
    _OrgSpec(
        "endo", "990100000000004", "Endokrinologisk ambulatorium", Sector.HOSPITAL, "sygehus", "47 32 23 00"
    ),
    _OrgSpec("psyk", "990100000000005", "Psykiatrisk afdeling", Sector.PSYCHIATRY, "sygehus", "47 32 40 00"),
    _OrgSpec(
        "roskilde", "990200000000001", "Roskilde Kommune", Sector.MUNICIPALITY, None, "46 31 30 00", "265"
    ),
    _OrgSpec(
        "hjsp_roskilde",
        "990200000000002",
        "Hjemmesygeplejen Roskilde",
        Sector.MUNICIPALITY,
        "roskilde",
        "46 31 74 00",
        "265",
        MunicipalService.HOME_NURSING,
    ),
    _OrgSpec(
        "genoptr_roskilde",
        "990200000000003",
        "Genoptræning Roskilde",
        Sector.MUNICIPALITY,
        "roskilde",
        "46 31 75 00",
        "265",
        MunicipalService.REHABILITATION,
    ),
    _OrgSpec(
        "sundhedscenter",
        "990200000000004",
        "Sundhedscenter Roskilde (forebyggelse)",
        Sector.MUNICIPALITY,
        "roskilde",
        "46 31 76 00",
        "265",
        MunicipalService.PREVENTION,
    ),
    _OrgSpec("holbaek", "990300000000001", "Holbæk Kommune", Sector.MUNICIPALITY, None, "72 36 36 36", "316"),
    _OrgSpec(
        "hjsp_holbaek",
        "990300000000002",
        "Hjemmesygeplejen Holbæk",
        Sector.MUNICIPALITY,
        "holbaek",
        "72 36 40 00",
        "316",
        MunicipalService.HOME_NURSING,
    ),
    _OrgSpec(
        "genoptr_holbaek",
        "990300000000003",
        "Genoptræning Holbæk",
        Sector.MUNICIPALITY,
        "holbaek",
        "72 36 41 00",
        "316",
        MunicipalService.REHABILITATION,
    ),
    _OrgSpec("algade", "990400000000001", "Lægehuset Algade", Sector.GENERAL_PRACTICE, None, "46 35 01 02"),
    _OrgSpec(
        "fjorden", "990400000000002", "Lægerne ved Fjorden", Sector.GENERAL_PRACTICE, None, "59 43 02 03"
    ),
]

USERS: list[_UserSpec] = [
    _UserSpec("admin", "Bente", "Kjær", "Systemadministrator", "47 32 00 01", None, None, superuser=True),
    _UserSpec("sygehus", "Anne", "Holm", "Overlæge", "47 32 21 10", "medicinsk", MembershipRole.CLINICIAN),
    _UserSpec(
        "kommune",
        "Mette",
        "Jensen",
        "Sygeplejerske",
        "46 31 74 10",
        "hjsp_roskilde",
        MembershipRole.COORDINATOR,
    ),
    _UserSpec(
        "aftenvagt",
        "Ida",
        "Kristensen",
        "Sygeplejerske",
        "46 31 74 11",
        "hjsp_roskilde",
        MembershipRole.CLINICIAN,
    ),
    _UserSpec(
        "koordinator",
        "Lars",
        "Nielsen",
        "Forløbskoordinator",
        "46 31 30 10",
        "roskilde",
        MembershipRole.COORDINATOR,
    ),
    _UserSpec(
        "egenlaege",
        "Peter",
        "Madsen",
        "Praktiserende læge",
        "46 35 01 10",
        "algade",
        MembershipRole.CLINICIAN,
    ),
    _UserSpec(
        "holbaek",
        "Sofie",
        "Larsen",
        "Sygeplejerske",
        "72 36 40 10",
        "hjsp_holbaek",
        MembershipRole.COORDINATOR,
    ),
    _UserSpec(
        "psykiatri", "Jonas", "Berg", "Sygeplejerske", "47 32 40 10", "psyk", MembershipRole.COORDINATOR
    ),
]


class _Seeder:
    """Finds or creates the demo world; every write of pathway data goes through pathways.services."""

    def __init__(self) -> None:
        self.today = timezone.localdate()
        self.orgs: dict[str, Organisation] = {}
        self.users: dict[str, User] = {}
        self.created: Counter[str] = Counter()
        self.pending_coordinators: list[Callable[[], PathwayPlan]] = []

    # --- helpers -------------------------------------------------------------------------------------

    def day(self, offset: int | None) -> date | None:
        return None if offset is None else self.today + timedelta(days=offset)

    def organisations(self) -> None:
        for spec in ORGANISATIONS:
            organisation, created = Organisation.objects.get_or_create(
                sor_code=spec.sor_code,
                defaults={
                    "name": spec.name,
                    "sector": spec.sector,
                    "parent": self.orgs[spec.parent] if spec.parent else None,
                    "phone": spec.phone,
                    "municipality_code": spec.municipality_code,
                    "municipal_service": spec.service,
                },
            )
            self.orgs[spec.key] = organisation
            self.created["organisations"] += int(created)

    def staff(self) -> None:
        for spec in USERS:
            user = User.objects.filter(username=spec.username).first()
            if user is None:
                user = User(
                    username=spec.username,
                    first_name=spec.first_name,
                    last_name=spec.last_name,
                    title=spec.title,
                    phone=spec.phone,
                    email=f"{spec.username}@example.invalid",
                    is_staff=spec.superuser,
                    is_superuser=spec.superuser,
                )
                user.set_password(DEMO_PASSWORD)
                user.save()
                self.created["users"] += 1
            if spec.organisation is not None and spec.role is not None:
                services.membership_add(user=user, organisation=self.orgs[spec.organisation], role=spec.role)
            self.users[spec.username] = user

    def patient(
        self,
        *,
        cpr: str,
        given_name: str,
        family_name: str,
        home_municipality: str,
        address: str,
        postal_code: str,
        city: str,
        phone: str,
        email: str = "",
        preferred_contact: ContactChannel = ContactChannel.DIGITAL,
        language: str = "da",
        interpreter_needed: bool = False,
        gp: str | None = None,
    ) -> tuple[Patient, bool]:
        """The patient, and whether a plan still has to be built for them (no current plan yet)."""
        patient = Patient.objects.filter(cpr=cpr).first()
        if patient is None:
            patient = services.patient_create(
                cpr=cpr,
                given_name=given_name,
                family_name=family_name,
                home_municipality=home_municipality,
                address=address,
                postal_code=postal_code,
                city=city,
                phone=phone,
                email=email,
                preferred_contact=preferred_contact,
                language=language,
                interpreter_needed=interpreter_needed,
                general_practice=self.orgs[gp] if gp else None,
            )
            self.created["patients"] += 1
        needs_plan = not PathwayPlan.objects.open().filter(patient=patient).exists()
        return patient, needs_plan

    def plan(
        self,
        *,
        patient: Patient,
        actor: str,
        title: str,
        what_matters: str,
        conditions: list[tuple[str, str]],
        review_in_days: int,
        participants: list[tuple[str, str]],
        accepted_by: dict[str, str],
        status: PlanStatus = PlanStatus.ACTIVE,
        templates: tuple[str, ...] = (),
    ) -> PathwayPlan:
        """A plan with its participants (org key, commitment), some of which accept (org key → username),
        and the goals and tasks of the pathway templates `templates` (codes, as shipped)."""
        author = self.users[actor]
        plan = services.plan_create(
            actor=author,
            patient=patient,
            title=title,
            what_matters=what_matters,
            conditions=conditions,
            review_date=self.day(review_in_days),
        )
        for key, commitment in participants:
            participant = services.participant_add(
                actor=author, plan=plan, organisation=self.orgs[key], commitment=commitment
            )
            if key in accepted_by:
                services.participant_accept(actor=self.users[accepted_by[key]], participant=participant)
        if templates:
            chosen = list(PathwayTemplate.objects.filter(code__in=templates).order_by("name"))
            pathway_templates.plan_templates_apply(actor=author, plan=plan, templates=chosen)
        if status != PlanStatus.DRAFT:
            plan = services.plan_transition(actor=author, plan=plan, to_status=PlanStatus.ACTIVE)
        if status not in (PlanStatus.DRAFT, PlanStatus.ACTIVE):
            plan = services.plan_transition(actor=author, plan=plan, to_status=status)
        self.created["plans"] += 1
        return plan

    def coordinator(
        self, plan: PathwayPlan, *, username: str, organisation: str, substitute: str | None = None
    ) -> None:
        """Name the plan's coordinator once the participants have set the plan up (see run()): until a
        plan has a coordinator, its participating organisations add goals and tasks themselves."""
        self.pending_coordinators.append(
            lambda: services.coordinator_assign(
                actor=self.users[username],
                plan=plan,
                coordinator=self.users[username],
                organisation=self.orgs[organisation],
                substitute=self.users[substitute] if substitute else None,
            )
        )

    def goal(
        self, plan: PathwayPlan, *, actor: str, description: str, expected_result: str, target_in_days: int
    ) -> Goal:
        return services.goal_create(
            actor=self.users[actor],
            plan=plan,
            description=description,
            expected_result=expected_result,
            target_date=self.day(target_in_days),
        )

    def task(
        self,
        plan: PathwayPlan,
        title: str,
        *,
        organisation: str,
        kind: TaskKind,
        actor: str,
        due: int | None,
        start: int | None = None,
        status: TaskStatus = TaskStatus.REQUESTED,
        person: str | None = None,
        description: str = "",
        goal: Goal | None = None,
        visible_to_patient: bool = True,
        depends_on: Task | None = None,
    ) -> Task:
        """A task planned `start`..`due` days from today, then moved to `status` the way staff would."""
        author = self.users[actor]
        task = services.task_create(
            actor=author,
            plan=plan,
            title=title,
            responsible_organisation=self.orgs[organisation],
            kind=kind,
            description=description,
            goal=goal,
            responsible_person=self.users[person] if person else None,
            window_start=self.day(start),
            due_date=self.day(due),
            visible_to_patient=visible_to_patient,
            depends_on=depends_on,
        )
        if status != TaskStatus.REQUESTED:
            task = services.task_transition(actor=author, task=task, to_status=status)
        return task

    # --- the patients --------------------------------------------------------------------------------

    def kirsten(self) -> None:
        """COPD and type 2 diabetes, three admissions this year; the municipality coordinates."""
        patient, needs_plan = self.patient(
            cpr="1403612126",
            given_name="Kirsten",
            family_name="Poulsen",
            home_municipality="265",
            address="Møllehusvej 14, 2. th.",
            postal_code="4000",
            city="Roskilde",
            phone="22 41 63 18",
            email="kirsten.poulsen@example.invalid",
            gp="algade",
        )
        if not needs_plan:
            return
        plan = self.plan(
            patient=patient,
            actor="koordinator",
            title="KOL og type 2-diabetes: sammen om at blive hjemme",
            what_matters=(
                "Jeg vil gerne blive boende i min egen lejlighed. Jeg har været indlagt tre gange i år, og "
                "det vil jeg ikke igen. Jeg vil kunne gå op ad trapperne til 2. sal uden at stoppe hele "
                "tiden, og jeg vil have kræfter til at have mine børnebørn på besøg om søndagen."
            ),
            conditions=[
                ("KOL (kronisk obstruktiv lungesygdom)", "J44"),
                ("Type 2-diabetes", "E11"),
            ],
            review_in_days=30,
            participants=[
                ("lunge", "Behandlingsansvar for KOL; kontrol af lungefunktion og inhalationsteknik."),
                ("medicinsk", "Udskrivelse med epikrise og genoptræningsplan ved indlæggelse."),
                ("hjsp_roskilde", "Besøg inden for 24 timer efter udskrivelse; observation af forværring."),
                ("genoptr_roskilde", "Genoptræning efter genoptræningsplanen."),
                ("sundhedscenter", "KOL-rehabiliteringsforløb og rygestop-støtte."),
                ("algade", "Opfølgning efter udskrivelse, diabeteskontrol og medicingennemgang."),
                ("roskilde", "Forløbskoordinator; samler trådene mellem sektorerne."),
            ],
            accepted_by={
                "roskilde": "koordinator",
                "medicinsk": "sygehus",
                "hjsp_roskilde": "kommune",
                "genoptr_roskilde": "koordinator",
                "algade": "egenlaege",
                # Sundhedscenter Roskilde has not accepted yet.
            },
            # Spirometry, inhaler technique, COPD rehabilitation, smoking cessation, vaccination, HbA1c,
            # feet and eyes, the annual check-up; and the follow-ups every discharge makes.
            templates=("kol", "diabetes-2"),
        )
        self.coordinator(plan, username="koordinator", organisation="roskilde", substitute="kommune")
        stay_home = self.goal(
            plan,
            actor="koordinator",
            description="Kirsten kan blive boende i sit eget hjem og undgår nye akutte indlæggelser.",
            expected_result=(
                "Ingen akutte indlæggelser de næste 6 måneder. Kirsten og hjemmesygeplejen kender tegnene "
                "på KOL-forværring og ved, hvad de skal gøre."
            ),
            target_in_days=180,
        )
        stairs = self.goal(
            plan,
            actor="koordinator",
            description="Kirsten kan klare trapperne til sin lejlighed og besøge sine børnebørn.",
            expected_result=(
                "Går 2 etager med højst én pause inden for 3 måneder og tager selv bussen til datteren "
                "i Køge."
            ),
            target_in_days=90,
        )
        medicine = self.goal(
            plan,
            actor="egenlaege",
            description="Stabilt blodsukker og sikker brug af medicin og inhalator.",
            expected_result=(
                "HbA1c under 53 mmol/mol ved næste kontrol, korrekt inhalationsteknik og én opdateret "
                "medicinliste, som alle parter bruger."
            ),
            target_in_days=120,
        )
        self.task(
            plan,
            "Ambulant kontrol i Lungemedicinsk ambulatorium",
            organisation="lunge",
            kind=TaskKind.APPOINTMENT,
            actor="sygehus",
            due=-35,
            status=TaskStatus.COMPLETED,
            description="Lungefunktionsmåling og justering af inhalationsmedicin.",
            goal=stay_home,
        )
        rehab_plan = self.task(
            plan,
            "Genoptræningsplan ved udskrivelse",
            organisation="medicinsk",
            kind=TaskKind.REFERRAL,
            actor="sygehus",
            person="sygehus",
            due=-1,
            status=TaskStatus.COMPLETED,
            description=(
                "Genoptræningsplan (almen genoptræning) sendt til Genoptræning Roskilde: gangfunktion, "
                "trappegang og energibesparende teknikker."
            ),
            goal=stairs,
        )
        home_visit = self.task(
            plan,
            "Hjemmesygeplejebesøg inden for 24 timer efter udskrivelse",
            organisation="hjsp_roskilde",
            kind=TaskKind.HOME_VISIT,
            actor="kommune",
            person="kommune",
            start=0,
            due=1,
            status=TaskStatus.ACCEPTED,
            description=(
                "Kirsten er udskrevet fra Medicinsk afdeling efter sin tredje indlæggelse i år med "
                "KOL-forværring. Gennemgang af medicin fra udskrivelsen, måling af iltmætning og blodsukker, "
                "tjek af at inhalator og iltudstyr virker."
            ),
            goal=stay_home,
        )
        gp_follow_up = self.task(
            plan,
            "Opfølgning hos egen læge efter udskrivelse",
            organisation="algade",
            kind=TaskKind.APPOINTMENT,
            actor="egenlaege",
            person="egenlaege",
            start=2,
            due=5,
            description=(
                "Konsultation inden for en uge, når hjemmesygeplejen har set Kirsten og afstemt medicinen: "
                "epikrise, KOL-behandling og diabetes."
            ),
            goal=stay_home,
            depends_on=home_visit,
        )
        self.task(
            plan,
            "Blodprøver: HbA1c, nyretal og kalium",
            organisation="algade",
            kind=TaskKind.APPOINTMENT,
            actor="egenlaege",
            due=-6,
            description="Skulle have været taget efter forrige indlæggelse, men er ikke booket endnu.",
            goal=medicine,
        )
        self.task(
            plan,
            "Medicingennemgang (11 præparater)",
            organisation="algade",
            kind=TaskKind.MEDICATION_REVIEW,
            actor="egenlaege",
            person="egenlaege",
            start=7,
            due=14,
            description="Én fælles medicinliste for sygehus, hjemmesygepleje og egen læge.",
            goal=medicine,
            depends_on=gp_follow_up,
        )
        self.task(
            plan,
            "Genoptræning: gang- og trappetræning",
            organisation="genoptr_roskilde",
            kind=TaskKind.REHABILITATION,
            actor="koordinator",
            start=3,
            due=45,
            status=TaskStatus.ACCEPTED,
            description="To gange om ugen i 6 uger. Mål: at gå 2 etager uden pause.",
            goal=stairs,
            depends_on=rehab_plan,
        )
        self.task(
            plan,
            "Tværsektorielt møde om de gentagne indlæggelser",
            organisation="roskilde",
            kind=TaskKind.OTHER,
            actor="koordinator",
            person="koordinator",
            due=8,
            visible_to_patient=False,
            description=(
                "Internt: hjemmesygepleje, egen læge og lungeambulatoriet gennemgår årsagerne til årets tre "
                "indlæggelser og aftaler en fælles handleplan ved forværring. Handleplanen aftales derefter "
                "med Kirsten."
            ),
        )
        self.task(
            plan,
            "Trivselsskema (WHO-5) før opfølgningssamtalen",
            organisation="roskilde",
            kind=TaskKind.QUESTIONNAIRE,
            actor="koordinator",
            due=25,
        )

    def helle(self) -> None:
        """Type 2 diabetes and needle anxiety; a needle-free meter stuck between region and municipality."""
        patient, needs_plan = self.patient(
            cpr="0206842148",
            given_name="Helle",
            family_name="Sørensen",
            home_municipality="316",
            address="Ahlgade 31, 1. tv.",
            postal_code="4300",
            city="Holbæk",
            phone="31 72 05 44",
            email="helle.soerensen@example.invalid",
            gp="fjorden",
        )
        if not needs_plan:
            return
        plan = self.plan(
            patient=patient,
            actor="holbaek",
            title="Type 2-diabetes uden nålestik",
            what_matters=(
                "Jeg er bange for nåle, også de små stik i fingeren. Derfor springer jeg tit målingerne "
                "over, og så får jeg dårlig samvittighed. Jeg vil have styr på mit blodsukker uden at stikke "
                "mig selv, så jeg kan passe mit arbejde og være der for mine to drenge."
            ),
            conditions=[("Type 2-diabetes", "E11"), ("Nåleangst (specifik fobi)", "F40.2")],
            review_in_days=21,
            participants=[
                ("endo", "Behandlingsansvar for diabetes; ordinerer og instruerer i blodsukkermåler."),
                ("hjsp_holbaek", "Støtte til blodsukkermåling og medicin i hjemmet."),
                ("fjorden", "Diabeteskontrol og henvisning til samtaleforløb om nåleangst."),
                ("holbaek", "Kostvejledning og bevilling af hjælpemidler efter serviceloven."),
            ],
            accepted_by={"hjsp_holbaek": "holbaek"},
        )
        self.coordinator(plan, username="holbaek", organisation="hjsp_holbaek")
        measure = self.goal(
            plan,
            actor="holbaek",
            description="Helle måler sit blodsukker regelmæssigt uden at skulle stikke sig.",
            expected_result="Nålefri måler i brug, og målinger mindst 3 dage om ugen.",
            target_in_days=60,
        )
        control = self.goal(
            plan,
            actor="holbaek",
            description="Bedre regulering af blodsukkeret.",
            expected_result="HbA1c under 53 mmol/mol inden for 6 måneder og et vægttab på 5 kg.",
            target_in_days=180,
        )
        self.task(
            plan,
            "Årskontrol i Endokrinologisk ambulatorium",
            organisation="endo",
            kind=TaskKind.APPOINTMENT,
            actor="holbaek",
            due=-45,
            status=TaskStatus.COMPLETED,
            description="HbA1c 68 mmol/mol. Nålefri blodsukkermåler anbefalet på grund af nåleangst.",
            goal=control,
        )
        self.task(
            plan,
            "Nålefri blodsukkermåler (hjælpemiddel / behandlingsredskab)",
            organisation="endo",
            kind=TaskKind.ASSISTIVE_DEVICE,
            actor="holbaek",
            start=-42,
            due=-14,
            status=TaskStatus.ON_HOLD,
            description=(
                "Region og kommune er uenige om, hvem der betaler. Endokrinologisk ambulatorium mener, at "
                "måleren er et hjælpemiddel, som kommunen bevilger efter serviceloven. Holbæk Kommune mener, "
                "at den er et behandlingsredskab, som regionen betaler efter sundhedsloven. Sagen har stået "
                "stille i flere uger, og imens springer Helle sine målinger over."
            ),
            goal=measure,
        )
        self.task(
            plan,
            "Møde mellem region og kommune om betaling af måleren",
            organisation="holbaek",
            kind=TaskKind.PHONE_CALL,
            actor="holbaek",
            due=2,
            description="Forløbskoordinator har bedt om en afklaring af ansvaret inden for en uge.",
            goal=measure,
        )
        self.task(
            plan,
            "Hjemmesygeplejen hjælper med blodsukkermåling, indtil måleren er på plads",
            organisation="hjsp_holbaek",
            kind=TaskKind.HOME_VISIT,
            actor="holbaek",
            person="holbaek",
            start=-10,
            due=20,
            status=TaskStatus.IN_PROGRESS,
            goal=measure,
        )
        self.task(
            plan,
            "Henvisning til psykolog: samtaler om nåleangst",
            organisation="fjorden",
            kind=TaskKind.REFERRAL,
            actor="holbaek",
            due=5,
            goal=measure,
        )
        self.task(
            plan,
            "Diabeteskontrol hos egen læge (HbA1c, blodtryk, fødder)",
            organisation="fjorden",
            kind=TaskKind.APPOINTMENT,
            actor="holbaek",
            start=7,
            due=14,
            goal=control,
        )
        self.task(
            plan,
            "Kostvejledning: gruppeforløb med diætist",
            organisation="holbaek",
            kind=TaskKind.REHABILITATION,
            actor="holbaek",
            start=10,
            due=56,
            description="Seks mødegange i kommunens sundhedstilbud »Lev med type 2-diabetes«.",
            goal=control,
        )

    def ingrid(self) -> None:
        """88, heart failure and falls, lives alone with no relatives; prefers letters."""
        patient, needs_plan = self.patient(
            cpr="1102381846",
            given_name="Ingrid",
            family_name="Mortensen",
            home_municipality="265",
            address="Kirkebjergvej 7",
            postal_code="4000",
            city="Roskilde",
            phone="46 35 27 81",
            preferred_contact=ContactChannel.LETTER,
            gp="algade",
        )
        if not needs_plan:
            return
        plan = self.plan(
            patient=patient,
            actor="koordinator",
            title="Hjertesvigt og fald: tryg i eget hjem",
            what_matters=(
                "Jeg har boet i mit hus i 52 år, og her vil jeg blive. Jeg har ingen familie tilbage, så jeg "
                "vil gerne vide, hvem jeg kan ringe til. Jeg vil ikke falde igen og ligge på gulvet hele "
                "natten. Send mig et brev, jeg bruger ikke computer."
            ),
            conditions=[("Hjertesvigt", "I50"), ("Gentagne fald", "R29.6")],
            review_in_days=14,
            participants=[
                ("medicinsk", "Hjertesvigtsklinik: kontrol og justering af medicin."),
                ("hjsp_roskilde", "Daglig observation af vægt og væskeophobning."),
                ("genoptr_roskilde", "Faldudredning, balancetræning og hjælpemidler."),
                ("algade", "Medicingennemgang og akut kontakt ved vægtstigning."),
                ("roskilde", "Forløbskoordinator og nødkald."),
            ],
            accepted_by={
                "roskilde": "koordinator",
                "medicinsk": "sygehus",
                "hjsp_roskilde": "kommune",
                "genoptr_roskilde": "koordinator",
                "algade": "egenlaege",
            },
        )
        self.coordinator(plan, username="koordinator", organisation="roskilde", substitute="kommune")
        no_falls = self.goal(
            plan,
            actor="koordinator",
            description="Ingrid falder ikke og kan selv tilkalde hjælp.",
            expected_result="Ingen fald med skade de næste 3 måneder; nødkald installeret og afprøvet.",
            target_in_days=90,
        )
        heart = self.goal(
            plan,
            actor="koordinator",
            description="Stabil hjertesvigt uden væskeophobning.",
            expected_result=(
                "Vægten holder sig inden for ±2 kg, og ingen indlæggelse for hjertesvigt i 6 måneder."
            ),
            target_in_days=180,
        )
        self.task(
            plan,
            "Nødkald installeret",
            organisation="roskilde",
            kind=TaskKind.ASSISTIVE_DEVICE,
            actor="koordinator",
            due=-10,
            status=TaskStatus.COMPLETED,
            goal=no_falls,
        )
        self.task(
            plan,
            "Rollator og badetaburet",
            organisation="genoptr_roskilde",
            kind=TaskKind.ASSISTIVE_DEVICE,
            actor="koordinator",
            due=-2,
            description="Bevilget; udlevering fra hjælpemiddeldepotet mangler.",
            goal=no_falls,
        )
        self.task(
            plan,
            "Daglig vejning og tjek af ben for væske",
            organisation="hjsp_roskilde",
            kind=TaskKind.HOME_VISIT,
            actor="kommune",
            person="kommune",
            start=-14,
            due=30,
            status=TaskStatus.IN_PROGRESS,
            description="Stiger vægten mere end 2 kg på 3 dage, kontaktes egen læge samme dag.",
            goal=heart,
        )
        self.task(
            plan,
            "Telefonopfølgning fra forløbskoordinator",
            organisation="roskilde",
            kind=TaskKind.PHONE_CALL,
            actor="koordinator",
            person="koordinator",
            due=3,
            description=(
                "Ingrid har ingen pårørende; koordinator ringer hver 14. dag og sender aftaler som brev."
            ),
        )
        self.task(
            plan,
            "Medicingennemgang: vanddrivende og blodtryksmedicin",
            organisation="algade",
            kind=TaskKind.MEDICATION_REVIEW,
            actor="egenlaege",
            person="egenlaege",
            due=6,
            goal=heart,
        )
        self.task(
            plan,
            "Faldudredning og balancetræning",
            organisation="genoptr_roskilde",
            kind=TaskKind.REHABILITATION,
            actor="koordinator",
            start=1,
            due=35,
            status=TaskStatus.ACCEPTED,
            goal=no_falls,
        )
        self.task(
            plan,
            "Kontrol i hjertesvigtsklinikken",
            organisation="medicinsk",
            kind=TaskKind.APPOINTMENT,
            actor="sygehus",
            due=21,
            status=TaskStatus.ACCEPTED,
            description=(
                "Ekkokardiografi og justering af medicin. Kørsel bestilles; Ingrid kan ikke tage bussen."
            ),
            goal=heart,
        )

    def kasper(self) -> None:
        """Schizophrenia and alcohol abuse after psychiatric discharge (udskrivningsaftale)."""
        patient, needs_plan = self.patient(
            cpr="1809922177",
            given_name="Kasper",
            family_name="Lund",
            home_municipality="316",
            address="Jernbanevej 9, st. th.",
            postal_code="4300",
            city="Holbæk",
            phone="27 90 14 66",
            preferred_contact=ContactChannel.PHONE,
            gp="fjorden",
        )
        if not needs_plan:
            return
        plan = self.plan(
            patient=patient,
            actor="psykiatri",
            title="Udskrivningsaftale og koordinationsplan: skizofreni og alkohol",
            what_matters=(
                "Jeg vil beholde min lejlighed og ikke ende på gaden igen. Jeg vil gerne drikke mindre, men "
                "jeg kan ikke klare det alene. Ring hellere end at skrive, for jeg får ikke åbnet min post."
            ),
            conditions=[("Paranoid skizofreni", "F20.0"), ("Alkoholafhængighed", "F10.2")],
            review_in_days=14,
            participants=[
                ("psyk", "Udskrivningsaftale, ambulant opfølgning og kriseplan."),
                ("hjsp_holbaek", "Depotmedicin hver 14. dag."),
                ("holbaek", "Socialpsykiatrisk bostøtte og alkoholbehandling."),
                ("fjorden", "Somatisk helbredstjek og opfølgning på medicinens bivirkninger."),
            ],
            accepted_by={"psyk": "psykiatri", "hjsp_holbaek": "holbaek", "holbaek": "holbaek"},
        )
        self.coordinator(plan, username="psykiatri", organisation="psyk")
        home = self.goal(
            plan,
            actor="psykiatri",
            description="Kasper bliver boende i sin lejlighed og tager sin medicin.",
            expected_result=(
                "Depotmedicin givet til tiden og ingen udeblivelser fra kontrol de næste 3 måneder."
            ),
            target_in_days=90,
        )
        alcohol = self.goal(
            plan,
            actor="psykiatri",
            description="Kasper drikker mindre.",
            expected_result=(
                "I alkoholbehandling inden for 14 dage efter udskrivelsen; højst 2 genstande om dagen."
            ),
            target_in_days=90,
        )
        self.task(
            plan,
            "Udskrivningsaftale indgået",
            organisation="psyk",
            kind=TaskKind.OTHER,
            actor="psykiatri",
            person="psykiatri",
            due=-7,
            status=TaskStatus.COMPLETED,
            description=(
                "Aftalt med Kasper, hjemmesygeplejen, socialpsykiatrien og egen læge ved udskrivelsen."
            ),
            goal=home,
        )
        self.task(
            plan,
            "Depotmedicin (injektion hver 14. dag)",
            organisation="hjsp_holbaek",
            kind=TaskKind.HOME_VISIT,
            actor="holbaek",
            person="holbaek",
            start=0,
            due=2,
            status=TaskStatus.ACCEPTED,
            goal=home,
        )
        self.task(
            plan,
            "Opstart i kommunal alkoholbehandling",
            organisation="holbaek",
            kind=TaskKind.REFERRAL,
            actor="psykiatri",
            due=-1,
            description="Skulle være startet senest 7 dage efter udskrivelsen.",
            goal=alcohol,
        )
        self.task(
            plan,
            "Bostøtte: hjælp til post, økonomi og indkøb",
            organisation="holbaek",
            kind=TaskKind.OTHER,
            actor="holbaek",
            start=-7,
            due=84,
            status=TaskStatus.IN_PROGRESS,
            goal=home,
        )
        self.task(
            plan,
            "Ambulant opfølgning i distriktspsykiatrien",
            organisation="psyk",
            kind=TaskKind.APPOINTMENT,
            actor="psykiatri",
            person="psykiatri",
            due=9,
            status=TaskStatus.ACCEPTED,
            goal=home,
        )
        self.task(
            plan,
            "Somatisk helbredstjek hos egen læge (blodprøver, vægt, blodtryk, EKG)",
            organisation="fjorden",
            kind=TaskKind.APPOINTMENT,
            actor="psykiatri",
            start=7,
            due=28,
        )

    def fatma(self) -> None:
        """After a stroke; rehabilitation on hold while she is readmitted. Needs a Turkish interpreter."""
        patient, needs_plan = self.patient(
            cpr="2504684122",  # issued after 2007 on arrival in Denmark; need not pass modulus 11
            given_name="Fatma",
            family_name="Yilmaz",
            home_municipality="265",
            address="Hyrdehøj Alle 22, 1. mf.",
            postal_code="4000",
            city="Roskilde",
            phone="50 12 88 09",
            preferred_contact=ContactChannel.PHONE,
            language="tr",
            interpreter_needed=True,
            gp="fjorden",
        )
        if not needs_plan:
            return
        plan = self.plan(
            patient=patient,
            actor="kommune",
            title="Genoptræning efter blodprop i hjernen",
            what_matters=(
                "(Sagt via tolk) Jeg vil kunne lave mad til min familie igen og selv gå ned i butikken. "
                "Jeg vil gerne have tolk med, når vi taler om noget vigtigt."
            ),
            conditions=[("Blodprop i hjernen", "I63"), ("Forhøjet blodtryk", "I10")],
            review_in_days=10,
            participants=[
                ("medicinsk", "Genoptræningsplan ved udskrivelse; behandling under genindlæggelsen."),
                ("genoptr_roskilde", "Specialiseret genoptræning og logopædi."),
                ("hjsp_roskilde", "Vurdering af hjælp i hjemmet efter udskrivelse."),
                ("fjorden", "Blodtryk og blodfortyndende behandling."),
                # The substitute coordinator's organisation takes part too (only a coordinator in an
                # organisation taking part can stand in).
                ("roskilde", "Stedfortræder for forløbskoordinator."),
            ],
            accepted_by={
                "medicinsk": "sygehus",
                "genoptr_roskilde": "koordinator",
                "hjsp_roskilde": "kommune",
                "roskilde": "koordinator",
            },
            status=PlanStatus.ON_HOLD,
        )
        self.coordinator(plan, username="kommune", organisation="hjsp_roskilde", substitute="koordinator")
        self_care = self.goal(
            plan,
            actor="kommune",
            description="Fatma kan lave mad og handle ind selv.",
            expected_result="Bruger højre hånd i køkkenet og går 500 meter med stok inden for 4 måneder.",
            target_in_days=120,
        )
        rehab_plan = self.task(
            plan,
            "Genoptræningsplan (specialiseret genoptræning)",
            organisation="medicinsk",
            kind=TaskKind.REFERRAL,
            actor="sygehus",
            person="sygehus",
            due=-30,
            status=TaskStatus.COMPLETED,
            goal=self_care,
        )
        self.task(
            plan,
            "Genoptræning: arm, hånd og gang",
            organisation="genoptr_roskilde",
            kind=TaskKind.REHABILITATION,
            actor="kommune",
            start=-21,
            due=35,
            status=TaskStatus.ON_HOLD,
            description=(
                "Sat i bero, mens Fatma er genindlagt med lungebetændelse; genoptages efter udskrivelsen. "
                "Tolk (tyrkisk) bestilles til hver træning."
            ),
            goal=self_care,
            depends_on=rehab_plan,
        )
        self.task(
            plan,
            "Logopæd: tale og synkning",
            organisation="genoptr_roskilde",
            kind=TaskKind.REHABILITATION,
            actor="kommune",
            start=-14,
            due=42,
            status=TaskStatus.ON_HOLD,
            goal=self_care,
        )
        self.task(
            plan,
            "Hjemmebesøg efter udskrivelse: behov for hjælp i hjemmet",
            organisation="hjsp_roskilde",
            kind=TaskKind.HOME_VISIT,
            actor="kommune",
            person="kommune",
            due=7,
            description="Tolk bestilles.",
        )
        self.task(
            plan,
            "Kontrol af blodtryk og blodfortyndende behandling",
            organisation="fjorden",
            kind=TaskKind.APPOINTMENT,
            actor="kommune",
            due=12,
            description="Tolk bestilles.",
        )

    def jens(self) -> None:
        """Follow-up after colon cancer surgery; the plan is still a draft without a coordinator."""
        patient, needs_plan = self.patient(
            cpr="0708551805",
            given_name="Jens",
            family_name="Pedersen",
            home_municipality="316",
            address="Tuse Næs Vej 118",
            postal_code="4300",
            city="Holbæk",
            phone="40 55 19 73",
            email="jens.pedersen@example.invalid",
            gp="fjorden",
        )
        if not needs_plan:
            return
        plan = self.plan(
            patient=patient,
            actor="sygehus",
            title="Opfølgning efter operation for tyktarmskræft",
            what_matters=(
                "Jeg vil gerne tilbage til at cykle og passe min have. Min kone og jeg vil gerne vide, hvad "
                "der skal ske, og hvornår."
            ),
            conditions=[("Tyktarmskræft, opereret", "C18")],
            review_in_days=14,
            participants=[
                ("medicinsk", "Kontrolprogram efter tyktarmskræft."),
                ("hjsp_holbaek", "Stomipleje og oplæring."),
                ("genoptr_holbaek", "Kræftrehabilitering."),
                ("fjorden", "Opfølgning på senfølger."),
            ],
            accepted_by={},
            status=PlanStatus.DRAFT,
        )
        cycling = self.goal(
            plan,
            actor="sygehus",
            description="Jens kommer sig efter operationen og kan cykle igen.",
            expected_result="Cykler 10 km inden for 4 måneder og klarer selv sin stomi.",
            target_in_days=120,
        )
        self.task(
            plan,
            "Stomipleje og oplæring i skift af pose",
            organisation="hjsp_holbaek",
            kind=TaskKind.HOME_VISIT,
            actor="sygehus",
            start=1,
            due=14,
            goal=cycling,
        )
        self.task(
            plan,
            "Kræftrehabilitering: træning og kost",
            organisation="genoptr_holbaek",
            kind=TaskKind.REHABILITATION,
            actor="sygehus",
            start=14,
            due=98,
            goal=cycling,
        )
        self.task(
            plan,
            "Samtale hos egen læge om træthed og søvn",
            organisation="fjorden",
            kind=TaskKind.APPOINTMENT,
            actor="sygehus",
            due=21,
        )
        self.task(
            plan,
            "CT-skanning og kontrol efter 12 måneder",
            organisation="medicinsk",
            kind=TaskKind.APPOINTMENT,
            actor="sygehus",
            due=330,
        )

    def run(self) -> None:
        _ship_templates()
        self.organisations()
        self.staff()
        for patient in (self.kirsten, self.helle, self.ingrid, self.kasper, self.fatma, self.jens):
            patient()
            for assign in self.pending_coordinators:
                assign()
            self.pending_coordinators.clear()
        _seed_stays(self)
        _seed_medcom(self)


def _ship_templates() -> None:
    """The shipped pathway templates the demo's plans are made from, where they are missing (migration 0010
    writes them; a database emptied since — as a test flush does — has none). Those present stay as they
    are: an administrator's edits are theirs."""
    shipped = importlib.import_module("pathways.migrations.0010_pathway_templates_shipped")
    shipped.ship(django_apps, None)


# --- stays ---


# Who marks a follow-up of Kirsten's earlier stay done, by the organisation responsible for it.
_DONE_BY = {
    "hjsp_roskilde": "kommune",
    "medicinsk": "sygehus",
    "lunge": "sygehus",
    "genoptr_roskilde": "koordinator",
    "sundhedscenter": "koordinator",
    "roskilde": "koordinator",
    "algade": "egenlaege",
}


def _seed_stays(seeder: _Seeder) -> None:
    """Kirsten's earlier admission and discharge (issue 12), through pathways.stays: admitted to Medicinsk
    afdeling 20 days ago, discharged 15 days ago, as the hospital entered it. The discharge made the
    follow-ups of her plan's templates (COPD, type 2 diabetes) with due dates from that day; those due by
    now were done, as the plan's history then shows. The participants heard of it back then: the notices
    are not sent again today. Nothing is added where Kirsten already has a stay (a second run)."""
    plan = PathwayPlan.objects.open().filter(patient__cpr="1403612126").first()
    if plan is None or HospitalStay.objects.filter(patient_id=plan.patient_id).exists():
        return
    nurse, hospital = seeder.users["sygehus"], seeder.orgs["medicinsk"]
    admitted = outbox.local_moment(seeder.day(-20) or seeder.today, time(14, 35))
    discharged = outbox.local_moment(seeder.day(-15) or seeder.today, time(10, 20))
    for kind, moment, note in (
        (TransitionKind.ADMISSION, admitted, "Akut indlagt med KOL-forværring og lungebetændelse."),
        (TransitionKind.DISCHARGE, discharged, "Udskrevet til eget hjem; epikrise sendt til egen læge."),
    ):
        event = stays.transition_record(
            actor=nurse,
            patient=plan.patient,
            kind=kind,
            occurred_at=moment,
            hospital=hospital,
            source=TransitionSource.MANUAL,
            note=note,
        )
        Notification.objects.filter(
            plan=plan,
            kind__in=[NotificationKind.PATIENT_ADMITTED, NotificationKind.PATIENT_DISCHARGED],
            state=NotificationState.PENDING,
        ).update(state=NotificationState.CANCELLED)
    people = {seeder.orgs[key].pk: seeder.users[username] for key, username in _DONE_BY.items()}
    followups = Task.objects.filter(created_by_transition=event, due_date__lt=seeder.today)
    for task in followups.order_by("due_date", "id"):
        services.task_transition(
            actor=people.get(task.responsible_organisation_id), task=task, to_status=TaskStatus.COMPLETED
        )


# --- ingest ---

# The demo hospital's sending system: Medicinsk afdeling's EPJ. Its key is published (README, seed output)
# so that `manage.py medcom_send <example>` can post the example messages to `make run`'s server.
DEMO_MEDCOM_KEY = "ffm_demo-medicinsk-afdeling-2026"  # a published demo key, never for real data
DEMO_MEDCOM_SENDER = "medicinsk"
DEMO_MEDCOM_RECEIVER = "roskilde"

# Hospital notices about citizens of Roskilde with no plan: (message id, episode (forløbsid), code, given
# name, family name, CPR number, days ago, kind of stay), ids without their "ff-demo-" prefix. Erik Hansen
# has been admitted four times this year: the list marks him as a candidate for a plan and a coordinator.
_NO_PLAN_NOTICES: list[tuple[str, str, str, str, str, str, int, str]] = [
    ("erik-stin-1", "erik-1", "STIN", "Erik", "Hansen", "0512431234", 290, "inpatient"),
    ("erik-stin-2", "erik-2", "STIN", "Erik", "Hansen", "0512431234", 160, "inpatient"),
    ("erik-stin-3", "erik-3", "STIN", "Erik", "Hansen", "0512431234", 70, "inpatient"),
    ("erik-stin-4", "erik-4", "STIN", "Erik", "Hansen", "0512431234", 6, "inpatient"),
    ("poul-stin", "poul", "STIN", "Poul", "Andersen", "0103452789", 4, "inpatient"),
    ("poul-slhj", "poul", "SLHJ", "Poul", "Andersen", "0103452789", 1, "inpatient"),
    ("birthe-staa", "birthe", "STAA", "Birthe", "Olsen", "1109502345", 2, "acute_ambulant"),
    ("karl-stin-1", "karl-1", "STIN", "Karl", "Mikkelsen", "2803371122", 120, "inpatient"),
    ("karl-stin-2", "karl-2", "STIN", "Karl", "Mikkelsen", "2803371122", 1, "inpatient"),
]  # fmt: skip


def _receive_demo_message(credential: IntegrationCredential, message: dict[str, Any]) -> None:
    status, answer = ingest.medcom_receive(credential=credential, body=json.dumps(message).encode("utf-8"))
    if status != 200:
        raise RuntimeError(f"The demo message {message['id']} was refused ({status}): {answer}")


def _seed_medcom(seeder: _Seeder) -> None:
    """The integration credential of the demo hospital, Kirsten's current admission received as a MedCom
    message, and citizens without a plan (issue 12), through pathways.ingest. Repeats of the same
    messages (fixed message ids) change nothing, so running it again adds nothing."""
    credential = ingest.credential_authenticate(DEMO_MEDCOM_KEY)
    if credential is None:
        credential, _key = ingest.credential_issue(
            actor=None,
            organisation=seeder.orgs[DEMO_MEDCOM_SENDER],
            name="EPJ, Sygehus Sjælland Øst (demo)",
            key=DEMO_MEDCOM_KEY,
        )
    # Kirsten is in hospital again: `manage.py medcom_send kirsten-discharge` sends her home.
    _receive_demo_message(credential, medcom.example_message("kirsten-admission"))
    sender, receiver = seeder.orgs[DEMO_MEDCOM_SENDER], seeder.orgs[DEMO_MEDCOM_RECEIVER]
    now = timezone.now()
    for message_id, episode, code, given, family, cpr, days_ago, stay_class in _NO_PLAN_NOTICES:
        moment = now - timedelta(days=days_ago, hours=3)
        message = medcom.notification_bundle(
            code=code,
            message_id=f"ff-demo-{message_id}",
            sender=(sender.sor_code, sender.name),
            receiver=(receiver.sor_code, receiver.name),
            cpr=cpr,
            given_name=given,
            family_name=family,
            episode_id=f"ff-demo-forloeb-{episode}",
            admitted_at=moment - timedelta(days=3) if code == "SLHJ" else moment,
            ended_at=moment if code == "SLHJ" else None,
            sent_at=moment,
            stay_class=stay_class,
        )
        _receive_demo_message(credential, message)


def seed(write: Callable[[str], None]) -> None:
    """The hub's demo step (run by `manage.py seed_demo`): organisations, logins, patients and their
    plans. Idempotent; `write` prints a line for the person who ran it."""
    seeder = _Seeder()
    seeder.run()
    created = seeder.created
    write(
        f"Demo data ready. Created this run: {created['organisations']} organisations, "
        f"{created['users']} users, {created['patients']} patients, {created['plans']} plans."
    )
    totals = [
        ("organisations", Organisation.objects.count()),
        ("users", User.objects.count()),
        ("memberships", Membership.objects.active().count()),
        ("patients", Patient.objects.count()),
        ("plans", PathwayPlan.objects.count()),
        ("conditions", PlanCondition.objects.count()),
        ("participants", PlanParticipant.objects.count()),
        ("goals", Goal.objects.count()),
        ("tasks", Task.objects.count()),
    ]
    write("In the database: " + ", ".join(f"{count} {name}" for name, count in totals) + ".")
    write(f"\nDemo logins (password for all: {DEMO_PASSWORD}):")
    width = max(len(username) for username, _who, _sees in DEMO_LOGINS)
    for username, who, sees in DEMO_LOGINS:
        write(f"  {username.ljust(width)}  {who}\n  {'':{width}}  sees: {sees}")
    write(
        f"\nMedCom demo key (Medicinsk afdeling's EPJ): {DEMO_MEDCOM_KEY}\n"
        "  Send an example hospital notice to the running server: manage.py medcom_send kirsten-discharge"
    )
