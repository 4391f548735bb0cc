"""The complete plan for staff as a PDF (coordination.documents, DocumentKind.STAFF): rendered for real
with WeasyPrint and read back with pdftotext. The patient's name and the masked CPR number on every page,
never the full CPR number; every task of a 200-task plan with its status in words; the open dispute with
its escalation clock, the relatives with what their consent lets them see, the need assessment and the
hospital stays; page numbers. The builder reads in the same number of queries for 5 tasks as for 200, and
a plan with nothing optional still prints."""

from __future__ import annotations

import itertools
import re
import subprocess
from datetime import date, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from coordination import services as coordination_services
from coordination.choices import DisputeQuestion, EscalationTarget, NeedCriterion, NeedOutcome
from coordination.documents import staff_plan_html, working_day_after
from coordination.models import Dispute, EscalationStep
from pathways import documents, extensions, stays
from pathways import services as hub_services
from pathways.choices import (
    DocumentContent,
    DocumentKind,
    MembershipRole,
    StayClass,
    TaskKind,
    TaskStatus,
    TransitionKind,
)
from pathways.models import Organisation, PathwayPlan, PlanDocument, Task
from relatives import services as relatives_services
from relatives.choices import ConsentMethod, ConsentScope, Relation
from tests.conftest import make_user

FULL_CPR = ("0707614285", "070761-4285", "070761 4285")
MASKED_CPR = "070761-xxxx"


def pdf_of(plan: PathwayPlan, language: str = "en") -> bytes:
    """The staff document of the plan as the worker renders it (the stamp filled in as a row's is)."""
    with translation.override(language):
        html = staff_plan_html(plan, DocumentContent.WHOLE_PLAN)
    pdf, _pages = documents.html_to_pdf(html.replace(documents.STAMP, "Version 1 · printed today"))
    return pdf


def text_of(pdf: bytes, page: int | None = None) -> str:
    """pdftotext's reading of the PDF (or one page of it), words hyphenated at a line end joined again and
    all white space made one space."""
    pages = ["-f", str(page), "-l", str(page)] if page is not None else []
    raw = subprocess.run(
        ["pdftotext", *pages, "-", "-"], input=pdf, capture_output=True, check=True, timeout=60
    ).stdout.decode()
    return re.sub(r"\s+", " ", re.sub(r"(\w)-\n(\w)", r"\1\2", raw))


