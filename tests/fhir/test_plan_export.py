"""The plan as FHIR R4 (pathways.fhir, GET /api/v1/plans/<id>/fhir/) and the search by CPR number (POST
/api/v1/fhir/CarePlan/_search), on the demo world: what a region's or a GP's system gets.

The demo is seeded once for the module inside a transaction rolled back at the end; each test runs in its
own savepoint on top of it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from rest_framework.test import APIClient

from coordination import fhir as coordination_fhir
from coordination import services as coordination_services
from coordination.choices import MessagePriority
from pathways import fhir, services
from pathways.access import READ_ONLY, PlanAccess
from pathways.choices import (
    AccessAction,
    GoalStatus,
    PlanStatus,
    StayEnd,
    StayStatus,
    TaskKind,
    TaskStatus,
)
from pathways.models import AccessLog, PathwayPlan, User
from quality import fhir as quality_fhir
from quality import services as quality_services
from quality.choices import ResponseSource, ResponseStatus
from quality.models import Questionnaire, QuestionnaireResponse
from relatives import fhir as relatives_fhir
from relatives.choices import Relation
from relatives.models import Relative
from tests.fhir.validator import r4_issues

FAST_HASHER = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# The codes each status may take (STANDARDS.md §1: the R4 code systems, required bindings).
ALLOWED: dict[tuple[str, str], set[str]] = {
    ("CarePlan", "status"): {
        "draft",
        "active",
        "on-hold",
        "revoked",
        "completed",
        "entered-in-error",
        "unknown",
    },
    ("CarePlan", "intent"): {"proposal", "plan", "order", "option"},
    ("CareTeam", "status"): {"proposed", "active", "suspended", "inactive", "entered-in-error"},
    ("Goal", "lifecycleStatus"): {
        "proposed",
        "planned",
        "accepted",
        "active",
        "on-hold",
        "completed",
        "cancelled",
        "entered-in-error",
        "rejected",
    },
    ("Task", "status"): {
        "draft",
        "requested",
        "received",
        "accepted",
        "rejected",
        "ready",
        "cancelled",
        "in-progress",
        "on-hold",
        "failed",
        "completed",
        "entered-in-error",
    },
    ("Task", "intent"): {
        "unknown",
        "proposal",
        "plan",
        "order",
        "original-order",
        "reflex-order",
        "filler-order",
        "instance-order",
        "option",
    },
    ("Encounter", "status"): {
        "planned",
        "arrived",
        "triaged",
        "in-progress",
        "onleave",
        "finished",
        "cancelled",
        "entered-in-error",
        "unknown",
    },
    ("Consent", "status"): {"draft", "proposed", "active", "rejected", "inactive", "entered-in-error"},
    ("Communication", "status"): {
        "preparation",
        "in-progress",
        "not-done",
        "on-hold",
        "stopped",
        "completed",
        "entered-in-error",
        "unknown",
    },
    ("Communication", "priority"): {"routine", "urgent", "asap", "stat"},
    ("QuestionnaireResponse", "status"): {
        "in-progress",
        "completed",
        "amended",
        "entered-in-error",
        "stopped",
    },
}
EVERY_TYPE = {
    "CarePlan",
    "CareTeam",
    "Patient",
    "Organization",
    "Practitioner",
    "PractitionerRole",
    "Condition",
    "Goal",
    "Task",
    "Encounter",
    "Provenance",
    "RelatedPerson",
    "Consent",
    "Communication",
    "QuestionnaireResponse",
}


@pytest.fixture(scope="module", autouse=True)
def demo_world(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    with override_settings(PASSWORD_HASHERS=FAST_HASHER), django_db_blocker.unblock(), transaction.atomic():
        call_command("seed_demo", stdout=StringIO())
        yield
        transaction.set_rollback(True)


@pytest.fixture
def kirsten_plan(db: None) -> PathwayPlan:
    return PathwayPlan.objects.get(patient__given_name="Kirsten", status=PlanStatus.ACTIVE)


@pytest.fixture
def koordinator(db: None) -> APIClient:
    client = APIClient()
    client.force_authenticate(User.objects.get(username="koordinator"))
    return client


def _export(client: APIClient, plan: PathwayPlan) -> dict[str, Any]:
    response = client.get(reverse("api:plan-fhir", args=[plan.public_id]))
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/fhir+json"
    return json.loads(response.content)


def _references(value: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(value, dict):
        if "reference" in value and isinstance(value["reference"], str):
            yield path, value
        for key, item in value.items():
            yield from _references(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _references(item, f"{path}[{index}]")


def _resources(bundle: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == resource_type]


def test_kirstens_plan_exports_every_resource_type_and_every_reference_resolves_inside(
    koordinator, kirsten_plan
):
    bundle = _export(koordinator, kirsten_plan)
    Bundle.model_validate(bundle)
    types = {entry["resource"]["resourceType"] for entry in bundle["entry"]}
    assert types == EVERY_TYPE
    by_url = {entry["fullUrl"]: entry["resource"] for entry in bundle["entry"]}
    assert len(by_url) == len(bundle["entry"]), "every entry once"
    for entry in bundle["entry"]:
        resource = entry["resource"]
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
        assert entry["fullUrl"] == f"urn:uuid:{resource['id']}"
        for path, reference in _references(resource):
            target = by_url.get(reference["reference"])
            assert target is not None, f"{resource['resourceType']}{path} points outside the Bundle"
            assert target["resourceType"] == reference["type"], path
    plan = bundle["entry"][0]["resource"]
    assert plan["resourceType"] == "CarePlan"
    assert plan["title"] == kirsten_plan.title
    assert len(plan["activity"]) == kirsten_plan.tasks.count()
    assert len(plan["goal"]) == kirsten_plan.goals.count()
    tasks = _resources(bundle, "Task")
    assert all(
        task["basedOn"] == [{"reference": f"urn:uuid:{kirsten_plan.public_id}", "type": "CarePlan"}]
        for task in tasks
    )
    assert all(task["owner"]["type"] in {"Organization", "PractitionerRole"} for task in tasks)


def test_the_export_says_what_the_plan_says(koordinator, kirsten_plan):
    """Round trip: each task's status, dates, owner and version read back from the Bundle are the task's."""
    bundle = _export(koordinator, kirsten_plan)
    by_url = {entry["fullUrl"]: entry["resource"] for entry in bundle["entry"]}
    exported = {task["id"]: task for task in _resources(bundle, "Task")}
    for task in kirsten_plan.tasks.select_related("responsible_organisation"):
        resource = exported[str(task.public_id)]
        assert fhir.TASK_STATUS_FROM_FHIR[resource["status"]] == task.status
        assert resource["description"] == task.title
        assert resource["meta"]["versionId"] == str(task.version)
        window = resource.get("restriction", {}).get("period", {})
        assert window.get("start") == (task.window_start.isoformat() if task.window_start else None)
        assert window.get("end") == (task.due_date.isoformat() if task.due_date else None)
        owner = by_url[resource["owner"]["reference"]]
        if owner["resourceType"] == "PractitionerRole":
            owner = by_url[owner["organization"]["reference"]]
        assert owner["name"] == task.responsible_organisation.name
    patient = _resources(bundle, "Patient")[0]
    assert patient["identifier"] == [
        {"use": "official", "system": "urn:oid:1.2.208.176.1.2", "value": kirsten_plan.patient.cpr}
    ]
    organisations = _resources(bundle, "Organization")
    assert any(
        {"use": "official", "system": "urn:oid:1.2.208.176.1.1", "value": org.sor_code} in o["identifier"]
        for o in organisations
        for org in [kirsten_plan.coordinator_organisation]
        if org.sor_code
    )
    team = _resources(bundle, "CareTeam")[0]
    coordinator_role = next(
        p for p in team["participant"] if p["role"][0]["coding"][0]["code"] == "coordinator"
    )
    role = by_url[coordinator_role["member"]["reference"]]
    assert (
        by_url[role["practitioner"]["reference"]]["name"][0]["text"]
        == kirsten_plan.coordinator.get_full_name()
    )


def test_the_cpr_number_is_in_the_patient_identifier_only_and_the_export_is_logged(koordinator, kirsten_plan):
    response = koordinator.get(reverse("api:plan-fhir", args=[kirsten_plan.public_id]))
    assert response.content.decode().count(kirsten_plan.patient.cpr) == 1
    log = AccessLog.objects.filter(plan=kirsten_plan, action=AccessAction.FHIR_EXPORT)
    assert list(log.values_list("actor__username", flat=True)) == ["koordinator"]


def test_codes_come_from_the_allowed_sets_and_every_choice_has_a_code(koordinator):
    for table, choices in (
        (fhir.PLAN_STATUS, PlanStatus),
        (fhir.CARE_TEAM_STATUS, PlanStatus),
        (fhir.GOAL_STATUS, GoalStatus),
        (fhir.TASK_STATUS, TaskStatus),
        (fhir.STAY_STATUS, StayStatus),
        (fhir.STAY_END, StayEnd),
        (coordination_fhir.PRIORITY, MessagePriority),
        (quality_fhir.RESPONSE_STATUS, ResponseStatus),
        (relatives_fhir.RELATION_CODES, Relation),
    ):
        assert set(table) == set(choices.values), table
    assert set(fhir.PLAN_STATUS.values()) <= ALLOWED[("CarePlan", "status")]
    assert set(fhir.TASK_STATUS.values()) <= ALLOWED[("Task", "status")]
    assert set(fhir.GOAL_STATUS.values()) <= ALLOWED[("Goal", "lifecycleStatus")]
    assert set(fhir.STAY_STATUS.values()) <= ALLOWED[("Encounter", "status")]
    assert set(fhir.CARE_TEAM_STATUS.values()) <= ALLOWED[("CareTeam", "status")]
    assert len(set(TaskKind.values)) == len(TaskKind.values)
    seen = 0
    for plan in PathwayPlan.objects.all():
        bundle = fhir.plan_bundle(actor=plan.coordinator, granted=PlanAccess(plan=plan, rights=READ_ONLY))
        for entry in bundle["entry"]:
            resource = entry["resource"]
            for (resource_type, element), allowed in ALLOWED.items():
                if resource["resourceType"] == resource_type and element in resource:
                    assert resource[element] in allowed, (resource_type, element, resource[element])
                    seen += 1
    assert seen > 100


def test_the_independent_validator_finds_no_error_in_any_demo_plan(db):
    """Every demo plan's Bundle, checked against the official R4 StructureDefinitions by medplum's validator
    (run by node: tests/fhir/validate_r4.mjs), in one call: the plans' Bundles as entries of one."""
    plans = list(PathwayPlan.objects.select_related("patient__general_practice", "coordinator"))
    bundles = [
        fhir.plan_bundle(actor=plan.coordinator, granted=PlanAccess(plan=plan, rights=READ_ONLY))
        for plan in plans
    ]
    assert len(bundles) >= 5
    everything = {
        "resourceType": "Bundle",
        "id": "demo",
        "type": "collection",
        "entry": [{"fullUrl": f"urn:uuid:{b['id']}", "resource": b} for b in bundles],
    }
    assert r4_issues(everything) == []


