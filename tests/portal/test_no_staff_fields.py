"""No staff-only field reaches a portal page. Every staff-only field of the plan, its tasks, goals,
participants, relatives (and their consent and support records), hospital events, disputes, messages and
need assessments carries a marker, and so do the staff's own phone numbers and e-mail addresses; every
portal page is rendered for the patient and for relatives with each scope, and no marker may appear. And the
templates get read models only: no model instance anywhere in a portal page's context, however deep, even
in a browser signed in on the staff side too — no `request`, no `user` — so a careless template variable
cannot reach one. (The printed plan, a PDF, is held to the same markers in tests/portal/test_documents.py.)"""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta
from types import FunctionType, MethodType, ModuleType
from typing import Any

import pytest
from django.core.paginator import Page
from django.db.models import Model
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import LazyObject, empty

from coordination import services as coordination
from coordination.choices import DisputeQuestion, MessagePriority, NeedCriterion, NeedOutcome
from pathways import services, stays
from pathways.choices import GoalStatus, PlanStatus, StayClass, TaskKind, TaskStatus, TransitionKind
from pathways.models import Goal, Organisation, Patient, PlanCondition, PlanParticipant, Task, User
from relatives import services as relatives_services
from relatives.choices import ConsentMethod, ConsentScope, OfferKind, Relation
from relatives.instruments import CSI_KEY, ship
from relatives.models import StrainInstrument, StrainItem, SupportOffer
from tests.conftest import sign_in
from tests.portal.test_plan import build_rich_plan, plan_url
from tests.portal.test_questionnaires import WHO5_LINKS, ask
from tests.portal.test_questionnaires import url as questionnaire_url

MARKER = "STAFFONLY"


def marker(field: str) -> str:
    return f"{MARKER}-MARKER-{field}"


def _relative(world, name: str, scope: ConsentScope, *, plan=None, actor=None):
    relative = relatives_services.relative_add(
        actor=actor or world.coordinator,
        plan=plan or world.plan,
        name=name,
        relation=Relation.CHILD,
        relation_detail=marker("relation-detail"),
        address=marker("relative-address"),
        note=marker("relative-note"),
        phone="28 19 45 63",
        email=f"{name.split()[0].lower()}@example.invalid",
    )
    relatives_services.relative_consent_record(
        actor=actor or world.coordinator,
        relative=relative,
        scope=scope,
        method=ConsentMethod.SPOKEN,
        coercion_checked=scope != ConsentScope.NONE,
        coercion_note=marker("coercion-note") if scope != ConsentScope.NONE else "",
        note=marker("consent-note"),
    )
    relative.refresh_from_db()
    return relative


