"""Pathway templates: publishing versions, making a plan from one or more templates (merged by key, no
duplicates), who does what for the patient, a discharge's follow-ups from the discharge rules, and the
"update from template" preview and apply — a template change never changes a plan by itself."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any
from uuid import uuid4

import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from pathways import pathway_templates as templates
from pathways import services
from pathways.choices import (
    MunicipalService,
    ResponsibleParty,
    Sector,
    StayClass,
    TaskKind,
    TaskStatus,
    TemplateTrigger,
    TransitionKind,
    TransitionSource,
)
from pathways.models import (
    HospitalStay,
    Organisation,
    PathwayTemplate,
    TemplateGoal,
    TemplateTask,
    Transition,
)
from tests.conftest import sign_in

DAY = date(2030, 3, 4)


def make_template(
    code: str, *, goals: Sequence[dict[str, Any]] = (), tasks: Sequence[dict[str, Any]] = (), **extra: Any
) -> PathwayTemplate:
    template = PathwayTemplate.objects.create(code=code, name=extra.pop("name", code.upper()), **extra)
    for order, goal in enumerate(goals):
        TemplateGoal.objects.create(template=template, sort_order=order, **goal)
    for order, task in enumerate(tasks):
        TemplateTask.objects.create(template=template, sort_order=order, **task)
    templates.template_publish(actor=None, template=template)
    return template


def rule(key: str, responsible: str, offset: int, **extra) -> dict[str, Any]:
    return {
        "key": key,
        "title": extra.pop("title", key),
        "trigger": TemplateTrigger.DISCHARGE,
        "responsible": responsible,
        "offset_days": offset,
        **extra,
    }


def task(key: str, responsible: str, offset: int, **extra) -> dict[str, Any]:
    return rule(key, responsible, offset, **extra) | {"trigger": TemplateTrigger.PLAN_START}


def discharge(world, *, stay_class: str = StayClass.INPATIENT) -> Transition:
    when = timezone.now()
    stay = HospitalStay.objects.create(
        patient=world.patient,
        plan=world.plan,
        hospital=world.hospital,
        stay_class=stay_class,
        started_at=when,
    )
    return Transition.objects.create(
        stay=stay,
        plan=world.plan,
        kind=TransitionKind.DISCHARGE,
        occurred_at=when,
        source=TransitionSource.MANUAL,
    )


def follow_ups(world, *, transition: Transition | None = None, stay_class: str = StayClass.INPATIENT):
    """The follow-ups of a discharge (a new one unless given) on DAY from the world's hospital."""
    return templates.followups_create(
        actor=None,
        plan=world.plan,
        transition=transition or discharge(world, stay_class=stay_class),
        discharge_day=DAY,
        stay_class=stay_class,
        hospital=world.hospital,
    )


def put_on_plan(world, *chosen: PathwayTemplate, start: date = DAY):
    return templates.plan_templates_apply(
        actor=world.coordinator, plan=world.plan, templates=list(chosen), start=start
    )


# --- followups_create -------------------------------------------------------------------------------------


@pytest.fixture
def kol_and_diabetes(world):
    kol = make_template(
        "t-kol",
        tasks=[
            rule("hjemmesygeplejebesoeg", ResponsibleParty.HOME_NURSING, 1, kind=TaskKind.HOME_VISIT,
                 after_acute_ambulant=True),
            rule("opfoelgning-egen-laege", ResponsibleParty.GENERAL_PRACTICE, 7),
            rule("medicingennemgang", ResponsibleParty.GENERAL_PRACTICE, 14, kind=TaskKind.MEDICATION_REVIEW,
                 window_days=7),
            rule("genoptraeningsplan", ResponsibleParty.HOSPITAL, 0, kind=TaskKind.REHABILITATION),
            rule("opstart-genoptraening", ResponsibleParty.MUNICIPAL_REHABILITATION, 7,
                 depends_on_key="genoptraeningsplan"),
        ],
    )  # fmt: skip
    diabetes = make_template(
        "t-diabetes",
        tasks=[
            rule("opfoelgning-egen-laege", ResponsibleParty.GENERAL_PRACTICE, 5, title="Diabetes: egen læge"),
            rule("medicingennemgang", ResponsibleParty.GENERAL_PRACTICE, 14),
        ],
    )
    put_on_plan(world, kol, diabetes)
    return kol, diabetes


