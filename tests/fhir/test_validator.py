"""The independent FHIR R4 validator (tests/fhir/validator.py) is real: it passes valid resources and catches
structural errors, by medplum's code against the official R4 StructureDefinitions, and codes outside a
required binding, by validate_r4.mjs's own check against the official R4 ValueSets.

What medplum checks (see validate_r4.mjs): unknown elements, cardinality, primitive formats (a code may not
contain leading, trailing or double spaces), and the error-level invariants on resources and their elements.
It does not check terminology bindings (`CarePlan.status = "bogus"` passes it); validate_r4.mjs adds the
required ones: a code (or a CodeableConcept's codings) outside the bound ValueSet is an error, and a ValueSet
it cannot expand from the shipped definitions (mimetypes, SNOMED CT, ...) a "binding not checked" warning.
No database: these run node only (about a second per call, most of it loading the definitions).
"""

from __future__ import annotations

import shutil
from typing import Any

import pytest

from tests.fhir.validator import FhirValidatorUnavailable, r4_issues


def care_plan(**extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "CarePlan",
        "id": "plan-1",
        "status": "active",
        "intent": "plan",
        "subject": {"reference": "Patient/patient-1"},
        **extra,
    }


def task(**extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Task",
        "id": "task-1",
        "status": "requested",
        "intent": "order",
        "for": {"reference": "Patient/patient-1"},
        **extra,
    }


ACHIEVEMENT = "http://terminology.hl7.org/CodeSystem/goal-achievement"
CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"