def _bundle_of(given_name: str) -> dict[str, Any]:
    plan = PathwayPlan.objects.filter(patient__given_name=given_name).order_by("-created_at").first()
    assert plan is not None
    return fhir.plan_bundle(actor=plan.coordinator, granted=PlanAccess(plan=plan, rights=READ_ONLY))


def test_relatives_travel_only_as_the_patient_allowed():
    """The demo's relatives: Kirsten's daughter Susanne (the whole plan) and son Mads (appointments only)
    travel with their consents; Fatma's husband Emre, whose consent she withdrew, and Kasper's daughter
    Alberte, a child, do not."""
    kirsten = _bundle_of("Kirsten")
    names = {r["name"][0]["text"]: r for r in _resources(kirsten, "RelatedPerson")}
    assert set(names) == {"Susanne Poulsen", "Mads Poulsen"}
    scopes = {
        c["provision"]["actor"][0]["reference"]["reference"]: c["provision"]["code"][0]["coding"][0]["code"]
        for c in _resources(kirsten, "Consent")
    }
    assert scopes == {
        f"urn:uuid:{names['Susanne Poulsen']['id']}": "whole_plan",
        f"urn:uuid:{names['Mads Poulsen']['id']}": "appointments",
    }
    assert all(c["status"] == "active" for c in _resources(kirsten, "Consent"))
    for withheld in ("Fatma", "Kasper"):
        bundle = _bundle_of(withheld)
        assert _resources(bundle, "RelatedPerson") == []
        assert _resources(bundle, "Consent") == []
        text = json.dumps(bundle, ensure_ascii=False)
        assert "Emre Yilmaz" not in text
        assert "Alberte Lund" not in text