def test_a_discharge_makes_one_follow_up_per_rule_key_with_due_dates_from_the_discharge_day(
    world, kol_and_diabetes
):
    transition = discharge(world)
    made = templates.followups_create(
        actor=world.hospital_doctor,
        plan=world.plan,
        transition=transition,
        discharge_day=DAY,
        stay_class=StayClass.INPATIENT,
        hospital=world.hospital,
    )
    by_key = {t.template_key: t for t in made}
    # The world has no rehabilitation unit and no municipality of Roskilde itself: that rule is skipped.
    assert sorted(by_key) == ["genoptraeningsplan", "hjemmesygeplejebesoeg", "medicingennemgang",
                              "opfoelgning-egen-laege"]  # fmt: skip
    assert by_key["hjemmesygeplejebesoeg"].responsible_organisation == world.municipality
    assert by_key["hjemmesygeplejebesoeg"].due_date == DAY + timedelta(days=1)
    assert by_key["genoptraeningsplan"].responsible_organisation == world.hospital
    assert by_key["genoptraeningsplan"].due_date == DAY
    # Two templates' GP follow-ups are one task, by the earlier deadline (diabetes: 5 days).
    gp_visit = by_key["opfoelgning-egen-laege"]
    assert (gp_visit.title, gp_visit.due_date, gp_visit.responsible_organisation) == (
        "Diabetes: egen læge",
        DAY + timedelta(days=5),
        world.gp,
    )
    assert by_key["medicingennemgang"].due_date == DAY + timedelta(days=14)
    assert all(t.created_by_transition == transition for t in made)
    assert world.plan.tasks.filter(created_by_transition=transition).count() == 4


def test_a_follow_up_with_a_window_may_be_done_from_its_days_before_the_deadline(world, kol_and_diabetes):
    made = follow_ups(world)
    # Both templates ask for it 14 days after: the first template's rule (with its window) is the one.
    medication = next(t for t in made if t.template_key == "medicingennemgang")
    assert (medication.window_start, medication.due_date) == (
        DAY + timedelta(days=7),
        DAY + timedelta(days=14),
    )
    assert medication.kind == TaskKind.MEDICATION_REVIEW


def test_the_same_discharge_twice_makes_no_new_tasks(world, kol_and_diabetes):
    transition = discharge(world)
    arguments = {
        "actor": None,
        "plan": world.plan,
        "transition": transition,
        "discharge_day": DAY,
        "stay_class": StayClass.INPATIENT,
        "hospital": world.hospital,
    }
    first = templates.followups_create(**arguments)
    assert len(first) == 4
    assert templates.followups_create(**arguments) == []
    assert world.plan.tasks.filter(created_by_transition=transition).count() == 4


def test_an_acute_ambulant_stay_makes_only_the_rules_marked_for_it(world, kol_and_diabetes):
    made = templates.followups_create(
        actor=None,
        plan=world.plan,
        transition=discharge(world, stay_class=StayClass.ACUTE_AMBULANT),
        discharge_day=DAY,
        stay_class=StayClass.ACUTE_AMBULANT,
        hospital=world.hospital,
    )
    assert [t.template_key for t in made] == ["hjemmesygeplejebesoeg"]


def test_a_follow_up_waits_for_the_follow_up_its_rule_depends_on(world, kol_and_diabetes):
    Organisation.objects.create(
        name="Genoptræning Roskilde",
        sector=Sector.MUNICIPALITY,
        municipality_code="265",
        municipal_service=MunicipalService.REHABILITATION,
    )
    made = {t.template_key: t for t in follow_ups(world)}
    assert made["opstart-genoptraening"].depends_on == made["genoptraeningsplan"]
    assert made["opstart-genoptraening"].responsible_organisation.name == "Genoptræning Roskilde"


def test_a_discharge_of_a_plan_without_templates_makes_nothing(world):
    assert follow_ups(world) == []


# --- who does it ------------------------------------------------------------------------------------------


@pytest.fixture
def roskilde(world):
    """Roskilde municipality itself, its rehabilitation and health centre units, and a psychiatry unit in
    the plan (the world has home nursing of Roskilde, the hospital and the GP)."""
    itself = Organisation.objects.create(
        name="Roskilde Kommune", sector=Sector.MUNICIPALITY, municipality_code="265"
    )
    units = {
        "itself": itself,
        "rehabilitation": Organisation.objects.create(
            name="Genoptræning Roskilde", sector=Sector.MUNICIPALITY, municipality_code="265",
            municipal_service=MunicipalService.REHABILITATION, parent=itself,
        ),
        "prevention": Organisation.objects.create(
            name="Sundhedscenter Roskilde", sector=Sector.MUNICIPALITY, municipality_code="265",
            municipal_service=MunicipalService.PREVENTION, parent=itself,
        ),
        "psychiatry": Organisation.objects.create(name="Psykiatrien", sector=Sector.PSYCHIATRY),
    }  # fmt: skip
    services.participant_add(actor=None, plan=world.plan, organisation=units["psychiatry"])
    return units


def who(world, party, **extra):
    world.plan.refresh_from_db()
    return templates.responsible_organisation(plan=world.plan, party=party, **extra)


