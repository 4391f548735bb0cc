"""`manage.py seed_demo`: idempotent demo data whose logins see exactly the patients the README promises.

The demo world is seeded once for the module inside a transaction that is rolled back at the end
(as Django's TestCase.setUpTestData does); each test runs in its own savepoint on top of it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.db import connection, transaction
from django.test import RequestFactory, override_settings
from django.utils import timezone

from pathways.access import patients_visible_to
from pathways.choices import AccessAction, AccessPurpose, TaskKind, TaskStatus
from pathways.demo import DEMO_LOGINS, DEMO_PASSWORD
from pathways.models import AccessLog, Patient, Task, User
from pathways.partitions import month_first, partition_name

FAST_HASHER = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


@pytest.fixture(scope="module", autouse=True)
def demo_world(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """The first run of seed_demo, shared by the module's tests and rolled back afterwards."""
    with override_settings(PASSWORD_HASHERS=FAST_HASHER), django_db_blocker.unblock(), transaction.atomic():
        seed()
        yield
        transaction.set_rollback(True)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    settings.PASSWORD_HASHERS = FAST_HASHER


def row_counts() -> dict[str, int]:
    return {
        model.__name__: model._default_manager.count()
        for model in apps.get_app_config("pathways").get_models()
    }


def all_rows() -> dict[str, list[dict[str, Any]]]:
    """Every row of every pathways model, every column (versions, timestamps, password hashes…)."""
    return {
        model.__name__: list(model._default_manager.order_by("pk").values())
        for model in apps.get_app_config("pathways").get_models()
    }


def task_snapshot() -> set[tuple[str, str, str]]:
    return set(Task.objects.values_list("plan__patient__cpr", "title", "status"))


def visible_names(username: str) -> set[str]:
    user = User.objects.get(username=username)
    return {patient.full_name for patient in patients_visible_to(user)}


@pytest.mark.django_db
def test_running_seed_demo_a_second_time_changes_no_row():
    counts, tasks, rows = row_counts(), task_snapshot(), all_rows()

    output = seed()

    assert row_counts() == counts
    assert task_snapshot() == tasks
    assert all_rows() == rows
    assert "Created this run: 0 organisations, 0 users, 0 patients, 0 plans" in output


@pytest.mark.django_db
def test_seed_gives_six_patients_each_with_one_current_plan_full_of_tasks():
    # Besides them, quality's step adds a synthetic population for the dashboard: names marked so.
    patients = Patient.objects.exclude(family_name__endswith="(syntetisk)")
    assert patients.count() == 6
    for patient in patients:
        assert patient.plans.open().count() == 1, patient.full_name
        assert patient.plans.get().tasks.count() >= 4, patient.full_name
    demo_tasks = Task.objects.filter(plan__patient__in=patients)
    assert len({row for row in task_snapshot() if row[0] in set(patients.values_list("cpr", flat=True))}) == (
        demo_tasks.count()
    )


@pytest.mark.django_db
def test_every_demo_login_authenticates_with_the_demo_password():
    for username, _who, _sees in DEMO_LOGINS:
        request = RequestFactory().post("/login/")
        assert authenticate(request, username=username, password=DEMO_PASSWORD) is not None, username


@pytest.mark.django_db
def test_only_the_admin_login_may_use_the_administration():
    assert set(User.objects.filter(is_staff=True).values_list("username", flat=True)) == {"admin"}
    assert set(User.objects.filter(is_superuser=True).values_list("username", flat=True)) == {"admin"}


@pytest.mark.django_db
def test_hospital_municipality_coordinator_and_gp_all_see_kirsten():
    for username in ("sygehus", "kommune", "koordinator", "egenlaege"):
        assert "Kirsten Poulsen" in visible_names(username), username


@pytest.mark.django_db
def test_another_municipality_sees_helle_but_not_kirsten():
    names = visible_names("holbaek")
    assert "Helle Sørensen" in names
    assert "Kirsten Poulsen" not in names


@pytest.mark.django_db
def test_gp_does_not_see_a_patient_of_another_practice():
    assert "Helle Sørensen" not in visible_names("egenlaege")


@pytest.mark.django_db
def test_psychiatry_sees_only_the_psychiatric_patient():
    assert visible_names("psykiatri") == {"Kasper Lund"}


@pytest.mark.django_db
def test_demo_logins_table_names_exactly_the_patients_each_login_sees():
    all_names = {patient.full_name for patient in Patient.objects.all()}
    for username, _who, sees in DEMO_LOGINS:
        promised = {name for name in all_names if name in sees}
        assert visible_names(username) == promised, username


@pytest.mark.django_db
def test_kirstens_discharge_home_visit_is_due_within_a_day_with_a_named_nurse():
    # The visit after her latest discharge (her earlier stay's follow-up visit, made by that one, is done).
    visit = Task.objects.get(
        plan__patient__given_name="Kirsten", kind=TaskKind.HOME_VISIT, created_by_transition__isnull=True
    )
    assert visit.due_date is not None
    assert 0 <= (visit.due_date - timezone.localdate()).days <= 1
    assert visit.responsible_person is not None
    assert visit.responsible_person.username == "kommune"


@pytest.mark.django_db
def test_helles_needle_free_meter_is_on_hold_and_overdue():
    meter = Task.objects.get(plan__patient__given_name="Helle", kind=TaskKind.ASSISTIVE_DEVICE)
    assert meter.status == TaskStatus.ON_HOLD
    assert meter.due_date is not None
    assert meter.due_date < timezone.localdate()


@pytest.mark.django_db
def test_seeding_puts_reads_of_earlier_months_in_their_months_partition_none_waiting_in_the_default():
    half_a_year_ago = timezone.now() - timedelta(days=183)
    earlier = AccessLog.objects.create(
        actor=User.objects.get(username="koordinator"),
        patient=Patient.objects.get(cpr="1403612126"),
        action=AccessAction.VIEW_PLAN,
        purpose=AccessPurpose.TREATMENT,
        at=half_a_year_ago,
    )

    seed()

    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text FROM pathways_accesslog WHERE id = %s", [earlier.pk])
        assert cursor.fetchone() == (partition_name("pathways_accesslog", month_first(half_a_year_ago)),)
        cursor.execute("SELECT count(*) FROM pathways_accesslog_default")
        assert cursor.fetchone() == (0,)
