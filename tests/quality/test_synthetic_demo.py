"""The demo's synthetic population (quality.demo, section "synthetic population"): after `seed_demo` the
dashboard has numbers — Roskilde's 24-hour home nursing result, a breakdown by education with both shown and
hidden groups and a gap that runs the expected way — while no demo login sees a synthetic patient and every
caseload is what the README promises; a second run changes nothing.

The demo is seeded once for the module inside a transaction rolled back at the end (as test_seed_demo does).
"""

from __future__ import annotations

from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from coordination.models import Dispute, NeedAssessment
from pathways.access import patients_visible_to, plans_visible_to
from pathways.choices import PlanStatus
from pathways.cpr import cpr_parse
from pathways.demo import DEMO_LOGINS
from pathways.models import HospitalStay, PathwayPlan, Patient, Task, User
from quality import reports
from quality.choices import Breakdown, LegalBasis, Period, RefreshState
from quality.demo import SYNTHETIC_MARK, SYNTHETIC_PATIENTS
from quality.models import (
    IndicatorCell,
    IndicatorRefresh,
    QuestionnaireRequest,
    QuestionnaireResponse,
    SocialBackground,
)

FAST_HASHER = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# The demo patients each demo login sees (pathways.demo.DEMO_LOGINS says the same in words).
CASELOADS = {
    "admin": set(),
    "sygehus": {"Kirsten Poulsen", "Ingrid Mortensen", "Fatma Yilmaz", "Jens Pedersen"},
    "kommune": {"Kirsten Poulsen", "Ingrid Mortensen", "Fatma Yilmaz"},
    "aftenvagt": {"Kirsten Poulsen", "Ingrid Mortensen", "Fatma Yilmaz"},
    "koordinator": {"Kirsten Poulsen", "Ingrid Mortensen", "Fatma Yilmaz"},
    "egenlaege": {"Kirsten Poulsen", "Ingrid Mortensen"},
    "holbaek": {"Helle Sørensen", "Kasper Lund", "Jens Pedersen"},
    "psykiatri": {"Kasper Lund"},
    "kvalitet": set(),
}


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


