"""The coordinator's worklist and start page, the risk level and the caseload's coordination columns."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from coordination import selectors, services
from coordination.choices import (
    RISK_WEIGHTS,
    DisputeQuestion,
    MessagePriority,
    NeedCriterion,
    NeedOutcome,
    RiskLevel,
    RiskPart,
    WorkItemKind,
)
from pathways import services as hub
from pathways.choices import AccessAction, MembershipRole, TaskKind, TaskStatus
from pathways.models import AccessLog, PathwayPlan
from relatives.choices import ConsentAction, ConsentMethod, ConsentScope, Relation
from relatives.models import Relative, RelativeConsent
from tests.conftest import make_user, sign_in
from tests.pathways.test_query_counts import add_patients


@pytest.fixture
def busy(world):
    """Kirsten's plan with one line of every kind for the coordinator."""
    today = timezone.localdate()
    plan = world.plan
    overdue = hub.task_create(
        actor=world.coordinator,
        plan=plan,
        title="Blodprøver",
        responsible_organisation=world.gp,
        due_date=today - timedelta(days=6),
    )
    soon = hub.task_create(
        actor=world.coordinator,
        plan=plan,
        title="Kontrol af inhalator",
        responsible_organisation=world.hospital,
        due_date=today + timedelta(days=3),
    )
    later = hub.task_create(
        actor=world.coordinator,
        plan=plan,
        title="Genoptræning",
        responsible_organisation=world.municipality,
        due_date=today + timedelta(days=30),
        depends_on=soon,
    )
    hub.task_transition(actor=world.hospital_doctor, task=soon, to_status=TaskStatus.COMPLETED)
    services.dispute_raise(
        actor=world.home_nurse,
        task=overdue,
        organisation=world.municipality,
        parties=[world.gp, world.municipality],
        question=DisputeQuestion.WHO_ACTS,
        reason="Hvem tager blodprøverne i hjemmet?",
        interim_organisation=world.municipality,
    )
    services.thread_start(
        actor=world.hospital_doctor,
        plan=plan,
        sender_organisation=world.hospital,
        recipients=[world.municipality],
        subject="Udskrivelse i morgen",
        body="Hun udskrives kl. 10.",
        priority=MessagePriority.URGENT,
    )
    PathwayPlan.objects.filter(pk=plan.pk).update(review_date=today - timedelta(days=2))
    return {"overdue": overdue, "soon": soon, "later": later}


def titles(worklist, kind):
    [section] = [s for s in worklist.sections if s.kind == kind]
    return [item.title for item in section.items]


def test_the_coordinator_sees_every_kind_of_line_across_their_plans(world, busy):
    worklist = selectors.worklist_for_coordinator(world.coordinator)
    assert worklist.as_coordinator
    assert titles(worklist, WorkItemKind.OVERDUE) == ["Blodprøver"]
    assert "Kontrol af inhalator" not in titles(worklist, WorkItemKind.DUE_SOON)  # done
    assert titles(worklist, WorkItemKind.READY) == ["Genoptræning"]
    assert titles(worklist, WorkItemKind.DISPUTE) == ["Blodprøver"]
    assert titles(worklist, WorkItemKind.UNREAD) == ["Udskrivelse i morgen"]
    assert len(titles(worklist, WorkItemKind.REVIEW)) == 1
    # The fixture's commitments are not accepted yet.
    assert set(titles(worklist, WorkItemKind.NOT_ACCEPTED)) >= {"Medicinsk afdeling", "Lægerne i Byen"}
    [urgent] = next(s for s in worklist.sections if s.kind == WorkItemKind.UNREAD).items
    assert urgent.urgent


def test_lines_link_to_the_place_on_the_plan(world, busy):
    worklist = selectors.worklist_for_coordinator(world.coordinator)
    [overdue] = next(s for s in worklist.sections if s.kind == WorkItemKind.OVERDUE).items
    assert overdue.href.endswith(f"#task-{busy['overdue'].public_id}")
    assert overdue.age_days == 6


