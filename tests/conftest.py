"""Shared fixtures: a small world of organisations, staff and plans across three sectors."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.conf import settings as django_settings
from django.utils import translation
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from pathways import services
from pathways.choices import MembershipRole, MunicipalService, PlanStatus, Sector, TaskKind
from pathways.models import Organisation, PathwayPlan, Patient, User
from pathways.signin import policy as signin
from tests.sinks import mail_sink, sms_sink  # noqa: F401 (fixtures: importing them registers them)

PASSWORD = "Korrekt-Hest-Batteri-9"


def pytest_configure(config: pytest.Config) -> None:
    # Production settings (the default) send every request to https and refuse plain-http cookies.
    if os.environ.get("DJANGO_ENV") != "test":
        raise pytest.UsageError("Run the tests with DJANGO_ENV=test (make test sets it).")


@dataclass
class World:
    hospital: Organisation
    municipality: Organisation
    gp: Organisation
    unrelated: Organisation
    hospital_doctor: User
    home_nurse: User
    gp_doctor: User
    coordinator: User
    outsider: User
    admin: User
    patient: Patient
    plan: PathwayPlan
    other_patient: Patient
    other_plan: PathwayPlan


def make_user(
    username: str, organisation: Organisation | None, role: str = MembershipRole.CLINICIAN, **extra
):
    user = User.objects.create_user(
        username=username, password=PASSWORD, first_name=username.title(), **extra
    )
    if organisation is not None:
        services.membership_add(user=user, organisation=organisation, role=MembershipRole(role))
    return user


def sign_in(client, user):
    """Sign the user in as they would: with the second step passed where their account needs it.

    (The test client's login() cannot be used: django-axes needs the request to throttle by address.)
    """
    client.force_login(user)
    if signin.second_factor_required(user):
        device, _ = TOTPDevice.objects.get_or_create(user=user, confirmed=True, defaults={"name": "test"})
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
    return client


@pytest.fixture(autouse=True)
def _language_reset() -> Iterator[None]:
    """Each test starts in the product's language, whatever the one before it switched to (a request with
    the language cookie leaves its language active in the test's thread)."""
    translation.activate(django_settings.LANGUAGE_CODE)
    yield
    translation.activate(django_settings.LANGUAGE_CODE)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # PBKDF2 at production strength costs ~0.4 s per user; the tests create many users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def world(db) -> World:
    hospital = Organisation.objects.create(name="Medicinsk afdeling", sector=Sector.HOSPITAL, sor_code="1001")
    municipality = Organisation.objects.create(
        name="Hjemmesygeplejen Roskilde",
        sector=Sector.MUNICIPALITY,
        sor_code="2001",
        municipality_code="265",
        municipal_service=MunicipalService.HOME_NURSING,
    )
    gp = Organisation.objects.create(name="Lægerne i Byen", sector=Sector.GENERAL_PRACTICE, sor_code="3001")
    unrelated = Organisation.objects.create(
        name="Hjemmeplejen Holbæk",
        sector=Sector.MUNICIPALITY,
        sor_code="2002",
        municipality_code="316",
        municipal_service=MunicipalService.HOME_NURSING,
    )
    hospital_doctor = make_user("hospital_doctor", hospital)
    home_nurse = make_user("home_nurse", municipality)
    gp_doctor = make_user("gp_doctor", gp)
    coordinator = make_user("coordinator", municipality, MembershipRole.COORDINATOR)
    outsider = make_user("outsider", unrelated)
    admin = User.objects.create_superuser(username="admin", password=PASSWORD, email="admin@example.invalid")

    patient = services.patient_create(
        cpr="0707614285",
        given_name="Kirsten",
        family_name="Testesen",
        home_municipality="265",
        general_practice=gp,
    )
    plan = services.plan_create(
        actor=coordinator,
        patient=patient,
        title="KOL og diabetes",
        what_matters="At kunne blive boende hjemme.",
        conditions=[("KOL", "J44"), ("Type 2-diabetes", "E11")],
        participants=[hospital, municipality, gp],
    )
    plan = services.coordinator_assign(
        actor=coordinator, plan=plan, coordinator=coordinator, organisation=municipality, phone="46 31 00 00"
    )
    plan = services.plan_transition(actor=coordinator, plan=plan, to_status=PlanStatus.ACTIVE)
    services.task_create(
        actor=home_nurse,
        plan=plan,
        title="Hjemmebesøg",
        responsible_organisation=municipality,
        kind=TaskKind.HOME_VISIT,
    )
    other_patient = services.patient_create(
        cpr="1203801236", given_name="Ole", family_name="Andersen", home_municipality="316"
    )
    other_plan = services.plan_create(
        actor=outsider, patient=other_patient, title="Hjertesvigt", participants=[unrelated]
    )
    return World(
        hospital=hospital,
        municipality=municipality,
        gp=gp,
        unrelated=unrelated,
        hospital_doctor=hospital_doctor,
        home_nurse=home_nurse,
        gp_doctor=gp_doctor,
        coordinator=coordinator,
        outsider=outsider,
        admin=admin,
        patient=patient,
        plan=plan,
        other_patient=other_patient,
        other_plan=other_plan,
    )