def test_each_party_is_found_for_the_patient(world, roskilde):
    other_hospital = Organisation.objects.create(name="Akutmodtagelsen", sector=Sector.HOSPITAL)
    assert who(world, ResponsibleParty.HOME_NURSING) == world.municipality
    assert who(world, ResponsibleParty.MUNICIPAL_REHABILITATION) == roskilde["rehabilitation"]
    assert who(world, ResponsibleParty.MUNICIPAL_PREVENTION) == roskilde["prevention"]
    assert who(world, ResponsibleParty.HOME_MUNICIPALITY) == roskilde["itself"]
    assert who(world, ResponsibleParty.GENERAL_PRACTICE) == world.gp
    assert who(world, ResponsibleParty.HOSPITAL) == world.hospital  # the plan's hospital
    assert who(world, ResponsibleParty.HOSPITAL, hospital=other_hospital) == other_hospital  # the discharging
    assert who(world, ResponsibleParty.PSYCHIATRY) == roskilde["psychiatry"]
    assert who(world, ResponsibleParty.COORDINATOR) == world.municipality


def test_a_municipal_unit_already_in_the_plan_is_preferred_and_another_municipalitys_never_chosen(world):
    Organisation.objects.create(
        name="Hjemmesygeplejen Roskilde Syd", sector=Sector.MUNICIPALITY, municipality_code="265",
        municipal_service=MunicipalService.HOME_NURSING,
    )  # fmt: skip
    assert who(world, ResponsibleParty.HOME_NURSING) == world.municipality  # takes part in the plan
    world.patient.home_municipality = "316"
    world.patient.save()
    assert who(world, ResponsibleParty.HOME_NURSING) == world.unrelated  # Holbæk's, for a Holbæk patient


def test_a_missing_service_falls_back_to_the_municipality_itself(world, roskilde):
    roskilde["rehabilitation"].is_active = False
    roskilde["rehabilitation"].save()
    assert who(world, ResponsibleParty.MUNICIPAL_REHABILITATION) == roskilde["itself"]


def test_a_party_that_cannot_be_found_is_none(world):
    # The world has no Roskilde municipality itself, no rehabilitation unit and no psychiatry in the plan.
    assert who(world, ResponsibleParty.MUNICIPAL_REHABILITATION) is None
    assert who(world, ResponsibleParty.HOME_MUNICIPALITY) is None
    assert who(world, ResponsibleParty.PSYCHIATRY) is None
    world.patient.general_practice = None
    world.patient.save()
    assert who(world, ResponsibleParty.GENERAL_PRACTICE) is None
    assert who(world, ResponsibleParty.COORDINATOR, hospital=world.hospital) == world.municipality
    assert (
        templates.responsible_organisation(plan=world.other_plan, party=ResponsibleParty.COORDINATOR) is None
    )


# --- publishing -------------------------------------------------------------------------------------------


def test_saving_a_template_unchanged_publishes_no_new_version(world):
    template = make_template("kol-test", tasks=[task("spirometri", ResponsibleParty.GENERAL_PRACTICE, 30)])
    assert template.versions.count() == 1
    assert templates.template_publish(actor=world.admin, template=template) is None
    assert template.versions.count() == 1


def test_a_changed_template_is_published_as_the_next_version_and_the_old_one_stays_as_it_was(world):
    template = make_template("kol-test", tasks=[task("spirometri", ResponsibleParty.GENERAL_PRACTICE, 30)])
    first = template.versions.get()
    TemplateTask.objects.filter(template=template, key="spirometri").update(offset_days=14)
    second = templates.template_publish(actor=world.admin, template=template)
    assert second is not None
    assert (second.number, second.published_by) == (2, world.admin)
    assert second.content["tasks"][0]["offset_days"] == 14
    first.refresh_from_db()
    assert first.content["tasks"][0]["offset_days"] == 30


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([task("a", ResponsibleParty.GENERAL_PRACTICE, 1, goal_key="no-such-goal")], "no-such-goal"),
        ([task("a", ResponsibleParty.GENERAL_PRACTICE, 1, depends_on_key="nowhere")], "nowhere"),
        (
            [
                task("a", ResponsibleParty.GENERAL_PRACTICE, 1, depends_on_key="b"),
                task("b", ResponsibleParty.GENERAL_PRACTICE, 1, depends_on_key="c"),
                task("c", ResponsibleParty.GENERAL_PRACTICE, 1, depends_on_key="a"),
            ],
            "venter på sig selv",
        ),
        (
            [
                task("plan-item", ResponsibleParty.GENERAL_PRACTICE, 1),
                rule("follow-up", ResponsibleParty.GENERAL_PRACTICE, 1, depends_on_key="plan-item"),
            ],
            "follow-up",
        ),
    ],
    ids=["unknown goal", "unknown dependency", "cycle", "discharge rule waits for a plan-start task"],
)
def test_a_template_whose_keys_do_not_hold_together_is_not_published(world, items, message):
    template = PathwayTemplate.objects.create(code="broken", name="Broken")
    for item in items:
        TemplateTask.objects.create(template=template, **item)
    with pytest.raises(ValidationError) as refused:
        templates.template_publish(actor=world.admin, template=template)
    assert message in " ".join(refused.value.messages)
    assert not template.versions.exists()