@pytest.fixture(scope="module", autouse=True)
def demo_world(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    with override_settings(PASSWORD_HASHERS=FAST_HASHER), django_db_blocker.unblock(), transaction.atomic():
        seed()
        yield
        transaction.set_rollback(True)


def synthetic_patients():
    return Patient.objects.filter(family_name__endswith=SYNTHETIC_MARK)


def roskilde(municipality: str = "265") -> reports.Filters:
    first, last = reports.default_range(by=Period.QUARTER, today=timezone.localdate())
    return reports.Filters(by=Period.QUARTER, first=first, last=last, municipality=municipality)


@pytest.mark.django_db
def test_every_demo_login_sees_exactly_its_demo_patients_and_no_synthetic_one():
    assert {username for username, _who, _sees in DEMO_LOGINS} <= set(CASELOADS)
    for username, expected in CASELOADS.items():
        user = User.objects.get(username=username)
        names = {patient.full_name for patient in patients_visible_to(user)}
        assert names == expected, username
        assert not plans_visible_to(user).filter(patient__family_name__endswith=SYNTHETIC_MARK).exists()


@pytest.mark.django_db
def test_no_demo_login_coordinates_or_works_in_a_synthetic_plan():
    demo_users = User.objects.filter(username__in=CASELOADS)
    synthetic_plans = PathwayPlan.objects.filter(patient__family_name__endswith=SYNTHETIC_MARK)
    assert not synthetic_plans.filter(coordinator__in=demo_users).exists()
    assert not Task.objects.filter(plan__in=synthetic_plans, responsible_person__in=demo_users).exists()
    assert not synthetic_plans.filter(participants__organisation__memberships__user__in=demo_users).exists()
    # Nobody can sign in as one of the synthetic clinicians.
    clinicians = User.objects.filter(coordinated_plans__in=synthetic_plans).distinct()
    assert clinicians.exists()
    assert not any(user.has_usable_password() for user in clinicians)


@pytest.mark.django_db
def test_the_synthetic_patients_are_marked_fictional_with_valid_cpr_numbers_and_one_open_plan_each():
    patients = list(synthetic_patients())
    assert len(patients) == SYNTHETIC_PATIENTS
    for patient in patients[:50]:
        parsed = cpr_parse(patient.cpr)
        assert parsed.birth_date == patient.birth_date
        assert parsed.passes_modulus11
    assert PathwayPlan.objects.filter(
        patient__in=synthetic_patients(), status=PlanStatus.ACTIVE
    ).count() == len(patients)
    municipalities = set(synthetic_patients().values_list("home_municipality", flat=True))
    assert {"265", "316"} <= municipalities
    assert len(municipalities) >= 5


@pytest.mark.django_db
def test_the_synthetic_history_has_every_kind_of_data_the_indicators_count():
    plans = PathwayPlan.objects.filter(patient__in=synthetic_patients())
    assert HospitalStay.objects.filter(plan__in=plans).count() > SYNTHETIC_PATIENTS
    assert NeedAssessment.objects.filter(plan__in=plans).exists()
    assert Dispute.objects.filter(plan__in=plans, status="resolved").exists()
    assert not Dispute.objects.filter(plan__in=plans, status="open").exists()  # nothing escalates
    assert QuestionnaireRequest.objects.filter(plan__in=plans, state="expired").exists()
    assert QuestionnaireResponse.objects.filter(plan__in=plans).exists()
    backgrounds = SocialBackground.objects.filter(patient__in=synthetic_patients())
    assert set(backgrounds.values_list("legal_basis", flat=True)) == {LegalBasis.SYNTHETIC}
    assert backgrounds.count() < SYNTHETIC_PATIENTS  # a few have no known background


@pytest.mark.django_db
def test_the_dashboard_has_numbers_at_once_from_a_finished_refresh():
    assert IndicatorRefresh.objects.filter(state=RefreshState.DONE).exists()
    indicators = {
        report.indicator.key: report for report in reports.dashboard(filters=roskilde(municipality=""))
    }
    for key, report in indicators.items():
        assert report.total.value is not None, key


@pytest.mark.django_db
def test_roskildes_home_nursing_result_shows_and_its_education_breakdown_hides_small_groups():
    indicator = reports.indicator_by_key("home-nursing-24h")
    assert indicator is not None

    by_education = reports.breakdown(indicator=indicator, filters=roskilde(), by=Breakdown.EDUCATION)

    assert by_education.total.value is not None
    assert by_education.total.n is not None
    assert by_education.total.n >= 100
    shown = [row for row in by_education.groups if row.value is not None]
    hidden = [row for row in by_education.groups if row.value is None]  # "<5" or "–": no share shown
    assert len(shown) >= 2
    assert hidden
    assert by_education.gap is not None
    assert by_education.gap.size > 0
    # Lower education does somewhat worse (quality.demo's DISADVANTAGE): the worst shown group is one of the
    # two without a higher education (which of them moves with the day the demo is made: a random draw).
    assert by_education.gap.worst.key in {"basic", "upper_secondary"}
    assert by_education.gap.best.key in {"short_higher", "long_higher"}


@pytest.mark.django_db
def test_a_second_seed_changes_no_synthetic_or_summary_row():
    def counts() -> tuple[int, ...]:
        return (
            synthetic_patients().count(),
            HospitalStay.objects.count(),
            Task.objects.count(),
            SocialBackground.objects.count(),
            QuestionnaireResponse.objects.count(),
            IndicatorRefresh.objects.count(),
        )

    before = counts()
    cells = list(IndicatorCell.objects.order_by("pk").values())

    seed()

    assert counts() == before
    assert list(IndicatorCell.objects.order_by("pk").values()) == cells