def test_a_relatives_own_answers_never_travel_with_the_patients_plan():
    plan = PathwayPlan.objects.filter(patient__given_name="Kirsten").order_by("-created_at").first()
    assert plan is not None
    who5 = Questionnaire.objects.get(key="who5")
    quality_services.response_record(
        questionnaire=who5,
        plan=plan,
        answers={item.link_id: 2 for item in who5.items.all()},
        source=ResponseSource.PORTAL,
        relative=Relative.objects.get(plan=plan, name="Susanne Poulsen"),
    )
    responses = QuestionnaireResponse.objects.filter(plan=plan)
    assert responses.filter(relative__isnull=False).count() == 1
    exported = {r["id"] for r in _resources(_bundle_of("Kirsten"), "QuestionnaireResponse")}
    for response in responses:
        assert (str(response.public_id) in exported) == (response.relative_id is None)


def test_the_export_reads_the_same_number_of_queries_with_20_more_tasks(koordinator, kirsten_plan):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            _export(koordinator, kirsten_plan)
        return len(captured.captured_queries)

    queries()  # caches warmed (content types)
    before = queries()
    assert before <= 16
    template = kirsten_plan.tasks.select_related("responsible_organisation").first()
    assert template is not None
    goal = kirsten_plan.goals.order_by("pk").first()
    person = kirsten_plan.tasks.exclude(responsible_person=None).select_related("responsible_person").first()
    previous = None
    for number in range(20):
        previous = services.task_create(
            actor=kirsten_plan.coordinator,
            plan=kirsten_plan,
            title=f"Ekstra opgave {number}",
            responsible_organisation=template.responsible_organisation,
            responsible_person=person.responsible_person if person else None,
            kind=TaskKind.PHONE_CALL,
            goal=goal,
            depends_on=previous,
        )
    coordination_services.thread_start(
        actor=kirsten_plan.coordinator,
        plan=kirsten_plan,
        sender_organisation=kirsten_plan.coordinator_organisation,
        recipients=[template.responsible_organisation],
        subject="Ekstra",
        body="Flere opgaver.",
        priority="routine",
        task=previous,
    )
    assert queries() == before