def test_the_shipped_templates_exist_after_migrate_each_published_as_version_1(db):
    shipped = {t.code: t for t in PathwayTemplate.objects.filter(code__in=SHIPPED)}
    assert set(shipped) == set(SHIPPED)
    for template in shipped.values():
        version = template.versions.get()
        assert version.number == 1
        # The snapshot is the working copy: saving it unchanged in the admin publishes nothing.
        assert version.content == templates.template_content(template)
        templates.content_validate(version.content)
    kol = shipped["kol"].versions.get().content
    rules = {item["key"]: item for item in kol["tasks"] if item["trigger"] == TemplateTrigger.DISCHARGE}
    assert (rules["hjemmesygeplejebesoeg"]["offset_days"], rules["hjemmesygeplejebesoeg"]["responsible"]) == (
        1,
        ResponsibleParty.HOME_NURSING,
    )
    assert rules["hjemmesygeplejebesoeg"]["after_acute_ambulant"] is True
    assert (rules["genoptraeningsplan"]["offset_days"], rules["genoptraeningsplan"]["kind"]) == (
        0,
        "rehabilitation",
    )
    assert (rules["medicingennemgang"]["offset_days"], rules["medicingennemgang"]["kind"]) == (
        14,
        "medication_review",
    )
    assert rules["opfoelgning-egen-laege"]["offset_days"] == 7


SHIPPED = ["kol", "diabetes-2", "aeldre-medicinsk", "psykiatri-udskrivning"]


# --- making a plan from templates -------------------------------------------------------------------------


@pytest.fixture
def copd(world):
    return make_template(
        "kol-t",
        name="KOL (test)",
        condition="KOL",
        icd10_code="J44",
        goals=[
            {"key": "hverdag", "description": "Klare hverdagen"},
            {"key": "roegfri", "description": "Røgfri"},
        ],
        tasks=[
            task("henvisning", ResponsibleParty.GENERAL_PRACTICE, 30, kind=TaskKind.REFERRAL,
                 goal_key="hverdag"),
            task("rehabilitering", ResponsibleParty.HOME_NURSING, 60, window_days=30, goal_key="hverdag",
                 depends_on_key="henvisning"),
            task("rygestop", ResponsibleParty.MUNICIPAL_PREVENTION, 30, goal_key="roegfri"),
            task("aarskontrol", ResponsibleParty.GENERAL_PRACTICE, 365, title="Årskontrol (KOL)"),
            rule("opfoelgning-egen-laege", ResponsibleParty.GENERAL_PRACTICE, 7),
        ],
    )  # fmt: skip


@pytest.fixture
def diabetes(world):
    return make_template(
        "diabetes-t",
        name="Diabetes (test)",
        condition="Type 2-diabetes",
        icd10_code="E11",
        goals=[
            {"key": "blodsukker", "description": "Godt blodsukker"},
            {"key": "roegfri", "description": "Røgfri!"},
        ],
        tasks=[
            task("hba1c", ResponsibleParty.GENERAL_PRACTICE, 90, goal_key="blodsukker"),
            task("aarskontrol", ResponsibleParty.GENERAL_PRACTICE, 300, title="Årskontrol (diabetes)"),
            task("henvisning", ResponsibleParty.GENERAL_PRACTICE, 40, kind=TaskKind.REFERRAL),
        ],
    )  # fmt: skip


def template_tasks(world):
    return {t.template_key: t for t in world.plan.tasks.exclude(template_key="")}


def test_a_plan_made_from_a_template_gets_its_goals_tasks_dependencies_and_version(world, copd):
    made = put_on_plan(world, copd)
    tasks = template_tasks(world)
    # The world has no health centre in Roskilde: smoking cessation is not made, and the caller is told.
    assert sorted(tasks) == ["aarskontrol", "henvisning", "rehabilitering"]
    assert sorted(t.template_key for t in made) == sorted(tasks)
    assert [(s.key, s.party) for s in made.skipped] == [("rygestop", ResponsibleParty.MUNICIPAL_PREVENTION)]
    assert tasks["henvisning"].due_date == DAY + timedelta(days=30)
    assert tasks["henvisning"].responsible_organisation == world.gp
    rehab = tasks["rehabilitering"]
    assert (rehab.window_start, rehab.due_date) == (DAY + timedelta(days=30), DAY + timedelta(days=60))
    assert rehab.responsible_organisation == world.municipality
    assert rehab.depends_on == tasks["henvisning"]
    assert rehab.goal.description == "Klare hverdagen"
    assert rehab.goal.template_key == "hverdag"
    assert sorted(world.plan.goals.exclude(template_key="").values_list("template_key", flat=True)) == [
        "hverdag",
        "roegfri",
    ]
    # The plan's KOL (J44) was there already: not added twice. Discharge rules make no task now.
    assert world.plan.conditions.filter(icd10_code="J44").count() == 1
    assert "opfoelgning-egen-laege" not in tasks
    recorded = world.plan.templates.get()
    assert (recorded.template, recorded.version.number, recorded.start_date, recorded.applied_by) == (
        copd,
        1,
        DAY,
        world.coordinator,
    )


