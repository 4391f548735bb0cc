"""The synthetic data generator and the page benchmark, at a size the suite can afford."""

import io

import pytest
from django.core.management import call_command

from pathways import access
from pathways.models import PathwayPlan, Patient, PlanParticipant, Task, User


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