@pytest.fixture
def marked(world):
    """The rich plan with a marker in every staff-only field, and readers of each kind."""
    world = build_rich_plan(world)
    plan = world.plan
    today = timezone.localdate()
    Patient.objects.filter(pk=world.patient.pk).update(address=marker("patient-address"))
    PlanCondition.objects.create(plan=plan, display=marker("condition"), icd10_code=MARKER)
    PlanParticipant.objects.filter(plan=plan).update(commitment=marker("commitment"))
    User.objects.filter(pk__in=[world.hospital_doctor.pk, world.coordinator.pk]).update(
        title=marker("job-title")
    )
    # The staff's own numbers and addresses (the outbox texts and mails them there): the substitute's, and a
    # task's responsible person's where the organisation has no phone, would be the first to slip out.
    User.objects.update(phone=marker("staff-phone"), email="staffonly-marker-email@example.invalid")
    Organisation.objects.filter(pk=world.hospital.pk).update(phone="")
    # Goals: an agreed one's bookkeeping, a cancelled one altogether.
    Goal.objects.filter(plan=plan).update(template_key="staffonly-marker-goal-template-key")
    cancelled = services.goal_create(
        actor=world.coordinator,
        plan=plan,
        description=marker("cancelled-goal"),
        expected_result=marker("cancelled-goal-result"),
    )
    services.goal_update(
        actor=world.coordinator,
        goal=cancelled,
        expected_version=cancelled.version,
        description=cancelled.description,
        expected_result=cancelled.expected_result,
        target_date=None,
        status=GoalStatus.CANCELLED,
    )
    # Tasks: every visible task's description and bookkeeping, a paused task's reason, hidden tasks whole.
    Task.objects.filter(plan=plan).update(
        description=marker("task-description"), template_key="staffonly-marker-task-template-key"
    )
    paused = services.task_create(
        actor=world.coordinator,
        plan=plan,
        title="Besøg af diætist",
        responsible_organisation=world.municipality,
        kind=TaskKind.HOME_VISIT,
        due_date=today + timedelta(days=12),
    )
    services.task_transition(actor=world.coordinator, task=paused, to_status=TaskStatus.ON_HOLD)
    Task.objects.filter(pk=paused.pk).update(hold_reason=marker("hold-reason"))
    for kind in (TaskKind.APPOINTMENT, TaskKind.OTHER):
        services.task_create(
            actor=world.hospital_doctor,
            plan=plan,
            title=marker(f"hidden-{kind}-title"),
            description=marker("hidden-description"),
            responsible_organisation=world.hospital,
            kind=kind,
            due_date=today + timedelta(days=6),
            visible_to_patient=False,
        )
    cancelled_task = services.task_create(
        actor=world.coordinator,
        plan=plan,
        title=marker("cancelled-task"),
        responsible_organisation=world.municipality,
        kind=TaskKind.APPOINTMENT,
        due_date=today + timedelta(days=8),
    )
    services.task_transition(actor=world.coordinator, task=cancelled_task, to_status=TaskStatus.CANCELLED)
    # A hospital stay entered by hand, with notes on its events.
    now = timezone.now()
    stays.transition_record(
        actor=world.hospital_doctor,
        patient=world.patient,
        kind=TransitionKind.ADMISSION,
        occurred_at=now - timedelta(days=5),
        hospital=world.hospital,
        stay_class=StayClass.INPATIENT,
        note=marker("admission-note"),
    )
    stays.transition_record(
        actor=world.hospital_doctor,
        patient=world.patient,
        kind=TransitionKind.DISCHARGE,
        occurred_at=now - timedelta(days=2),
        hospital=world.hospital,
        note=marker("discharge-note"),
    )
    # Coordination: a dispute, a message thread, a need assessment.
    disputed = Task.objects.get(plan=plan, title="Genoptræning")
    coordination.dispute_raise(
        actor=world.coordinator,
        task=disputed,
        organisation=world.municipality,
        parties=[world.hospital, world.municipality],
        question=DisputeQuestion.WHO_ACTS,
        reason=marker("dispute-reason"),
        interim_organisation=world.municipality,
        interim_note=marker("dispute-interim-note"),
    )
    coordination.thread_start(
        actor=world.coordinator,
        plan=plan,
        sender_organisation=world.municipality,
        recipients=[world.hospital],
        subject=marker("message-subject"),
        body=marker("message-body"),
        priority=MessagePriority.ROUTINE,
    )
    coordination.need_assessment_record(
        actor=world.coordinator,
        plan=plan,
        organisation=world.municipality,
        assessed_on=today,
        patient_present=True,
        criteria=[NeedCriterion.MULTIMORBIDITY],
        unplanned_admissions_12m=3,
        outcome=NeedOutcome.NEEDS_COORDINATOR,
        note=marker("need-note"),
        review_date=today + timedelta(days=365),
    )
    # Relatives with each scope, and the whole-plan relative's own support record.
    daughter = _relative(world, "Susanne Testesen", ConsentScope.WHOLE_PLAN)
    son = _relative(world, "Mads Testesen", ConsentScope.APPOINTMENTS)
    contact = _relative(world, "Jens Testesen", ConsentScope.CONTACT_ONLY)
    ship(StrainInstrument, StrainItem)
    instrument = StrainInstrument.objects.get(key=CSI_KEY)
    relatives_services.strain_screening_record(
        actor=world.coordinator,
        relative=daughter,
        instrument=instrument,
        answers={item.key: True for item in instrument.items.all()},
        screened_on=today,
        note=marker("strain-note"),
    )
    relatives_services.relative_need_record(
        actor=world.coordinator, relative=daughter, text=marker("need-text")
    )
    offer = SupportOffer.objects.create(
        name="Pårørendesamtaler",
        kind=OfferKind.CONVERSATION,
        organisation=world.municipality,
        description=marker("offer-description"),
    )
    relatives_services.support_referral_create(
        actor=world.coordinator, relative=daughter, offer=offer, note=marker("referral-note")
    )
    # Kirsten is also a relative on another patient's plan (the chooser).
    services.plan_transition(actor=world.outsider, plan=world.other_plan, to_status=PlanStatus.ACTIVE)
    on_other = _relative(
        world, "Kirsten Testesen", ConsentScope.WHOLE_PLAN, plan=world.other_plan, actor=world.outsider
    )
    return world, {"daughter": daughter, "son": son, "contact": contact, "on_other": on_other}


