"""Reading and checking a MedCom HospitalNotification (pathways.medcom): every message type of STANDARDS.md
§2.2, what is refused with which status and OperationOutcome, and the Acknowledgement. No database."""

from __future__ import annotations

import copy
import json
from datetime import timedelta

import pytest
from django.utils import timezone
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.operationoutcome import OperationOutcome

from pathways import medcom
from pathways.choices import MedcomCode, StayClass
from tests.pathways.medcom_messages import KIRSTEN_CPR, body, bundle, message_id

# Every type a message says on its own; RE_MORS and AN_MORS need the type of the message they refer to.
ON_ITS_OWN = [code for code in MedcomCode.values if code not in ("RE_MORS", "AN_MORS")]


def refused(raw: bytes) -> medcom.NoticeRefused:
    with pytest.raises(medcom.NoticeRefused) as caught:
        medcom.notice_parse(raw)
    return caught.value


def resource(message, kind):
    return next(e["resource"] for e in message["entry"] if e["resource"]["resourceType"] == kind)


@pytest.mark.parametrize("code", ON_ITS_OWN)
def test_every_message_type_is_read_from_activity_class_status_and_deceased(code):
    refers = "earlier-message" if code.startswith(("RE_", "AN_")) else ""
    at = timezone.now().replace(microsecond=0)
    notice = medcom.notice_parse(body(bundle(code, at=at, refers_to=refers)))
    assert notice.code == code
    assert notice.refers_to == refers
    assert notice.cpr == KIRSTEN_CPR
    assert notice.sender_sor == "1001"
    assert notice.receiver_sor == "2001"
    assert notice.episode_id == "forloeb-1"
    if not code.startswith("AN_"):
        assert notice.event_at == at  # the admission, the leave's start or end, the end of the stay


@pytest.mark.parametrize("stay_class", [StayClass.ACUTE_AMBULANT, StayClass.INPATIENT])
def test_a_discharge_takes_its_class_from_the_encounter(stay_class):
    notice = medcom.notice_parse(body(bundle("SLHJ", stay_class=stay_class)))
    assert notice.code == MedcomCode.SLHJ
    assert notice.stay_class == stay_class


def test_a_death_after_a_death_is_its_correction_and_not_deceased_after_a_death_cancels_it():
    death = medcom.notice_parse(body(bundle("MORS", refers_to="the-death")))
    assert medcom.code_after(death, "MORS").code == MedcomCode.RE_MORS
    assert medcom.code_after(death, "STIN").code == MedcomCode.MORS
    # "Previous status", "current activity", deceased false: on its own it reads as the admission it was.
    alive = medcom.notice_parse(body(bundle("AN_MORS", refers_to="the-death")))
    assert alive.code == MedcomCode.STIN
    assert alive.deceased is False
    cancelled = medcom.code_after(alive, "MORS")
    assert cancelled.code == MedcomCode.AN_MORS
    assert cancelled.event_at == cancelled.recorded_at
    # Deceased false after anything but a death is the ordinary message it says.
    assert medcom.code_after(alive, "STIN").code == MedcomCode.STIN


@pytest.mark.parametrize(
    ("change", "issue_code", "expression"),
    [
        (lambda m: resource(m, "Encounter").update(status="finished"), "invalid", "resource.status"),
        (
            lambda m: resource(m, "Encounter")["class"].update(code="EMER"),
            "invalid",
            "resource.class.code",
        ),
        (lambda m: resource(m, "Encounter")["class"].update(code="AMB"), "code-invalid", "class.code"),
        (
            lambda m: resource(m, "Provenance")["activity"]["coding"][0].update(code="admit-somewhere"),
            "code-invalid",
            "resource.activity",
        ),
        (
            lambda m: m["entry"][0]["resource"]["eventCoding"].update(code="care-communication-message"),
            "code-invalid",
            "eventCoding.code",
        ),
    ],
    ids=["status", "class", "unknown-class", "unknown-activity", "other-message"],
)
def test_codes_that_do_not_go_together_are_refused_as_unprocessable(change, issue_code, expression):
    message = bundle("STIN")
    change(message)
    problem = refused(body(message))
    assert problem.status == 422
    [issue] = problem.issues
    assert issue.code == issue_code
    assert expression in issue.expression


def test_a_death_needs_a_finished_stay():
    message = bundle("MORS")
    resource(message, "Encounter")["status"] = "in-progress"
    assert refused(body(message)).issues[0].code == "invalid"


def test_a_leave_without_its_start_is_refused():
    message = bundle("STOR")
    del resource(message, "Encounter")["extension"]
    problem = refused(body(message))
    assert (problem.status, problem.issues[0].code) == (422, "required")


def test_a_correction_must_name_the_message_it_corrects():
    problem = refused(body(bundle("RE_STIN")))
    assert problem.status == 422
    assert problem.issues[0].expression.endswith(".entity")


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b"[1, 2]", b'"a string"', "Besøg".encode("latin-1"), b'{"a": NaN}', b'{"no": "type"}'],
    ids=["malformed", "array", "string", "latin-1", "nan", "no-resource-type"],
)
def test_a_body_that_is_no_json_object_or_no_resource_is_a_bad_request(raw):
    problem = refused(raw)
    assert problem.status == 400
    assert problem.issues[0].code == "structure"