def test_a_plan_the_caller_may_not_see_is_an_operation_outcome_404_and_nothing_is_logged(kirsten_plan):
    client = APIClient()
    client.force_authenticate(User.objects.get(username="admin"))  # an administrator sees no plans
    before = AccessLog.objects.count()
    response = client.get(reverse("api:plan-fhir", args=[kirsten_plan.public_id]))
    assert response.status_code == 404
    assert json.loads(response.content)["resourceType"] == "OperationOutcome"
    assert json.loads(response.content)["issue"][0]["code"] == "not-found"
    assert AccessLog.objects.count() == before


# --- search by CPR number ---


def _search(client: APIClient, body: dict[str, str], query: str = "") -> Any:
    return client.post(reverse("api:fhir-careplan-search") + query, body)


def test_search_by_cpr_number_in_the_body_finds_the_patients_plan_and_logs_it(koordinator, kirsten_plan):
    cpr = kirsten_plan.patient.cpr
    for identifier in (cpr, f"urn:oid:1.2.208.176.1.2|{cpr}", f"{cpr[:6]}-{cpr[6:]}"):
        response = _search(koordinator, {"patient.identifier": identifier})
        assert response.status_code == 200
        bundle = json.loads(response.content)
        Bundle.model_validate(bundle)
        assert bundle["type"] == "searchset"
        assert bundle["total"] == 1
        matches = [e["resource"] for e in bundle["entry"] if e["search"]["mode"] == "match"]
        assert [m["id"] for m in matches] == [str(kirsten_plan.public_id)]
    assert AccessLog.objects.filter(plan=kirsten_plan, action=AccessAction.SEARCH_CPR).count() == 3


def test_search_refuses_a_cpr_number_in_the_address_and_bad_numbers_without_echoing_them(
    koordinator, kirsten_plan
):
    cpr = kirsten_plan.patient.cpr
    before = AccessLog.objects.count()
    refused = [
        _search(koordinator, {"patient.identifier": cpr}, query=f"?patient.identifier={cpr}"),
        _search(koordinator, {}),
        _search(koordinator, {"patient.identifier": "3213"}),
        _search(koordinator, {"patient.identifier": f"urn:oid:1.2.208.176.1.6.1.1|{cpr}"}),
        koordinator.get(reverse("api:fhir-careplan-search"), {"patient.identifier": cpr}),
    ]
    assert [r.status_code for r in refused] == [400, 400, 400, 400, 405]
    for response in refused:
        body = json.loads(response.content)
        assert body["resourceType"] == "OperationOutcome"
        assert cpr not in response.content.decode()
    assert AccessLog.objects.count() == before


def test_search_finds_nothing_outside_the_callers_plans(kirsten_plan):
    client = APIClient()
    client.force_authenticate(User.objects.get(username="admin"))
    bundle = json.loads(_search(client, {"patient.identifier": kirsten_plan.patient.cpr}).content)
    assert bundle["total"] == 0
    assert "entry" not in bundle  # FHIR has no empty lists
