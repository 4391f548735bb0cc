"""The relatives' part of the benchmark's synthetic data (seed_synthetic_relatives)."""

import io

import pytest
from django.core.management import call_command

from pathways.models import PathwayPlan
from relatives.choices import ConsentAction, ConsentScope
from relatives.management.commands import seed_synthetic_relatives
from relatives.models import Relative, RelativeConsent


def relatives_by_plan() -> set[tuple[int, str, str, bool]]:
    return set(Relative.objects.values_list("plan_id", "name", "relation", "is_closest"))


@pytest.mark.django_db
def test_most_plans_get_a_closest_relative_with_the_patients_consent_and_a_second_run_adds_nothing():
    call_command("seed_synthetic", patients=40, stdout=io.StringIO())
    call_command("seed_synthetic_relatives", stdout=io.StringIO())
    made = relatives_by_plan()
    call_command("seed_synthetic_relatives", stdout=io.StringIO())
    assert relatives_by_plan() == made

    with_relatives = PathwayPlan.objects.filter(relatives__isnull=False).distinct().count()
    assert 20 <= with_relatives < 40  # four in five, by the plan's id
    for relative in Relative.objects.all():
        (consent,) = RelativeConsent.objects.filter(relative=relative)
        assert consent.action == ConsentAction.GIVEN
        assert consent.plan_id == relative.plan_id
        if relative.is_closest:
            assert consent.scope in {ConsentScope.WHOLE_PLAN, ConsentScope.APPOINTMENTS}
        else:
            assert consent.scope == ConsentScope.CONTACT_ONLY
    assert Relative.objects.filter(is_closest=True).count() == with_relatives


@pytest.mark.django_db
def test_a_stopped_run_goes_on_after_the_last_plan_it_reached_and_makes_the_same_relatives(monkeypatch):
    call_command("seed_synthetic", patients=40, stdout=io.StringIO())
    monkeypatch.setattr(seed_synthetic_relatives, "BATCH", 10)
    call_command("seed_synthetic_relatives", stdout=io.StringIO())
    whole = relatives_by_plan()
    sixteenth_plan = sorted(PathwayPlan.objects.values_list("pk", flat=True))[15]
    RelativeConsent.objects.filter(plan_id__gt=sixteenth_plan).delete()
    Relative.objects.filter(plan_id__gt=sixteenth_plan).delete()
    assert relatives_by_plan() < whole  # as if the run had stopped after its second batch

    call_command("seed_synthetic_relatives", stdout=io.StringIO())

    assert relatives_by_plan() == whole