def test_two_templates_merge_without_duplicate_tasks_or_goals(world, copd, diabetes):
    put_on_plan(world, copd, diabetes)
    tasks = template_tasks(world)
    assert sorted(tasks) == ["aarskontrol", "hba1c", "henvisning", "rehabilitering"]
    assert world.plan.tasks.filter(template_key="aarskontrol").count() == 1
    # One task per key: the earlier due date wins, with its template's wording.
    assert (tasks["aarskontrol"].title, tasks["aarskontrol"].due_date) == (
        "Årskontrol (diabetes)",
        DAY + timedelta(days=300),
    )
    assert tasks["henvisning"].due_date == DAY + timedelta(days=30)
    goals = list(world.plan.goals.exclude(template_key="").order_by("template_key"))
    assert [g.template_key for g in goals] == ["blodsukker", "hverdag", "roegfri"]
    assert (
        next(g for g in goals if g.template_key == "roegfri").description == "Røgfri"
    )  # the first template's
    assert sorted(world.plan.templates.values_list("template__code", flat=True)) == ["diabetes-t", "kol-t"]


def test_a_template_added_later_does_not_make_again_what_the_plan_has(world, copd, diabetes):
    put_on_plan(world, copd)
    before = set(world.plan.tasks.values_list("pk", flat=True))
    put_on_plan(world, diabetes, copd)  # KOL is on the plan already: left alone
    added = world.plan.tasks.exclude(pk__in=before)
    assert sorted(added.values_list("template_key", flat=True)) == ["hba1c"]
    assert world.plan.templates.count() == 2
    assert world.plan.goals.filter(template_key="roegfri").count() == 1


def test_only_those_who_may_edit_the_plan_make_it_from_templates(world, copd):
    before = world.plan.tasks.count()
    with pytest.raises(PermissionDenied):
        templates.plan_templates_apply(actor=world.home_nurse, plan=world.plan, templates=[copd])
    with pytest.raises(PermissionDenied):
        templates.plan_templates_apply(actor=world.outsider, plan=world.plan, templates=[copd])
    assert world.plan.tasks.count() == before
    assert not world.plan.templates.exists()
    assert not world.plan.goals.exists()


def test_an_unpublished_template_is_refused(world):
    draft = PathwayTemplate.objects.create(code="kladde", name="Kladde")
    with pytest.raises(ValidationError):
        templates.plan_templates_apply(actor=world.coordinator, plan=world.plan, templates=[draft])
    assert not world.plan.templates.exists()


# --- a template change and the update from it --------------------------------------------------------------


def change_copd(copd):
    """Version 2: henvisning reworded and due sooner, rehabilitering reworded, aarskontrol taken out, a new
    task and goal, and the GP follow-up rule due within 5 days."""
    TemplateTask.objects.filter(template=copd, key="henvisning").update(title="Henvisning nu", offset_days=20)
    TemplateTask.objects.filter(template=copd, key="rehabilitering").update(title="KOL-rehabilitering")
    TemplateTask.objects.filter(template=copd, key="aarskontrol").delete()
    TemplateTask.objects.filter(template=copd, key="opfoelgning-egen-laege").update(offset_days=5)
    TemplateGoal.objects.create(template=copd, key="vaccineret", description="Vaccineret")
    TemplateTask.objects.create(
        template=copd, **task("vaccination", ResponsibleParty.GENERAL_PRACTICE, 60, goal_key="vaccineret")
    )
    version = templates.template_publish(actor=None, template=copd)
    assert version is not None
    return version


def test_a_template_change_leaves_existing_plans_alone(world, copd):
    put_on_plan(world, copd)
    tasks_before = list(world.plan.tasks.order_by("pk").values())
    change_copd(copd)
    assert list(world.plan.tasks.order_by("pk").values()) == tasks_before
    assert world.plan.templates.get().version.number == 1
    # Its discharges still follow version 1's rules until someone updates the plan.
    made = follow_ups(world)
    assert [t.due_date for t in made] == [DAY + timedelta(days=7)]