def test_others_see_only_what_concerns_their_organisation_and_no_review_lines(world, busy):
    worklist = selectors.worklist_for_coordinator(world.gp_doctor)
    assert not worklist.as_coordinator
    assert titles(worklist, WorkItemKind.OVERDUE) == ["Blodprøver"]  # the GP's task
    assert titles(worklist, WorkItemKind.READY) == []  # the municipality's
    assert titles(worklist, WorkItemKind.UNREAD) == []  # sent to the municipality
    assert titles(worklist, WorkItemKind.NOT_ACCEPTED) == ["Lægerne i Byen"]
    assert WorkItemKind.REVIEW not in [s.kind for s in worklist.sections]


def test_an_outsider_sees_nothing_of_the_plan(world, busy):
    worklist = selectors.worklist_for_coordinator(world.outsider)
    assert all(item.plan != world.plan for s in worklist.sections for item in s.items)


def test_after_a_handover_the_old_coordinators_worklist_drops_the_plan_at_once(world, busy):
    add_patients(world, 1)  # the old coordinator keeps another plan
    successor = make_user("efterfolger", world.municipality, MembershipRole.COORDINATOR)
    hub.coordinator_assign(
        actor=world.coordinator, plan=world.plan, coordinator=successor, organisation=world.municipality
    )
    old = selectors.worklist_for_coordinator(world.coordinator)
    assert old.as_coordinator
    assert world.plan not in [plan for plan, _risk in old.plans]
    assert all(item.plan != world.plan for section in old.sections for item in section.items)
    assert titles(selectors.worklist_for_coordinator(successor), WorkItemKind.OVERDUE) == ["Blodprøver"]


def test_the_worklist_page_filters_and_counts(client, world, busy):
    sign_in(client, world.coordinator)
    url = reverse("coordination:worklist")
    page = client.get(url)
    assert page.status_code == 200
    text = page.content.decode()
    assert "Blodprøver" in text
    assert "Udskrivelse i morgen" in text
    only = client.get(url, {"show": WorkItemKind.UNREAD})
    shown = only.context["worklist"].shown_sections
    assert [s.kind for s in shown] == [WorkItemKind.UNREAD]
    assert "Udskrivelse i morgen" in only.content.decode()
    nonsense = client.get(url, {"show": "<script>"})
    assert nonsense.status_code == 200
    assert len(nonsense.context["worklist"].shown_sections) > 1


def test_the_worklist_logs_the_patients_it_lists(client, world, busy):
    sign_in(client, world.coordinator)
    before = AccessLog.objects.filter(patient=world.patient, action=AccessAction.LIST).count()
    client.get(reverse("coordination:worklist"))
    assert AccessLog.objects.filter(patient=world.patient, action=AccessAction.LIST).count() == before + 1


def _worklist_queries(client) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(reverse("coordination:worklist")).status_code == 200
    return len(ctx.captured_queries)


def test_the_worklist_runs_the_same_queries_for_5_and_200_plans(client, world, busy):
    sign_in(client, world.coordinator)
    add_patients(world, 4)
    at_5 = _worklist_queries(client)
    add_patients(world, 195)
    assert PathwayPlan.objects.filter(coordinator=world.coordinator).count() == 200
    assert _worklist_queries(client) == at_5


def test_coordinators_start_on_the_worklist_others_on_the_caseload(client, world):
    sign_in(client, world.coordinator)
    assert client.get(reverse("coordination:start"))["Location"] == reverse("coordination:worklist")
    client.logout()
    sign_in(client, world.home_nurse)
    assert client.get(reverse("coordination:start"))["Location"] == reverse("pathways:caseload")


def test_signing_in_lands_on_the_start_page(client, world):
    from tests.conftest import PASSWORD

    response = client.post(reverse("login"), {"username": "coordinator", "password": PASSWORD})
    assert response.status_code == 302
    # Through the offer of a second step ("not now"), on to the start page.
    assert "next=%2Fstart%2F" in response["Location"]


# --- Risk ------------------------------------------------------------------------------------------------