def patient(**extra: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": "patient-1", **extra}


def condition(**extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "id": "condition-1",
        "code": {"text": "Hoftebrud"},
        "subject": {"reference": "Patient/patient-1"},
        **extra,
    }


def communication(**extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Communication",
        "id": "message-1",
        "status": "completed",
        "subject": {"reference": "Patient/patient-1"},
        **extra,
    }


def collection(*resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "id": "export-1",
        "type": "collection",
        "entry": [
            {"fullUrl": f"urn:uuid:00000000-0000-4000-8000-00000000000{n}", "resource": resource}
            for n, resource in enumerate(resources)
        ],
    }


def test_a_minimal_care_plan_is_valid():
    assert r4_issues(care_plan(), errors_only=False) == []


def test_a_task_without_status_is_invalid_and_the_error_names_status():
    document = task()
    del document["status"]

    issues = r4_issues(document)

    assert [(i["resource"], i["expression"], i["message"]) for i in issues] == [
        ("Task/task-1", "Task.status", "Missing required property")
    ]


def test_a_code_outside_its_required_binding_is_invalid():
    """medplum does not check bindings; validate_r4.mjs checks the required ones. If this ever reports the
    error twice after an upgrade, medplum has started checking bindings itself."""
    issues = r4_issues(care_plan(status="bogus"))

    assert [(i["resource"], i["expression"], i["message"]) for i in issues] == [
        (
            "CarePlan/plan-1",
            "CarePlan.status",
            "Value 'bogus' not in required value set http://hl7.org/fhir/ValueSet/request-status",
        )
    ]


def test_a_code_that_is_not_code_shaped_is_invalid_twice():
    """medplum checks the FHIR `code` format; the binding check then finds no such code either."""
    issues = r4_issues(care_plan(status=" active"))

    assert [(i["expression"], i["message"]) for i in issues] == [
        ("CarePlan.status", "Invalid code format"),
        (
            "CarePlan.status",
            "Value ' active' not in required value set http://hl7.org/fhir/ValueSet/request-status",
        ),
    ]


def test_a_task_status_spelt_with_an_underscore_is_invalid():
    """The R4 code is in-progress: the Python enum's spelling must not leak into the export."""
    issues = r4_issues(task(status="in_progress"))

    assert [(i["expression"], i["message"]) for i in issues] == [
        (
            "Task.status",
            "Value 'in_progress' not in required value set http://hl7.org/fhir/ValueSet/task-status",
        )
    ]
    assert r4_issues(task(status="in-progress"), errors_only=False) == []


def test_a_required_binding_inside_a_datatype_is_checked():
    """ContactPoint.system and Identifier.use are bound by the datatypes' own StructureDefinitions."""
    document = patient(
        telecom=[
            {"system": "phone", "value": "+45 12 34 56 78"},
            {"system": "fax2", "value": "+45 87 65 43 21"},
        ],
        identifier=[{"use": "oficial", "system": "urn:oid:1.2.208.176.1.2", "value": "0101011234"}],
    )

    issues = r4_issues(document)

    assert [(i["expression"], i["message"]) for i in issues] == [
        (
            "Patient.telecom[1].system",
            "Value 'fax2' not in required value set http://hl7.org/fhir/ValueSet/contact-point-system",
        ),
        (
            "Patient.identifier[0].use",
            "Value 'oficial' not in required value set http://hl7.org/fhir/ValueSet/identifier-use",
        ),
    ]


def test_a_required_binding_on_a_codeable_concept_checks_system_and_code():
    """Condition.clinicalStatus: one coding from the ValueSet is enough (others may be translations); a code
    from another system, or text alone, is not."""
    system = "http://terminology.hl7.org/CodeSystem/condition-clinical"
    url = "http://hl7.org/fhir/ValueSet/condition-clinical"
    local = {"system": "urn:example:local", "code": "aktiv"}

    def issues_of(clinical_status: dict[str, Any]) -> list[str]:
        return [i["message"] for i in r4_issues(condition(clinicalStatus=clinical_status))]

    assert issues_of({"coding": [{"system": system, "code": "active"}]}) == []
    assert issues_of({"coding": [local, {"system": system, "code": "active"}]}) == []
    assert issues_of({"coding": [{"system": system, "code": "activ"}]}) == [
        f"Value 'activ' (system {system}) not in required value set {url}"
    ]
    assert issues_of({"coding": [{"system": "urn:example:local", "code": "active"}]}) == [
        f"Value 'active' (system urn:example:local) not in required value set {url}"
    ]
    assert issues_of({"text": "aktiv"}) == [f"No code from required value set {url}"]


def test_a_bundle_type_is_checked():
    assert r4_issues(collection(care_plan()), errors_only=False) == []

    document = collection(care_plan())
    document["type"] = "colection"
    issues = r4_issues(document)

    assert [(i["resource"], i["expression"], i["message"]) for i in issues] == [
        (
            "Bundle/export-1",
            "Bundle.type",
            "Value 'colection' not in required value set http://hl7.org/fhir/ValueSet/bundle-type",
        )
    ]


def test_a_bundle_entry_search_mode_is_checked():
    searchset = {
        "resourceType": "Bundle",
        "id": "search-1",
        "type": "searchset",
        "entry": [
            {
                "fullUrl": "https://example.org/fhir/Task/task-1",
                "resource": task(),
                "search": {"mode": "match"},
            },
            {
                "fullUrl": "https://example.org/fhir/Task/task-2",
                "resource": task(),
                "search": {"mode": "matc"},
            },
        ],
    }

    issues = r4_issues(searchset)

    assert [(i["expression"], i["message"]) for i in issues] == [
        (
            "Bundle.entry[1].search.mode",
            "Value 'matc' not in required value set http://hl7.org/fhir/ValueSet/search-entry-mode",
        )
    ]


def test_a_binding_in_a_bundle_entry_is_an_error_for_the_bundle_and_for_the_entry():
    issues = r4_issues(collection(care_plan(), task(status="bogus")))

    assert {(i["resource"], i["expression"]) for i in issues} == {
        ("Bundle/export-1", "Bundle.entry[1].resource.status"),
        ("Task/task-1", "Task.status"),
    }


def test_a_value_set_it_cannot_expand_is_a_warning_not_a_pass():
    """Attachment.contentType is bound (required) to mimetypes, i.e. all of BCP 13, which the shipped
    definitions do not enumerate: reported as not checked, never as valid nor as an error."""
    document = communication(payload=[{"contentAttachment": {"contentType": "text/plain", "data": "aGVq"}}])

    assert r4_issues(document) == []
    warnings = r4_issues(document, errors_only=False)
    assert [(w["severity"], w["expression"], w["message"]) for w in warnings] == [
        (
            "warning",
            "Communication.payload[0].contentAttachment.contentType",
            "binding not checked: http://hl7.org/fhir/ValueSet/mimetypes"
            " (code system urn:ietf:bcp:13 not in the shipped definitions)",
        )
    ]


def valid_resources() -> list[dict[str, Any]]:
    """One of each resource the export uses, every required binding met. Encounter.class (a Coding) and
    Consent.scope (a CodeableConcept) are bound extensibly: not checked."""
    narrative = {"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">Plan</div>'}
    return [
        patient(
            identifier=[{"use": "official", "system": "urn:oid:1.2.208.176.1.2", "value": "0101011234"}],
            name=[{"use": "official", "family": "Jensen", "given": ["Karen"]}],
            telecom=[{"system": "phone", "use": "mobile", "value": "+45 12 34 56 78"}],
            address=[{"use": "home", "type": "physical", "city": "Aarhus"}],
        ),
        care_plan(text=narrative, intent="order", category=[{"text": "Forløb"}]),
        task(status="in-progress", priority="urgent", businessStatus={"text": "Venter"}),
        {
            "resourceType": "Goal",
            "id": "goal-1",
            "lifecycleStatus": "active",
            "achievementStatus": {"coding": [{"system": ACHIEVEMENT, "code": "in-progress"}]},
            "description": {"text": "Gå 500 m"},
            "subject": {"reference": "Patient/patient-1"},
        },
        {
            "resourceType": "Encounter",
            "id": "encounter-1",
            "status": "in-progress",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
            "subject": {"reference": "Patient/patient-1"},
        },
        {
            "resourceType": "Consent",
            "id": "consent-1",
            "status": "active",
            "scope": {"coding": [{"system": CONSENT_SCOPE, "code": "patient-privacy"}]},
            "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
            "patient": {"reference": "Patient/patient-1"},
            "policyRule": {"text": "Sundhedsloven § 41"},
            "provision": {"type": "permit", "provision": [{"type": "deny"}]},
        },
        communication(priority="routine"),
        {
            "resourceType": "QuestionnaireResponse",
            "id": "response-1",
            "status": "completed",
            "subject": {"reference": "Patient/patient-1"},
            "item": [
                {"linkId": "1", "answer": [{"valueCoding": {"system": "urn:example:local", "code": "x"}}]}
            ],
        },
    ]


def test_a_valid_set_of_resources_passes_every_required_binding():
    assert r4_issues(collection(*valid_resources()), errors_only=False) == []


def test_every_required_binding_of_the_valid_set_is_checked():
    """The same set with each bound code misspelt: one error per code, under the Bundle (and again under
    each entry's resource, not looked at here)."""
    patient_, plan, task_, goal, encounter, consent, message, response = valid_resources()
    patient_["identifier"][0]["use"] = "officiel"
    patient_["name"][0]["use"] = "officiel"
    patient_["telecom"][0]["system"] = "telefon"
    patient_["telecom"][0]["use"] = "mobil"
    patient_["address"][0]["use"] = "hjem"
    patient_["address"][0]["type"] = "fysisk"
    plan["text"]["status"] = "genereret"
    plan["status"] = "aktiv"
    plan["intent"] = "ordre"
    task_["status"] = "igang"
    task_["intent"] = "ordre"
    task_["priority"] = "haster"
    goal["lifecycleStatus"] = "aktiv"
    encounter["status"] = "igang"
    consent["status"] = "aktiv"
    consent["provision"]["type"] = "tillad"
    message["status"] = "afsluttet"
    message["priority"] = "rutine"
    response["status"] = "udfyldt"

    issues = r4_issues(collection(patient_, plan, task_, goal, encounter, consent, message, response))

    assert sorted(i["expression"] for i in issues if i["resource"] == "Bundle/export-1") == sorted(
        f"Bundle.entry[{n}].resource.{path}"
        for n, path in [
            (0, "identifier[0].use"),
            (0, "name[0].use"),
            (0, "telecom[0].system"),
            (0, "telecom[0].use"),
            (0, "address[0].use"),
            (0, "address[0].type"),
            (1, "text.status"),
            (1, "status"),
            (1, "intent"),
            (2, "status"),
            (2, "intent"),
            (2, "priority"),
            (3, "lifecycleStatus"),
            (4, "status"),
            (5, "status"),
            (5, "provision.type"),
            (6, "status"),
            (6, "priority"),
            (7, "status"),
        ]
    )
    assert all("not in required value set http://hl7.org/fhir/ValueSet/" in i["message"] for i in issues)


def test_a_required_binding_in_a_nested_backbone_element_is_checked():
    """Consent.provision.provision is a contentReference to Consent.provision: its type is bound too."""
    document = {
        "resourceType": "Consent",
        "id": "consent-1",
        "status": "active",
        "scope": {"coding": [{"system": CONSENT_SCOPE, "code": "patient-privacy"}]},
        "category": [{"text": "Samtykke"}],
        "policyRule": {"text": "Sundhedsloven § 41"},
        "provision": {"type": "permit", "provision": [{"type": "allow"}]},
    }

    issues = r4_issues(document)

    assert [(i["expression"], i["message"]) for i in issues] == [
        (
            "Consent.provision.provision[0].type",
            "Value 'allow' not in required value set http://hl7.org/fhir/ValueSet/consent-provision-type",
        )
    ]


def test_an_element_invariant_is_checked():
    """cpl-3: a CarePlan activity gives a reference or a detail, not both."""
    activity = {"reference": {"reference": "Task/task-1"}, "detail": {"status": "completed"}}

    issues = r4_issues(care_plan(activity=[activity]))

    assert len(issues) == 1
    assert issues[0]["expression"] == "CarePlan.activity[0]"
    assert "cpl-3" in issues[0]["message"]


def test_a_reference_to_a_type_the_element_does_not_allow_is_a_warning_only():
    document = care_plan(subject={"reference": "Practitioner/doctor-1"})

    assert r4_issues(document) == []
    warnings = r4_issues(document, errors_only=False)
    assert [(w["severity"], w["expression"]) for w in warnings] == [("warning", "CarePlan.subject")]


def test_a_collection_bundle_of_two_valid_entries_is_valid():
    assert r4_issues(collection(care_plan(), task()), errors_only=False) == []


def test_an_unknown_element_in_a_bundle_entry_is_an_error_for_the_bundle_and_for_the_entry():
    issues = r4_issues(collection(care_plan(), task(colour="blue")))

    assert {(i["resource"], i["expression"]) for i in issues} == {
        ("Bundle/export-1", "Bundle.entry[1].resource.colour"),
        ("Task/task-1", "Task.colour"),
    }
    assert all(i["message"] == 'Invalid additional property "colour"' for i in issues)


def test_without_node_it_fails_clearly(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda _name: None)

    with pytest.raises(FhirValidatorUnavailable, match="node is not on PATH"):
        r4_issues(care_plan())