def test_the_preview_shows_what_the_update_would_add_change_and_leave(world, copd):
    put_on_plan(world, copd)
    assert templates.plan_template_update_preview(plan=world.plan) == []
    change_copd(copd)
    (update,) = templates.plan_template_update_preview(plan=world.plan)
    assert (update.template, update.current.number, update.latest.number) == (copd, 1, 2)
    assert [c.key for c in update.added_tasks] == ["vaccination"]
    assert [c.key for c in update.added_goals] == ["vaccineret"]
    changed = {c.key: c for c in update.changed_tasks}
    assert sorted(changed) == ["henvisning", "rehabilitering"]
    assert changed["henvisning"].changed_fields == ["title", "offset_days"]
    assert all(c.will_update for c in changed.values())
    assert [(c.key, c.task is not None) for c in update.removed_tasks] == [("aarskontrol", True)]
    assert [(c.key, c.changed_fields) for c in update.changed_rules] == [
        ("opfoelgning-egen-laege", ["offset_days"])
    ]


def test_the_update_adds_and_changes_what_is_still_as_made_and_never_touches_individualised_tasks(
    world, copd
):
    put_on_plan(world, copd)
    tasks = template_tasks(world)
    # The GP has reworded the referral for Kirsten: it is hers now.
    services.task_update(
        actor=world.coordinator, task=tasks["henvisning"], expected_version=tasks["henvisning"].version,
        title="Henvisning til KOL-hold om tirsdagen", kind=TaskKind.REFERRAL,
        responsible_organisation=world.gp, responsible_person=None, window_start=None,
        due_date=tasks["henvisning"].due_date, description="", goal=tasks["henvisning"].goal,
        depends_on=None, visible_to_patient=True,
    )  # fmt: skip
    change_copd(copd)
    done = templates.plan_template_update_apply(
        actor=world.coordinator, plan=world.plan, template=copd, expected_version_number=2
    )
    after = template_tasks(world)
    assert [t.template_key for t in done.added] == ["vaccination"]
    assert after["vaccination"].goal.template_key == "vaccineret"
    assert [t.template_key for t in done.updated] == ["rehabilitering"]
    assert after["rehabilitering"].title == "KOL-rehabilitering"
    assert [c.key for c in done.kept] == ["henvisning"]
    assert after["henvisning"].title == "Henvisning til KOL-hold om tirsdagen"
    assert after["henvisning"].due_date == DAY + timedelta(days=30)
    assert "aarskontrol" in after  # taken out of the template, never deleted from the plan
    assert world.plan.templates.get().version.number == 2
    # The discharge rules of version 2 now apply.
    made = follow_ups(world)
    assert [t.due_date for t in made] == [DAY + timedelta(days=5)]


def test_a_changed_offset_moves_the_due_date_of_a_task_still_as_made(world, copd):
    put_on_plan(world, copd)
    TemplateTask.objects.filter(template=copd, key="henvisning").update(offset_days=20)
    templates.template_publish(actor=None, template=copd)
    templates.plan_template_update_apply(
        actor=world.coordinator, plan=world.plan, template=copd, expected_version_number=2
    )
    assert template_tasks(world)["henvisning"].due_date == DAY + timedelta(days=20)


def test_a_started_task_is_not_updated(world, copd):
    put_on_plan(world, copd)
    services.task_transition(
        actor=world.gp_doctor, task=template_tasks(world)["henvisning"], to_status=TaskStatus.IN_PROGRESS
    )
    change_copd(copd)
    (update,) = templates.plan_template_update_preview(plan=world.plan)
    assert {c.key: c.will_update for c in update.changed_tasks}["henvisning"] is False
    templates.plan_template_update_apply(
        actor=world.coordinator, plan=world.plan, template=copd, expected_version_number=2
    )
    assert template_tasks(world)["henvisning"].title == "henvisning"


def test_the_update_is_refused_when_the_template_changed_again_since_the_preview(world, copd):
    put_on_plan(world, copd)
    change_copd(copd)
    TemplateTask.objects.filter(template=copd, key="rygestop").update(offset_days=10)
    templates.template_publish(actor=None, template=copd)  # version 3
    tasks_before = list(world.plan.tasks.order_by("pk").values())
    with pytest.raises(ValidationError):
        templates.plan_template_update_apply(
            actor=world.coordinator, plan=world.plan, template=copd, expected_version_number=2
        )
    assert list(world.plan.tasks.order_by("pk").values()) == tasks_before
    assert world.plan.templates.get().version.number == 1


def test_updating_again_changes_nothing(world, copd):
    put_on_plan(world, copd)
    change_copd(copd)
    arguments = {
        "actor": world.coordinator,
        "plan": world.plan,
        "template": copd,
        "expected_version_number": 2,
    }
    templates.plan_template_update_apply(**arguments)
    tasks_before = list(world.plan.tasks.order_by("pk").values())
    done = templates.plan_template_update_apply(**arguments)
    assert (done.added, done.updated) == ([], [])
    assert list(world.plan.tasks.order_by("pk").values()) == tasks_before