def _assess(world, criteria, admissions=0, outcome=NeedOutcome.NEEDS_COORDINATOR):
    today = timezone.localdate()
    return services.need_assessment_record(
        actor=world.coordinator,
        plan=world.plan,
        organisation=world.municipality,
        assessed_on=today,
        patient_present=True,
        criteria=criteria,
        unplanned_admissions_12m=admissions,
        outcome=outcome,
        note="Aftalt med Kirsten.",
        review_date=today + timedelta(days=180),
    )


def _risk(world, actor=None):
    plans = selectors.annotate_coordination(
        PathwayPlan.objects.filter(pk=world.plan.pk), actor or world.coordinator
    )
    return selectors.risk_of(plans.get())


def test_risk_is_the_weighted_sum_of_its_parts(world, busy):
    _assess(world, [NeedCriterion.NO_RELATIVES, NeedCriterion.MULTIMORBIDITY], admissions=3)
    risk = _risk(world)
    parts = {share.part: share for share in risk.parts}
    assert parts[RiskPart.ADMISSIONS].value == 3
    assert parts[RiskPart.ADMISSIONS].points == 3 * RISK_WEIGHTS[RiskPart.ADMISSIONS]["points"]
    assert parts[RiskPart.CONDITIONS].value == 2
    assert parts[RiskPart.ORGANISATIONS].value == 3
    assert parts[RiskPart.OVERDUE].value == 1
    assert parts[RiskPart.DISPUTES].value == 1
    assert parts[RiskPart.NO_RELATIVE].value == 1
    assert parts[RiskPart.NEEDS_COORDINATOR].value == 1
    assert risk.score == sum(share.points for share in risk.parts)
    assert risk.level == RiskLevel.HIGH


@pytest.mark.parametrize(
    ("scope", "is_child", "flagged"),
    [
        (ConsentScope.APPOINTMENTS, False, False),
        (ConsentScope.CONTACT_ONLY, False, False),
        (ConsentScope.NONE, False, True),  # on the plan, but the patient does not involve them
        (ConsentScope.CONTACT_ONLY, True, True),  # a child is not someone to lean on
    ],
)
def test_no_involved_relative_stops_counting_once_the_patient_involves_one(world, scope, is_child, flagged):
    _assess(world, [NeedCriterion.NO_RELATIVES], admissions=0)
    assert {share.part: share for share in _risk(world).parts}[RiskPart.NO_RELATIVE].value == 1
    relative = Relative.objects.create(
        plan=world.plan, name="Susanne Poulsen", relation=Relation.CHILD, is_child=is_child
    )
    RelativeConsent.objects.create(
        plan=world.plan,
        relative=relative,
        action=ConsentAction.GIVEN,
        scope=scope,
        method=ConsentMethod.SPOKEN,
        coercion_checked=scope != ConsentScope.NONE,
    )
    assert {share.part: share for share in _risk(world).parts}[RiskPart.NO_RELATIVE].value == int(flagged)


def test_a_plan_with_nothing_against_it_is_low(world):
    risk = _risk(world)
    assert risk.level == RiskLevel.LOW
    assert risk.scoring_parts == [s for s in risk.parts if s.points]
    assert all(share.part in (RiskPart.CONDITIONS,) for share in risk.scoring_parts)


def test_the_caseload_sorts_by_risk_and_shows_why(client, world, busy):
    _assess(world, [NeedCriterion.NO_RELATIVES], admissions=2)
    add_patients(world, 3)
    sign_in(client, world.coordinator)
    page = client.get(reverse("pathways:caseload"), {"sort": "risk"})
    plans = list(page.context["page"].object_list)
    assert plans[0] == world.plan
    text = page.content.decode()
    assert "Uplanlagte indlæggelser på 12 måneder: 2" in text


