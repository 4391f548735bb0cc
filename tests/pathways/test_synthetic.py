"""The synthetic data generator and the page benchmark, at a size the suite can afford."""

import io
from datetime import timedelta

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from pathways import access
from pathways.choices import MembershipRole
from pathways.management.commands import seed_synthetic
from pathways.models import (
    AccessLog,
    Membership,
    Notification,
    PathwayPlan,
    Patient,
    PlanParticipant,
    Task,
    User,
    event_model_label,
)


@pytest.mark.django_db(transaction=True)
def test_seed_synthetic_builds_realistic_plans_and_is_idempotent():
    call_command("seed_synthetic", patients=60, stdout=io.StringIO())
    call_command("seed_synthetic", patients=60, stdout=io.StringIO())  # nothing more
    assert Patient.objects.filter(family_name__startswith="Syn-").count() == 60
    assert PathwayPlan.objects.count() == 60
    tasks_per_plan = Task.objects.count() / 60
    assert 9 <= tasks_per_plan <= 15
    sectors = set(Task.objects.values_list("responsible_organisation__sector", flat=True))
    assert {"hospital", "municipality", "general_practice"} <= sectors
    assert PlanParticipant.objects.filter(plan=PathwayPlan.objects.first()).count() == 3
    nurse = User.objects.get(username="syn-syn-k265-hs")
    assert access.plans_visible_to(nurse).exists()


@pytest.mark.django_db(transaction=True)
def test_bench_pages_prints_median_p95_floor_and_ratio():
    call_command("seed_synthetic", patients=200, stdout=io.StringIO())
    out = io.StringIO()
    call_command("bench_pages", repeat=3, header=True, stdout=out)
    lines = out.getvalue().splitlines()
    assert "median ms" in lines[0]
    assert "ratio" in lines[0]
    assert [line.split()[1] for line in lines[1:]] == ["caseload", "plan"]
    assert all(line.rstrip().endswith("×") for line in lines[1:])


def synthetic_plans() -> set[tuple[str, tuple[tuple[str, str, str], ...]]]:
    """Each synthetic patient's CPR with their plan's tasks (title, due date, status): what a run made."""
    tasks: dict[str, list[tuple[str, str, str]]] = {}
    for cpr, title, due, status in Task.objects.values_list(
        "plan__patient__cpr", "title", "due_date", "status"
    ):
        tasks.setdefault(cpr, []).append((title, str(due), status))
    return {(cpr, tuple(sorted(rows))) for cpr, rows in tasks.items()}


@pytest.mark.django_db
def test_seed_synthetic_writes_two_years_of_reads_the_audit_trail_and_the_coordinators_notices(monkeypatch):
    # Several coordinators per home-nursing unit, as in the country's data: the reads stay the clinicians'.
    monkeypatch.setattr(seed_synthetic, "PLANS_PER_COORDINATOR", 1)
    call_command("seed_synthetic", patients=30, reads_per_month=2, stdout=io.StringIO())
    clinicians = set(Membership.objects.filter(role=MembershipRole.CLINICIAN).values_list("user", flat=True))
    plans = PathwayPlan.objects.all()
    assert plans.count() == 30
    two_years_ago = timezone.now() - timedelta(days=2 * 365)
    for plan in plans[:5]:
        reads = AccessLog.objects.filter(plan=plan)
        assert reads.count() == 24 * 2
        assert not reads.filter(at__lt=two_years_ago).exists()
        assert set(reads.values_list("organisation", flat=True)) == set(
            plan.participants.values_list("organisation", flat=True)
        )
        assert set(reads.values_list("actor", flat=True)) <= clinicians
        assert plan.coordinator_id is not None
        assert Notification.objects.filter(plan=plan, recipient_id=plan.coordinator_id).count() == 3
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pathways_accesslog_default")
        assert cursor.fetchone() == (0,)  # every read in its month's partition
    task_events = apps.get_model(event_model_label(Task)).objects
    assert task_events.filter(pgh_label="insert").count() == Task.objects.count()
    completed = Task.objects.filter(completed_at__isnull=False)
    assert completed.exists()
    assert task_events.filter(pgh_label="update", status="completed").count() == completed.count()
    for model in (Patient, PathwayPlan, PlanParticipant):
        events = apps.get_model(event_model_label(model)).objects
        assert events.filter(pgh_label="insert").count() == model.objects.count()


@pytest.mark.django_db
def test_a_stopped_seed_synthetic_run_goes_on_from_its_last_batch_and_makes_the_same_data(monkeypatch):
    monkeypatch.setattr(seed_synthetic, "BATCH", 20)
    sid = transaction.savepoint()
    call_command("seed_synthetic", patients=60, stdout=io.StringIO())
    uninterrupted = synthetic_plans()
    transaction.savepoint_rollback(sid)
    assert not Patient.objects.exists()

    write = seed_synthetic.History.write
    batches = iter(range(100))

    def dies_in_the_second_batch(self: seed_synthetic.History, plan_ids: list[int]) -> None:
        if next(batches) == 1:
            raise KeyboardInterrupt  # as ^C or a killed process: the batch's transaction rolls back
        write(self, plan_ids)

    monkeypatch.setattr(seed_synthetic.History, "write", dies_in_the_second_batch)
    with pytest.raises(KeyboardInterrupt):
        call_command("seed_synthetic", patients=60, stdout=io.StringIO())
    assert Patient.objects.count() == 20
    out = io.StringIO()
    call_command("seed_synthetic", patients=60, stdout=out)
    assert "20 existing, target 60" in out.getvalue()
    assert Patient.objects.count() == 60
    assert synthetic_plans() == uninterrupted