def test_only_those_who_may_edit_the_plan_update_it(world, copd):
    put_on_plan(world, copd)
    change_copd(copd)
    with pytest.raises(PermissionDenied):
        templates.plan_template_update_apply(
            actor=world.home_nurse, plan=world.plan, template=copd, expected_version_number=2
        )
    assert world.plan.templates.get().version.number == 1


# --- the plan page and the update page -----------------------------------------------------------------


def update_url(world, template):
    return reverse("pathways:plan-template-update", args=[world.plan.public_id, template.public_id])


def test_the_plan_page_names_the_templates_and_offers_a_newer_version_to_the_coordinator(client, world, copd):
    put_on_plan(world, copd)
    page = reverse("pathways:plan-detail", args=[world.plan.public_id])
    body = sign_in(client, world.coordinator).get(page).content.decode()
    assert 'id="plan-templates"' in body
    assert "KOL (test)" in body
    assert update_url(world, copd) not in body  # nothing newer yet
    change_copd(copd)
    body = client.get(page).content.decode()
    assert update_url(world, copd) in body
    assert "ff-template-offer" in body
    body = sign_in(client, world.home_nurse).get(page).content.decode()
    assert "KOL (test)" in body  # everyone sees where the plan came from
    assert update_url(world, copd) not in body  # only those who may edit the plan are offered the update


def test_the_plan_page_reads_its_templates_in_one_query_however_many(client, world, copd, diabetes):
    page = reverse("pathways:plan-detail", args=[world.plan.public_id])
    sign_in(client, world.coordinator)
    put_on_plan(world, copd)
    with CaptureQueriesContext(connection) as one:
        assert client.get(page).status_code == 200
    put_on_plan(world, diabetes)
    change_copd(copd)
    with CaptureQueriesContext(connection) as two:
        assert client.get(page).status_code == 200
    assert len(two.captured_queries) == len(one.captured_queries)


def test_the_coordinator_previews_and_applies_the_update(client, world, copd):
    put_on_plan(world, copd)
    change_copd(copd)
    sign_in(client, world.coordinator)
    response = client.get(update_url(world, copd))
    assert response.status_code == 200
    body = response.content.decode()
    for key in ("vaccination", "henvisning", "rehabilitering", "aarskontrol", "opfoelgning-egen-laege"):
        assert f'data-key="{key}"' in body, key
    assert world.plan.templates.get().version.number == 1  # looking changes nothing
    response = client.post(update_url(world, copd), {"version": "2"})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("pathways:plan-detail", args=[world.plan.public_id]))
    assert world.plan.templates.get().version.number == 2
    assert world.plan.tasks.filter(template_key="vaccination").exists()
    body = client.get(update_url(world, copd)).content.decode()
    assert 'id="template-update-none"' in body


def test_an_update_post_without_the_previewed_version_changes_nothing(client, world, copd):
    put_on_plan(world, copd)
    change_copd(copd)
    sign_in(client, world.coordinator)
    tasks_before = list(world.plan.tasks.order_by("pk").values())
    assert client.post(update_url(world, copd), {"version": "x"}).status_code == 422
    assert client.post(update_url(world, copd), {"version": "1"}).status_code == 409  # not what is newest
    assert list(world.plan.tasks.order_by("pk").values()) == tasks_before
    assert world.plan.templates.get().version.number == 1


def test_the_update_page_is_for_those_who_may_edit_the_plan(client, world, copd):
    put_on_plan(world, copd)
    change_copd(copd)
    assert sign_in(client, world.home_nurse).get(update_url(world, copd)).status_code == 403
    assert client.post(update_url(world, copd), {"version": "2"}).status_code == 403
    assert sign_in(client, world.outsider).get(update_url(world, copd)).status_code == 404
    other = reverse("pathways:plan-template-update", args=[world.plan.public_id, uuid4()])
    assert sign_in(client, world.coordinator).get(other).status_code == 404  # not one of the plan's templates
    assert world.plan.templates.get().version.number == 1


# --- the admin ----------------------------------------------------------------------------------------