def test_text_the_database_cannot_keep_is_refused():
    message = bundle("STIN", given_name="Kir\x00sten")
    assert refused(body(message)).status == 400
    deep = {"resourceType": "Bundle", "x": json.loads("[" * 40 + "]" * 40)}
    assert refused(json.dumps(deep).encode()).status == 400


def test_another_resource_than_a_bundle_is_not_supported():
    problem = refused(json.dumps({"resourceType": "Patient"}).encode())
    assert (problem.status, problem.issues[0].code) == (422, "not-supported")


def test_a_resource_a_hospital_notification_does_not_hold_is_refused():
    message = bundle("STIN")
    message["entry"].append({"fullUrl": "urn:uuid:x", "resource": {"resourceType": "Observation"}})
    problem = refused(body(message))
    assert problem.status == 422
    assert problem.issues[0].expression == "Bundle.entry[6].resource.resourceType"


def test_a_missing_mandatory_element_is_named_by_its_path():
    message = bundle("STIN")
    del resource(message, "Encounter")["class"]
    problem = refused(body(message))
    assert problem.status == 422
    assert ("required", "Bundle.entry[2].resource.class") in [(i.code, i.expression) for i in problem.issues]


@pytest.mark.parametrize(
    ("change", "expression"),
    [
        (lambda m: m["entry"].insert(0, m["entry"].pop(1)), "Bundle.entry[0].resource"),
        (lambda m: m["entry"][0]["resource"].update(sender={"reference": "Organization/nobody"}), "sender"),
        (lambda m: resource(m, "Patient").update(identifier=[]), "identifier"),
        (lambda m: resource(m, "Encounter").update(episodeOfCare=[]), "episodeOfCare"),
        (
            lambda m: resource(m, "Provenance").update(target=[{"reference": "MessageHeader/x"}]),
            "Bundle.entry",
        ),
        (lambda m: resource(m, "Organization").update(identifier=[]), "identifier"),
        (lambda m: m.update(type="collection"), "Bundle.type"),
    ],
    ids=["header-first", "sender", "cpr", "episode", "provenance", "sor", "bundle-type"],
)
def test_what_a_hospital_notification_must_hold_is_checked(change, expression):
    message = bundle("STIN")
    change(message)
    problem = refused(body(message))
    assert problem.status == 422
    assert expression in problem.issues[0].expression


def test_a_cpr_number_is_checked_and_never_repeated_in_the_answer():
    message = bundle("STIN", cpr="3213611234")  # no 32nd day
    problem = refused(body(message))
    assert (problem.status, problem.issues[0].code) == (422, "value")
    outcome = json.dumps(medcom.operation_outcome(problem.issues))
    assert "3213611234" not in outcome
    assert "321361" not in str(problem)


def test_the_notice_keeps_cpr_and_name_out_of_its_text():
    notice = medcom.notice_parse(body(bundle("STIN")))
    assert KIRSTEN_CPR not in repr(notice)
    assert "Kirsten" not in repr(notice)


def test_text_that_looks_like_a_cpr_number_is_masked_in_an_outcome():
    outcome = medcom.operation_outcome([medcom.Issue(code="value", diagnostics="got 070761-4285")])
    assert "4285" not in json.dumps(outcome)


def test_the_acknowledgement_is_a_valid_fhir_message_answering_the_message_id():
    message = bundle("STIN")
    notice = medcom.notice_parse(body(message))
    answer = medcom.acknowledgement(notice)
    Bundle.model_validate(answer)
    header = answer["entry"][0]["resource"]
    assert header["eventCoding"]["code"] == "acknowledgement-message"
    assert header["response"] == {"identifier": message_id(message), "code": "ok"}
    assert KIRSTEN_CPR not in json.dumps(answer)
    errors = medcom.acknowledgement(notice, "fatal-error", [medcom.Issue(code="value", diagnostics="x")])
    Bundle.model_validate(errors)
    assert errors["entry"][0]["resource"]["response"]["details"]["reference"].startswith("urn:uuid:")


def test_the_operation_outcome_is_valid_fhir():
    outcome = medcom.operation_outcome(
        [medcom.Issue(code="required", diagnostics="x", expression="Bundle.type")]
    )
    OperationOutcome.model_validate(outcome)
    assert outcome["issue"] == [
        {"severity": "error", "code": "required", "diagnostics": "x", "expression": ["Bundle.type"]}
    ]


@pytest.mark.parametrize("name", medcom.example_names())
def test_every_example_message_is_a_valid_hospital_notification(name):
    now = timezone.now()
    notice = medcom.notice_parse(body(medcom.example_message(name, now=now)))
    assert abs(notice.recorded_at - now) < timedelta(days=3)
    new = medcom.example_message(name, now=now, message_id="a-new-id")
    assert medcom.notice_parse(body(new)).message_id == "a-new-id"


def test_the_examples_include_each_step_of_the_demo():
    assert {
        "kirsten-admission",
        "kirsten-discharge",
        "kirsten-leave-start",
        "kirsten-leave-end",
        "grethe-acute-ambulant",
        "svend-death",
        "svend-death-cancelled",
        "erik-admission",
    } <= set(medcom.example_names())


def test_a_reference_by_full_url_resolves_like_one_by_type_and_id():
    message = bundle("STIN")
    by_url = copy.deepcopy(message)
    sender_entry = next(e for e in by_url["entry"] if e["resource"]["id"].endswith("-sender"))
    by_url["entry"][0]["resource"]["sender"] = {"reference": sender_entry["fullUrl"]}
    assert medcom.notice_parse(body(by_url)).sender_sor == "1001"
