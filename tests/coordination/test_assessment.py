"""The need for a coordinator: the criteria's suggestion, who may assess and for which organisation, the
rules of an assessment, the "needs a coordinator, has none" flag, the reassessment reminder, and the plan
page's coordination section and the assessment page."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from coordination import selectors, services
from coordination.choices import NeedCriterion, NeedOutcome
from coordination.models import NeedAssessment
from pathways import outbox
from pathways import services as hub_services
from pathways.choices import MembershipRole, NotificationKind, NotificationState, Sector
from pathways.models import Notification, Organisation, PathwayPlan
from pathways.selectors import plan_page_for
from tests.conftest import make_user, sign_in

HTMX = {"HX-Request": "true"}
TODAY = timezone.localdate


def record(world: Any, actor: Any = None, **changes: Any) -> NeedAssessment:
    values: dict[str, Any] = {
        "actor": actor or world.coordinator,
        "plan": world.plan,
        "organisation": world.municipality,
        "assessed_on": TODAY(),
        "patient_present": True,
        "criteria": [NeedCriterion.MULTIMORBIDITY, NeedCriterion.REPEATED_ADMISSIONS],
        "unplanned_admissions_12m": 3,
        "outcome": NeedOutcome.NEEDS_COORDINATOR,
        "note": "",
        "review_date": TODAY() + timedelta(days=180),
    }
    return services.need_assessment_record(**(values | changes))


def reminders(plan: PathwayPlan) -> Any:
    return Notification.objects.filter(plan=plan, kind=NotificationKind.NEED_REVIEW_DUE)


def flagged(plan: PathwayPlan) -> bool:
    return (
        PathwayPlan.objects.annotate(flag=selectors.needs_coordinator_expression()).values_list(
            "flag", flat=True
        )
    ).get(pk=plan.pk)


# --- The suggestion ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("criteria", "expected"),
    [
        ([], NeedOutcome.NO_NEED),
        ([NeedCriterion.MULTIMORBIDITY], NeedOutcome.NO_NEED),
        ([NeedCriterion.PATIENT_WISH], NeedOutcome.NEEDS_COORDINATOR),  # the patient's wish is enough
        ([NeedCriterion.NO_RELATIVES, NeedCriterion.COGNITIVE_IMPAIRMENT], NeedOutcome.NEEDS_COORDINATOR),
    ],
)
def test_the_criteria_suggest_a_coordinator_for_the_patients_wish_or_two_criteria(criteria, expected):
    assert services.suggested_need_outcome(criteria) == expected


# --- Recording an assessment ------------------------------------------------------------------------------


def test_a_participant_assesses_for_their_organisation_and_the_assessment_is_kept(world):
    assessment = record(
        world,
        actor=world.hospital_doctor,
        organisation=world.hospital,
        patient_present=False,
        criteria=[NeedCriterion.REPEATED_ADMISSIONS, NeedCriterion.MULTIMORBIDITY],
    )
    assert assessment.assessed_by == world.hospital_doctor
    assert assessment.assessed_by_organisation == world.hospital
    assert assessment.patient_present is False
    # Criteria are kept in the list's order, whatever order they were ticked in.
    assert assessment.criteria == [NeedCriterion.MULTIMORBIDITY, NeedCriterion.REPEATED_ADMISSIONS]


def test_deciding_otherwise_than_the_suggestion_needs_a_reason(world):
    with pytest.raises(ValidationError) as refused:
        record(world, outcome=NeedOutcome.NO_NEED)
    assert "note" in refused.value.message_dict
    assert not NeedAssessment.objects.exists()
    assessment = record(world, outcome=NeedOutcome.NO_NEED, note="Datteren koordinerer selv, efter aftale.")
    assert assessment.outcome == NeedOutcome.NO_NEED


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"assessed_on": date.today() + timedelta(days=3)}, "assessed_on"),
        ({"review_date": date.today()}, "review_date"),  # not after the assessment
        ({"review_date": date.today() + timedelta(days=2 * 366 + 1)}, "review_date"),  # over two years
        ({"criteria": ["moon_phase"]}, "criteria"),
        ({"note": "x" * 2001, "outcome": NeedOutcome.NO_NEED}, "note"),
    ],
)
def test_an_assessment_that_breaks_a_rule_is_refused_and_writes_nothing(world, changes, field):
    changes = {k: (TODAY() + (v - date.today()) if isinstance(v, date) else v) for k, v in changes.items()}
    with pytest.raises(ValidationError) as refused:
        record(world, **changes)
    assert field in refused.value.message_dict
    assert not NeedAssessment.objects.exists()
    assert not reminders(world.plan).exists()


def test_an_organisation_the_assessor_does_not_act_for_is_refused(world):
    with pytest.raises(ValidationError) as refused:
        record(world, actor=world.hospital_doctor, organisation=world.municipality)
    assert "organisation" in refused.value.message_dict
    assert not NeedAssessment.objects.exists()


def test_someone_outside_the_plan_may_not_assess(world):
    with pytest.raises(PermissionDenied):
        record(world, actor=world.outsider, organisation=world.unrelated)
    assert not NeedAssessment.objects.exists()


# --- The reassessment reminder --------------------------------------------------------------------------


def test_the_reminder_reaches_the_assessor_and_the_coordinator_at_8_on_the_review_date(world):
    review = TODAY() + timedelta(days=90)
    assessment = record(world, actor=world.home_nurse, review_date=review)
    rows = reminders(world.plan)
    assert {row.recipient for row in rows} == {world.home_nurse, world.coordinator}
    assert {row.due_at for row in rows} == {outbox.local_moment(review)}
    assert all(str(assessment.public_id) in row.dedupe_key for row in rows)
    assert {row.state for row in rows} == {NotificationState.PENDING}


def test_a_new_assessment_cancels_the_earlier_reminder(world):
    first = record(world, review_date=TODAY() + timedelta(days=90))
    second = record(world, review_date=TODAY() + timedelta(days=120))
    states = {row.dedupe_key: row.state for row in reminders(world.plan)}
    assert {state for key, state in states.items() if str(first.public_id) in key} == {
        NotificationState.CANCELLED
    }
    assert {state for key, state in states.items() if str(second.public_id) in key} == {
        NotificationState.PENDING
    }


# --- The flag: needs a coordinator, has none -----------------------------------------------------------


def test_a_plan_assessed_as_needing_a_coordinator_without_one_is_flagged_until_one_is_assigned(world):
    plan = world.other_plan  # no coordinator yet; the outsider's organisation takes part
    assert flagged(plan) is False
    record(world, actor=world.outsider, plan=plan, organisation=world.unrelated)
    assert flagged(plan) is True
    coordinator = make_user("unrelated_coordinator", world.unrelated, MembershipRole.COORDINATOR)
    hub_services.coordinator_assign(
        actor=world.outsider, plan=plan, coordinator=coordinator, organisation=world.unrelated
    )
    assert flagged(plan) is False


def test_only_the_latest_assessment_counts_for_the_flag(world):
    plan = world.other_plan
    record(
        world,
        actor=world.outsider,
        plan=plan,
        organisation=world.unrelated,
        assessed_on=TODAY() - timedelta(1),
    )
    record(
        world,
        actor=world.outsider,
        plan=plan,
        organisation=world.unrelated,
        criteria=[],
        outcome=NeedOutcome.NO_NEED,
    )
    assert flagged(plan) is False
    annotated = PathwayPlan.objects.annotate(outcome=selectors.latest_assessment_subquery("outcome")).get(
        pk=plan.pk
    )
    assert annotated.outcome == NeedOutcome.NO_NEED  # type: ignore[attr-defined]


def test_a_plan_with_a_coordinator_is_not_flagged(world):
    record(world)
    assert flagged(world.plan) is False


# --- The plan page's section -----------------------------------------------------------------------------


def test_the_section_shows_the_latest_assessment_and_an_overdue_review(world):
    record(
        world,
        assessed_on=TODAY() - timedelta(days=200),
        review_date=TODAY() - timedelta(days=10),
        criteria=[NeedCriterion.PATIENT_WISH],
        patient_present=False,
    )
    page = plan_page_for(world.home_nurse, world.plan.public_id)
    context = selectors.plan_coordination_section(world.home_nurse, page)
    assert context is not None
    latest = context["coordination"]["latest"]
    assert latest.review_overdue is True
    assert latest.criteria == [str(NeedCriterion.PATIENT_WISH.label)]
    html = render_to_string("coordination/_partials/plan_coordination.html", context)
    assert "Revurdering over frist" in html
    assert "uden patienten" in html
    assert "Behov for koordinator, men ingen udpeget" not in html  # the plan has its coordinator
    # Every participant may assess; only the coordinator hands over.
    assert "Vurdér behov for forløbskoordinator" in html
    assert "Overdrag koordinatorrollen" not in html


def test_the_section_shows_a_banner_when_a_needed_coordinator_is_missing(world):
    record(world, actor=world.outsider, plan=world.other_plan, organisation=world.unrelated)
    page = plan_page_for(world.outsider, world.other_plan.public_id)
    html = render_to_string(
        "coordination/_partials/plan_coordination.html",
        selectors.plan_coordination_section(world.outsider, page),
    )
    assert "Behov for koordinator, men ingen udpeget" in html
    assert "Udpeg en forløbskoordinator" in html  # while the plan has none, its participants set it up


def test_the_section_reads_in_two_queries_however_many_assessments_and_handovers(
    world, django_assert_num_queries
):
    for days in range(5):
        record(world, assessed_on=TODAY() - timedelta(days=days))
    for number in range(4):
        successor = make_user(f"successor{number}", world.municipality, MembershipRole.COORDINATOR)
        services.coordinator_handover(
            actor=None,
            plan=world.plan,
            coordinator=successor,
            organisation=world.municipality,
            substitute=None,
        )
    page = plan_page_for(world.coordinator, world.plan.public_id)
    with django_assert_num_queries(2):
        context = selectors.plan_coordination_section(world.coordinator, page)
    assert context is not None
    assert len(context["coordination"]["handovers"]) == selectors.HANDOVERS_SHOWN


# --- The page --------------------------------------------------------------------------------------------


def url(plan: PathwayPlan) -> str:
    return reverse("coordination:need-assessment", args=[plan.public_id])


def form_data(world: Any, **changes: Any) -> dict[str, Any]:
    data = {
        "organisation": str(world.municipality.public_id),
        "assessed_on": TODAY().isoformat(),
        "patient_present": "yes",
        "criteria": [NeedCriterion.MULTIMORBIDITY, NeedCriterion.MANY_ORGANISATIONS],
        "unplanned_admissions_12m": "2",
        "outcome": NeedOutcome.NEEDS_COORDINATOR,
        "note": "",
        "review_date": (TODAY() + timedelta(days=180)).isoformat(),
    }
    return data | changes


def test_the_form_shows_the_criteria_and_a_review_date_six_months_ahead(
    client, world, django_assert_max_num_queries
):
    sign_in(client, world.home_nurse)
    with django_assert_max_num_queries(20):
        response = client.get(url(world.plan))
    assert response.status_code == 200
    html = response.content.decode()
    for label in NeedCriterion.labels:
        assert str(label) in html
    assert "Kriterierne peger på" in html
    from coordination.forms import months_after

    assert months_after(TODAY(), 6).isoformat() in html


def test_a_plain_post_saves_and_goes_back_to_the_plans_coordination_section(client, world):
    sign_in(client, world.home_nurse)
    response = client.post(url(world.plan), form_data(world))
    assert response.status_code == 302
    assert response["Location"].endswith(f"/plans/{world.plan.public_id}/#coordination")
    assessment = NeedAssessment.objects.get()
    assert assessment.assessed_by == world.home_nurse
    assert assessment.patient_present is True


def test_an_htmx_post_answers_with_the_section(client, world):
    sign_in(client, world.home_nurse)
    response = client.post(url(world.plan), form_data(world), headers=HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="coordination"' in html
    assert "Har behov for en forløbskoordinator" in html


@pytest.mark.parametrize(
    "changes",
    [
        {"organisation": "", "outcome": "", "review_date": "", "assessed_on": ""},  # empty
        {"outcome": NeedOutcome.NO_NEED, "note": "x" * 2001},  # too long
        {"organisation": "not-an-id"},
        {"review_date": (TODAY() - timedelta(days=1)).isoformat()},  # before the assessment
        {"outcome": NeedOutcome.NO_NEED},  # decided otherwise without a reason
        {"unplanned_admissions_12m": "-1"},
        {"criteria": ["moon_phase"]},
    ],
)
def test_bad_input_is_shown_with_errors_and_writes_nothing(client, world, changes):
    sign_in(client, world.home_nurse)
    response = client.post(url(world.plan), form_data(world, **changes))
    assert response.status_code == 422
    assert "form-error-message" in response.content.decode()
    assert not NeedAssessment.objects.exists()


def test_an_organisation_of_another_plan_is_refused(client, world):
    sign_in(client, world.home_nurse)
    response = client.post(url(world.plan), form_data(world, organisation=str(world.unrelated.public_id)))
    assert response.status_code == 422
    assert not NeedAssessment.objects.exists()


def test_someone_outside_the_plan_gets_404_and_nothing_is_written(client, world):
    sign_in(client, world.outsider)
    assert client.get(url(world.plan)).status_code == 404
    assert client.post(url(world.plan), form_data(world)).status_code == 404
    assert not NeedAssessment.objects.exists()


def test_a_reader_with_emergency_access_may_not_assess(client, world):
    emergency = Organisation.objects.create(name="Akutmodtagelsen", sector=Sector.HOSPITAL, sor_code="1009")
    doctor = make_user("akutlaege", emergency)
    hub_services.emergency_access_grant(
        actor=doctor, organisation=emergency, plan=world.plan, reason="Indlagt akut, skal kende planen."
    )
    sign_in(client, doctor)
    assert client.get(url(world.plan)).status_code == 403
    assert client.post(url(world.plan), form_data(world)).status_code == 403
    assert not NeedAssessment.objects.exists()


def test_the_form_opens_inside_the_section_with_htmx(client, world):
    sign_in(client, world.coordinator)
    response = client.get(url(world.plan), headers=HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="need-assessment-form"' in html
    assert "<html" not in html


def test_an_htmx_post_with_errors_replaces_the_form_itself(client, world):
    sign_in(client, world.coordinator)
    response = client.post(url(world.plan), form_data(world, outcome=NeedOutcome.NO_NEED), headers=HTMX)
    assert response.status_code == 200  # htmx swaps 2xx only
    assert response["HX-Retarget"] == "#need-assessment-form"
    assert "form-error-message" in response.content.decode()
    assert not NeedAssessment.objects.exists()