def test_a_plan_created_in_the_admin_from_the_copd_template_starts_with_its_tasks(client, world):
    patient = services.patient_create(
        cpr="0202024321", given_name="Ny", family_name="Patientsen", home_municipality="265",
        general_practice=world.gp,
    )  # fmt: skip
    kol = PathwayTemplate.objects.get(code="kol")
    response = sign_in(client, world.admin).post(
        reverse("admin:pathways_pathwayplan_add"),
        {
            "patient": patient.pk,
            "title": "KOL",
            "templates": [kol.pk],
            "conditions-TOTAL_FORMS": "0",
            "conditions-INITIAL_FORMS": "0",
            "participants-TOTAL_FORMS": "1",
            "participants-INITIAL_FORMS": "0",
            "participants-0-organisation": world.hospital.pk,
            "goals-TOTAL_FORMS": "0",
            "goals-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    plan = patient.plans.get()
    keys = set(plan.tasks.values_list("template_key", flat=True))
    assert {"spirometri", "inhalationsteknik", "vaccination", "aarskontrol-egen-laege"} <= keys
    assert plan.tasks.get(template_key="spirometri").responsible_organisation == world.gp
    assert plan.templates.get().version.number == 1
    assert list(plan.conditions.values_list("display", "icd10_code")) == [("KOL", "J44")]
    assert plan.goals.filter(template_key="roegfri").exists()
    levels = [m.level_tag for m in get_messages(response.wsgi_request)]
    assert "warning" in levels  # the world has no health centre in Roskilde: rehabilitation was not made


def admin_form(client, url) -> dict[str, object]:
    """What the browser posts back for the admin page as opened (inline formsets included)."""
    response = client.get(url)
    assert response.status_code == 200
    data: dict[str, object] = {}
    form = response.context["adminform"].form
    for name in form.fields:
        value = form[name].value()
        if value is not None and value is not False:
            data[name] = "on" if value is True else value
    for inline in response.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        for name, field in management.fields.items():
            data[f"{management.prefix}-{name}"] = management.initial.get(name, field.initial)
        for index, inline_form in enumerate(inline.formset.forms):
            for name in inline_form.fields:
                value = inline_form[name].value()
                if value is not None and value is not False:
                    data[f"{inline.formset.prefix}-{index}-{name}"] = "on" if value is True else value
    return data


def test_saving_a_template_in_the_admin_publishes_a_version_only_when_it_changed(client, world):
    kol = PathwayTemplate.objects.get(code="kol")
    url = reverse("admin:pathways_pathwaytemplate_change", args=[kol.pk])
    sign_in(client, world.admin)
    data = admin_form(client, url)
    assert client.post(url, data).status_code == 302
    assert kol.versions.count() == 1
    rule = next(k for k, v in data.items() if v == "opfoelgning-egen-laege" and k.endswith("-key"))
    data[rule.replace("-key", "-offset_days")] = "5"
    assert client.post(url, data).status_code == 302
    assert kol.versions.count() == 2
    latest = kol.versions.order_by("-number")[0]
    assert (latest.number, latest.published_by) == (2, world.admin)
    assert {t["key"]: t["offset_days"] for t in latest.content["tasks"]}["opfoelgning-egen-laege"] == 5


def test_the_admin_shows_a_template_whose_keys_do_not_hold_together_again_and_keeps_nothing(client, world):
    kol = PathwayTemplate.objects.get(code="kol")
    url = reverse("admin:pathways_pathwaytemplate_change", args=[kol.pk])
    sign_in(client, world.admin)
    data = admin_form(client, url)
    rule = next(k for k, v in data.items() if v == "opstart-genoptraening" and k.endswith("-key"))
    data[rule.replace("-key", "-depends_on_key")] = "spirometri"  # a plan-start task
    response = client.post(url, data)
    assert response.status_code == 200
    rules = next(
        i.formset for i in response.context["inline_admin_formsets"] if i.formset.prefix == "discharge_rules"
    )
    assert "spirometri" in str(rules.non_form_errors())
    assert kol.versions.count() == 1
    assert kol.tasks.get(key="opstart-genoptraening").depends_on_key == "genoptraeningsplan"


def test_a_discharge_rule_added_in_the_admin_is_a_discharge_rule(client, world):
    kol = PathwayTemplate.objects.get(code="kol")
    url = reverse("admin:pathways_pathwaytemplate_change", args=[kol.pk])
    sign_in(client, world.admin)
    data = admin_form(client, url)
    prefix = "discharge_rules"
    index = int(str(data[f"{prefix}-TOTAL_FORMS"]))
    data[f"{prefix}-TOTAL_FORMS"] = index + 1
    data |= {
        f"{prefix}-{index}-key": "ny-regel",
        f"{prefix}-{index}-title": "Ny regel",
        f"{prefix}-{index}-kind": TaskKind.PHONE_CALL,
        f"{prefix}-{index}-responsible": ResponsibleParty.HOME_NURSING,
        f"{prefix}-{index}-offset_days": "2",
        f"{prefix}-{index}-sort_order": "9",
        f"{prefix}-{index}-visible_to_patient": "on",
    }
    assert client.post(url, data).status_code == 302
    assert kol.tasks.get(key="ny-regel").trigger == TemplateTrigger.DISCHARGE