def page_count(pdf: bytes) -> int:
    info = subprocess.run(["pdfinfo", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
    return int(re.search(r"^Pages:\s+(\d+)", info, re.MULTILINE).group(1))  # type: ignore[union-attr]


def add_tasks(world, plan: PathwayPlan, count: int) -> list[Task]:
    """`count` tasks across the three sectors, each named by its number, some waiting for the one before
    it, some done and some on hold (bulk, for speed)."""
    today = timezone.localdate()
    statuses = [TaskStatus.REQUESTED, TaskStatus.IN_PROGRESS, TaskStatus.COMPLETED, TaskStatus.ON_HOLD]
    tasks = Task.objects.bulk_create(
        Task(
            plan=plan,
            title=f"Opgave {number:03d} kontrol",
            description="Aftalt på det fælles møde." if number % 5 == 0 else "",
            kind=TaskKind.APPOINTMENT,
            responsible_organisation=[world.hospital, world.municipality, world.gp][number % 3],
            window_start=today + timedelta(days=number - 7) if number % 4 == 0 else None,
            due_date=today + timedelta(days=number),
            status=statuses[number % 4],
            hold_reason="Indlagt" if statuses[number % 4] == TaskStatus.ON_HOLD else "",
            completed_at=timezone.now() if statuses[number % 4] == TaskStatus.COMPLETED else None,
        )
        for number in range(1, count + 1)
    )
    for before, task in itertools.pairwise(tasks):
        if task.title.endswith("0 kontrol"):
            task.depends_on = before
    Task.objects.bulk_update(tasks, ["depends_on"])
    return tasks


@pytest.fixture
def ladder(db) -> list[EscalationStep]:
    EscalationStep.objects.get_or_create(
        step=1, defaults={"after_working_days": 5, "target": EscalationTarget.ORGANISATION_CONTACTS}
    )
    EscalationStep.objects.get_or_create(
        step=2, defaults={"after_working_days": 10, "target": EscalationTarget.SECRETARIAT}
    )
    return list(EscalationStep.objects.order_by("step"))


@pytest.fixture
def complete_plan(world, ladder) -> PathwayPlan:
    """Kirsten's plan with everything the document shows: a substitute, goals, a task waiting for
    another, an open dispute raised on Monday 2 March 2026 and escalated once, relatives (an adult who
    sees the whole plan, one who sees the appointments, a child), a need assessment and a hospital stay."""
    plan = world.plan
    Organisation.objects.filter(pk=world.hospital.pk).update(phone="38 68 38 68")
    substitute = make_user("substitute", world.hospital, MembershipRole.COORDINATOR, last_name="Holm")
    hub_services.coordinator_assign(
        actor=world.coordinator,
        plan=plan,
        coordinator=world.coordinator,
        organisation=world.municipality,
        phone="46 31 00 00",
        substitute=substitute,
    )
    hub_services.participant_accept(
        actor=world.gp_doctor, participant=plan.participants.get(organisation=world.gp)
    )
    hub_services.goal_create(
        actor=world.coordinator, plan=plan, description="Kunne gå på trapper", expected_result="To etager"
    )
    first = hub_services.task_create(
        actor=world.hospital_doctor,
        plan=plan,
        title="Epikrise til egen læge",
        responsible_organisation=world.hospital,
        kind=TaskKind.REFERRAL,
    )
    meter = hub_services.task_create(
        actor=world.hospital_doctor,
        plan=plan,
        title="Nålefri blodsukkermåler",
        responsible_organisation=world.hospital,
        kind=TaskKind.ASSISTIVE_DEVICE,
    )
    Task.objects.filter(pk=meter.pk).update(depends_on=first)
    dispute = coordination_services.dispute_raise(
        actor=world.home_nurse,
        task=meter,
        organisation=world.municipality,
        parties=[world.hospital, world.municipality],
        question=DisputeQuestion.WHO_PAYS,
        reason="Regionen mener, det er et hjælpemiddel; kommunen et behandlingsredskab.",
        interim_organisation=world.municipality,
        interim_note="Hjemmesygeplejen hjælper med målinger.",
    )
    raised = timezone.make_aware(datetime(2026, 3, 2, 10, 0))
    Dispute.objects.filter(pk=dispute.pk).update(raised_at=raised)
    coordination_services.disputes_escalate(now=raised + timedelta(days=8))
    relatives_services.relative_add(
        actor=world.coordinator,
        plan=plan,
        name="Susanne Testesen",
        relation=Relation.CHILD,
        phone="28 19 45 63",
        consent={"scope": ConsentScope.WHOLE_PLAN, "method": ConsentMethod.SPOKEN, "coercion_checked": True},
    )
    relatives_services.relative_add(
        actor=world.coordinator,
        plan=plan,
        name="Mads Testesen",
        relation=Relation.CHILD,
        phone="29 63 18 40",
        consent={
            "scope": ConsentScope.APPOINTMENTS,
            "method": ConsentMethod.WRITTEN,
            "coercion_checked": True,
        },
    )
    relatives_services.relative_add(
        actor=world.coordinator, plan=plan, name="Alberte Testesen", relation=Relation.GRANDCHILD,
        is_child=True, child_age=9,
    )  # fmt: skip
    coordination_services.need_assessment_record(
        actor=world.coordinator,
        plan=plan,
        organisation=world.municipality,
        assessed_on=timezone.localdate(),
        patient_present=True,
        criteria=[NeedCriterion.MULTIMORBIDITY, NeedCriterion.PATIENT_WISH],
        unplanned_admissions_12m=3,
        outcome=NeedOutcome.NEEDS_COORDINATOR,
        note="",
        review_date=timezone.localdate() + timedelta(days=180),
    )
    stays.transition_record(
        actor=None,
        patient=world.patient,
        kind=TransitionKind.ADMISSION,
        occurred_at=timezone.now() - timedelta(hours=3),
        hospital=world.hospital,
        stay_class=StayClass.INPATIENT,
    )
    return plan


def test_every_page_of_a_200_task_plan_names_the_patient_with_the_cpr_number_masked(world):
    tasks = add_tasks(world, world.plan, 200)
    pdf = pdf_of(world.plan)
    pages = page_count(pdf)
    assert pages >= 5
    for page in range(1, pages + 1):
        text = text_of(pdf, page)
        assert "Kirsten Testesen" in text, f"page {page}"
        assert MASKED_CPR in text, f"page {page}"
        assert re.search(rf"\b{page} ?/ ?{pages}\b", text), f"page {page}"
    whole = text_of(pdf)
    assert not any(number in whole for number in FULL_CPR)
    missing = [task.title for task in tasks if task.title not in whole]
    assert missing == []
    assert "Hjemmebesøg" in whole  # the fixture's own task


def test_the_tasks_show_their_status_in_words_dates_hold_reason_and_dependency(world):
    add_tasks(world, world.plan, 12)
    text = text_of(pdf_of(world.plan))
    for status in ("Planned", "In progress", "Done", "On hold"):
        assert status in text
    assert "Indlagt" in text  # the hold reason
    assert "Aftalt på det fælles møde." in text  # a description
    due = timezone.localdate() + timedelta(days=12)
    assert f"Due {due.day}. " in text
    # Task 10 waits for task 9: the document numbers tasks in its order and names the one waited for.
    assert re.search(r"#\d+ Opgave 009 kontrol", text)


def test_the_open_dispute_relatives_need_assessment_and_stay_are_printed(complete_plan):
    text = text_of(pdf_of(complete_plan))
    # The dispute: which task, between whom, about what, who acts meanwhile, and the escalation clock.
    assert "Nålefri blodsukkermåler" in text
    assert "Regionen mener, det er et hjælpemiddel; kommunen et behandlingsredskab." in text
    assert "Who pays" in text
    assert "Hjemmesygeplejen hjælper med målinger." in text
    assert "Step 1, after 5 working days (9. mar 2026)" in text
    assert "escalated 10. mar 2026" in text
    assert "Step 2, after 10 working days (16. mar 2026)" in text
    # The relatives and what the patient's consent lets each see; the child flagged, never given access.
    assert "Susanne Testesen" in text
    assert "The whole plan" in text
    assert "Mads Testesen" in text
    assert "Appointments only" in text
    assert "Alberte Testesen" in text
    assert "Child, 9 years" in text
    assert "A child: sees nothing and gets no messages" in text
    # The need assessment and the hospital stay.
    assert "Needs a coordinator" in text
    assert "Several chronic conditions (multimorbidity)" in text
    assert "Unplanned admissions in 12 months: 3" in text
    assert "Medicinsk afdeling · Admitted · In hospital" in text
    # The participants and their acceptance, the coordinator and what matters.
    accepted = timezone.localdate()
    assert re.search(
        rf"Lægerne i Byen General practice — Accepted {accepted.day}\. \w+ {accepted.year} Gp_Doctor", text
    )
    assert "Medicinsk afdeling 38 68 38 68 Hospital — Not yet accepted" in text
    assert "46 31 00 00" in text
    # The substitute with the organisation they work in and its phone (not their own).
    assert "Substitute Holm, Medicinsk afdeling" in text
    assert "38 68 38 68" in text
    assert "At kunne blive boende hjemme." in text
    assert "Kunne gå på trapper" in text


def test_a_plan_with_nothing_optional_still_prints(world):
    pdf = pdf_of(world.other_plan)
    text = text_of(pdf)
    assert "Ole Andersen" in text
    assert "120380-xxxx" in text
    assert "1203801236" not in text
    assert "120380-1236" not in text
    assert "No coordinator assigned." in text
    assert "No tasks in the plan yet." in text
    assert "No open disputes about responsibility." in text
    assert "No relatives are recorded on the plan." in text
    assert "The need for a coordinator has not been assessed yet." in text
    assert "No hospital stays recorded in this plan." in text
    assert re.search(r"\b1 ?/ ?1\b", text)  # one page, numbered


def test_the_builder_reads_in_the_same_number_of_queries_for_5_and_for_200_tasks(complete_plan, world):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            staff_plan_html(complete_plan, DocumentContent.WHOLE_PLAN)
        return len(captured)

    add_tasks(world, complete_plan, 5 - complete_plan.tasks.count())
    few = queries()
    add_tasks(world, complete_plan, 195)
    assert complete_plan.tasks.count() == 200
    many = queries()
    assert few == many
    assert many <= 20


def test_the_same_plan_asked_for_on_another_day_is_the_same_document(complete_plan, monkeypatch):
    with translation.override("en"):
        today = staff_plan_html(complete_plan, DocumentContent.WHOLE_PLAN)
        later = timezone.now() + timedelta(days=3)
        monkeypatch.setattr(timezone, "now", lambda: later)
        assert staff_plan_html(complete_plan, DocumentContent.WHOLE_PLAN) == today


def test_the_builder_is_registered_and_the_same_plan_is_one_document(complete_plan, world, monkeypatch):
    monkeypatch.setattr(documents, "ask_to_render", lambda _document_id: None)
    assert extensions.DOCUMENT_BUILDERS[DocumentKind.STAFF] is staff_plan_html
    first = documents.document_request(
        plan=complete_plan, kind=DocumentKind.STAFF, requester=world.coordinator
    )
    again = documents.document_request(
        plan=complete_plan, kind=DocumentKind.STAFF, requester=world.coordinator
    )
    assert again.pk == first.pk
    stored = PlanDocument.objects.get(pk=first.pk)
    assert MASKED_CPR in stored.html
    assert "0707614285" not in stored.html


def test_the_staff_document_is_never_made_of_part_of_the_plan(world):
    with pytest.raises(ValueError, match="whole plan"):
        staff_plan_html(world.plan, DocumentContent.APPOINTMENTS)


def test_a_rung_is_reached_counting_working_days_only():
    # Friday 1 May 2026 + 5 working days: Ascension Day (14 May) is far; the weekend is skipped.
    assert working_day_after(date(2026, 5, 1), 5) == date(2026, 5, 8)
    # Maundy Thursday, Good Friday and Easter Monday 2026 (2, 3 and 6 April) are no working days.
    assert working_day_after(date(2026, 3, 31), 3) == date(2026, 4, 8)