def test_the_caseload_flags_a_plan_that_needs_a_coordinator_and_has_none(client, world):
    other = world.other_plan
    today = timezone.localdate()
    services.need_assessment_record(
        actor=world.outsider,
        plan=other,
        organisation=world.unrelated,
        assessed_on=today,
        patient_present=True,
        criteria=[NeedCriterion.PATIENT_WISH],
        unplanned_admissions_12m=0,
        outcome=NeedOutcome.NEEDS_COORDINATOR,
        note="",
        review_date=today + timedelta(days=90),
    )
    sign_in(client, world.outsider)
    url = reverse("pathways:caseload")
    flagged = client.get(url, {"needs_coordinator": "on"})
    assert list(flagged.context["page"].object_list) == [other]
    assert "Mangler koordinator" in flagged.content.decode()
    coordinator = make_user("holbaek_koordinator", world.unrelated, MembershipRole.COORDINATOR)
    hub.coordinator_assign(
        actor=world.outsider, plan=other, coordinator=coordinator, organisation=world.unrelated
    )
    assert list(client.get(url, {"needs_coordinator": "on"}).context["page"].object_list) == []


def test_the_caseload_with_coordination_columns_runs_the_same_queries_for_more_patients(client, world, busy):
    sign_in(client, world.home_nurse)
    url = reverse("pathways:caseload")
    add_patients(world, 3)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    add_patients(world, 20)
    with CaptureQueriesContext(connection) as many:
        client.get(url)
    assert len(many.captured_queries) == len(few.captured_queries)


def test_tasks_due_this_week_show_kind(world):
    # A task due in a week whose kind is an appointment is a due-soon line, whatever its kind.
    hub.task_create(
        actor=world.coordinator,
        plan=world.plan,
        title="Tid hos diætist",
        kind=TaskKind.APPOINTMENT,
        responsible_organisation=world.municipality,
        due_date=timezone.localdate() + timedelta(days=7),
    )
    assert "Tid hos diætist" in titles(
        selectors.worklist_for_coordinator(world.coordinator), WorkItemKind.DUE_SOON
    )


def test_a_need_assessment_past_its_reassessment_date_is_a_review_line(world):
    today = timezone.localdate()
    services.need_assessment_record(
        actor=world.coordinator,
        plan=world.plan,
        organisation=world.municipality,
        assessed_on=today - timedelta(days=200),
        patient_present=True,
        criteria=[NeedCriterion.PATIENT_WISH],
        unplanned_admissions_12m=0,
        outcome=NeedOutcome.NEEDS_COORDINATOR,
        note="",
        review_date=today - timedelta(days=18),
    )
    worklist = selectors.worklist_for_coordinator(world.coordinator)
    [review] = next(s for s in worklist.sections if s.kind == WorkItemKind.REVIEW).items
    assert review.title == "Revurdér behovet for en forløbskoordinator"
    assert review.age_days == 18
    assert review.href.endswith("#coordination")


def test_a_plan_needing_a_coordinator_is_on_every_participants_worklist(world):
    today = timezone.localdate()
    services.need_assessment_record(
        actor=world.outsider,
        plan=world.other_plan,
        organisation=world.unrelated,
        assessed_on=today,
        patient_present=False,
        criteria=[NeedCriterion.NO_RELATIVES, NeedCriterion.COGNITIVE_IMPAIRMENT],
        unplanned_admissions_12m=1,
        outcome=NeedOutcome.NEEDS_COORDINATOR,
        note="",
        review_date=today + timedelta(days=90),
    )
    lines = titles(selectors.worklist_for_coordinator(world.outsider), WorkItemKind.NEEDS_COORDINATOR)
    assert len(lines) == 1
    assert titles(selectors.worklist_for_coordinator(world.coordinator), WorkItemKind.NEEDS_COORDINATOR) == []


def test_an_unseen_emergency_access_links_to_its_own_plan(world, busy):
    emergency = make_user("akutlaege", world.hospital)
    hub.emergency_access_grant(
        actor=emergency,
        organisation=world.hospital,
        plan=world.plan,
        reason="Akut indlagt om natten, åndenød.",
    )
    add_patients(world, 2)  # other plans of the coordinator, listed before and after
    worklist = selectors.worklist_for_coordinator(world.coordinator)
    [line] = next(s for s in worklist.sections if s.kind == WorkItemKind.EMERGENCY).items
    assert line.plan == world.plan
    assert line.href == reverse("pathways:plan-detail", args=[world.plan.public_id])