def _pages(world, readers, portal_client, client) -> dict[str, Any]:
    """Every portal page, as each reader can open it (the name says which), each browser signed in on the
    staff side too (the coordinator): nothing of that may reach a portal page."""
    patient = portal_client(patient=world.patient, relatives=[readers["on_other"]])
    patient_alone = portal_client(patient=world.patient)
    daughter = portal_client(relatives=[readers["daughter"]])
    son = portal_client(relatives=[readers["son"]])
    nobody = portal_client(relatives=[readers["contact"]])
    strict = Client(enforce_csrf_checks=True)
    for browser in (patient, patient_alone, daughter, son, nobody, client, strict):
        sign_in(browser, world.coordinator)
    plan = plan_url(world.plan)
    log = reverse("portal:access-log", args=[world.plan.public_id])
    prints = reverse("portal:documents", args=[world.plan.public_id])
    asked = patient.post(reverse("portal:document-request", args=[world.plan.public_id]), {"kind": "patient"})
    assert asked.status_code == 302
    # Questionnaires (issue 16): Kirsten's, and the appointments-only relative's own (answered: the thanks).
    kirstens, sons = ask(world.plan), ask(world.plan, relative=readers["son"])
    all_answers = {f"q-{link}": "3" for link in WHO5_LINKS}
    return {
        "home, the chooser": patient.get(reverse("portal:home")),
        "home, straight to the plan": patient_alone.get(reverse("portal:home"), follow=True),
        "home, no plan": nobody.get(reverse("portal:home")),
        "plan as the patient": patient.get(plan),
        "plan as whole-plan relative": daughter.get(plan),
        "plan as appointments-only relative": son.get(plan),
        "plan as the other plan's reader": patient.get(plan_url(world.other_plan)),
        "access log as the patient": patient.get(log),
        "access log as a relative": daughter.get(log),
        "print your plan as the patient": patient.get(prints),
        "print the appointments as appointments-only relative": son.get(prints),
        "a printed plan being made, as the patient": patient.get(asked["Location"]),
        "questionnaire as the patient": patient.get(questionnaire_url(kirstens)),
        "questionnaire, answers left out": patient.post(questionnaire_url(kirstens), {"q-calm": "3"}),
        "questionnaire answered, the thanks, as appointments-only relative": son.post(
            questionnaire_url(sons), all_answers, follow=True
        ),
        "sign-in": client.get(reverse("portal:sign-in")),
        "sign-in sent": client.get(reverse("portal:sign-in-sent")),
        "a form sent without its CSRF token": strict.post(
            reverse("portal:sign-in"), {"address": "kirsten@example.invalid"}
        ),
    }


def test_no_staff_only_field_appears_on_any_portal_page(marked, portal_client, client):
    world, readers = marked

    pages = _pages(world, readers, portal_client, client)

    for name, response in pages.items():
        assert response.status_code in (200, 403, 404, 422), name
        html = response.content.decode()
        leaked = sorted(set(re.findall(rf"{MARKER}[\w-]*", html, flags=re.I)))
        assert not leaked, f"{name}: {leaked}"
        assert world.patient.cpr not in html, name
        assert world.patient.cpr[:6] not in html, name
    # The pages did show the plan (a marker test on empty pages proves nothing).
    patient_page = pages["plan as the patient"].content.decode()
    assert "Kontrol på sygehuset" in patient_page  # the hospital's task: no phone, a person named
    assert "Hospital_Doctor" in patient_page
    assert "Vikar Hansen" in patient_page  # the substitute: their organisation's phone, not their own
    assert 'href="tel:+4546317400"' in patient_page
    assert "Kontrol på sygehuset" in pages["plan as appointments-only relative"].content.decode()
    assert "Kan gå på trapperne" in pages["plan as whole-plan relative"].content.decode()
    assert pages["access log as the patient"].status_code == 200
    assert pages["access log as a relative"].status_code == 404
    assert pages["a form sent without its CSRF token"].status_code == 403


# Values a walk of the context need not look into: plain values, and code rather than data.
LEAVES = (str, bytes, int, float, complex, bool, type(None), type, ModuleType, FunctionType, MethodType)


def _model_instances(value: Any, path: str, seen: set[int]) -> list[str]:
    """Every model instance a template could reach from `value`: through dataclass fields, mappings,
    sequences, a paginator's page and any other object's attributes, however deep."""
    if isinstance(value, Model):
        return [f"{path}: {type(value).__name__}"]
    if isinstance(value, LEAVES) or id(value) in seen:
        return []
    seen.add(id(value))
    found: list[str] = []
    if dataclasses.is_dataclass(value):
        for field in dataclasses.fields(value):
            found += _model_instances(getattr(value, field.name), f"{path}.{field.name}", seen)
    elif isinstance(value, dict):
        for key, item in value.items():
            found += _model_instances(item, f"{path}[{key!r}]", seen)
    elif isinstance(value, list | tuple | set | frozenset):
        for number, item in enumerate(value):
            found += _model_instances(item, f"{path}[{number}]", seen)
    elif isinstance(value, LazyObject):  # what a template would get: the object behind it
        lazy: Any = value
        if lazy._wrapped is empty:
            try:
                lazy._setup()
            except Exception:  # one that cannot be made now cannot reach a page either
                return found
        found += _model_instances(lazy._wrapped, path, seen)
    else:
        if isinstance(value, Page):
            found += _model_instances(list(value.object_list), f"{path}.object_list", seen)
        attributes = getattr(value, "__dict__", None)
        if isinstance(attributes, dict):
            for key, item in attributes.items():
                found += _model_instances(item, f"{path}.{key}", seen)
    return found


def test_model_instances_are_found_however_deep():
    @dataclasses.dataclass(frozen=True)
    class Holder:
        inner: Any

    class Plain:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

    deep = {"a": [Holder(Plain({"b": (User(username="x"),)}))]}

    assert _model_instances(deep, "context", set()) == ["context['a'][0].inner.inner['b'][0]: User"]


def test_portal_templates_get_read_models_never_model_instances(marked, portal_client, client):
    world, readers = marked

    pages = _pages(world, readers, portal_client, client)

    for name, response in pages.items():
        contexts = response.context if isinstance(response.context, list) else [response.context]
        assert contexts, name
        assert contexts[0] is not None, name
        for context in contexts:
            flat = context.flatten()
            assert "request" not in flat, name
            assert "user" not in flat, name
            assert "perms" not in flat, name
            found = _model_instances(flat, "context", set())
            assert not found, f"{name}: {found}"
