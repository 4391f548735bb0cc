"""Receiving MedCom HospitalNotifications (pathways.ingest and the endpoint): every message type of the
table acting on Kirsten's plan, repeats, order, transfers, citizens without a plan, and every refusal with
its exact status, an OperationOutcome and nothing written."""

from __future__ import annotations

import json
import logging
import threading
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.utils import timezone

from pathways import ingest, selectors, services
from pathways.choices import (
    MedcomCode,
    PlanStatus,
    ReceivedState,
    Sector,
    StayEnd,
    StayStatus,
    TransitionKind,
    TransitionState,
)
from pathways.models import (
    HospitalStay,
    IntegrationCredential,
    Notification,
    Organisation,
    PathwayPlan,
    ReceivedMessage,
    Transition,
)
from tests.conftest import sign_in
from tests.pathways.medcom_messages import (
    KIRSTEN_CPR,
    NO_PLAN_CPR,
    URL,
    Sender,
    body,
    bundle,
    counts,
    message_id,
    sender_for,
)

pytestmark = pytest.mark.django_db
FHIR = "application/fhir+json"


@pytest.fixture
def hospital_sender(world) -> Sender:
    return sender_for(world.hospital)


def hours_ago(hours: float) -> datetime:
    return timezone.now().replace(microsecond=0) - timedelta(hours=hours)


class Story:
    """Messages about one stay of Kirsten's, sent in turn through the service; each must be answered 200."""

    def __init__(self, sender: Sender, episode: str = "forloeb-1") -> None:
        self.sender = sender
        self.episode = episode
        self.ids: dict[str, str] = {}

    def send(self, code: str, hours: float, refers: str = "", **extra: Any) -> ReceivedMessage:
        """`refers`: the name of an earlier message of the story (its code, or the `name` it was given)."""
        name = extra.pop("name", code)
        episode = extra.pop("episode", self.episode)
        refers_to = extra.pop("refers_to", self.ids.get(refers, ""))  # or a message not sent yet
        message = bundle(code, at=hours_ago(hours), episode=episode, refers_to=refers_to, **extra)
        status, answer = self.sender.receive(message)
        assert status == 200, answer
        assert answer["entry"][0]["resource"]["response"] == {"identifier": message_id(message), "code": "ok"}
        self.ids[name] = message_id(message)
        return ReceivedMessage.objects.get(message_id=message_id(message))


def stay() -> HospitalStay:
    return HospitalStay.objects.order_by("-id").first()  # type: ignore[return-value]


def plan_status(world) -> str:
    return PathwayPlan.objects.get(pk=world.plan.pk).status


# --- Every message type -----------------------------------------------------------------------------------

# code → (the messages before it: (code, hours ago, the message it refers to)), its own (hours ago, refers
# to), the stay's status after it, and the kind and state of the transition it made or undid.
K, S = TransitionKind, StayStatus
ON, OFF = TransitionState.APPLIED, TransitionState.CANCELLED
IN = [("STIN", 40, "")]
LEAVE = [*IN, ("STOR", 30, "STIN")]
STORIES: dict[str, tuple[Any, ...]] = {
    "STAA": ([], (40, ""), S.IN_PROGRESS, (K.ADMISSION_ACUTE, ON)),
    "STIN": ([], (40, ""), S.IN_PROGRESS, (K.ADMISSION, ON)),
    "STOR": (IN, (30, "STIN"), S.ON_LEAVE, (K.LEAVE_START, ON)),
    "SLOR": (LEAVE, (20, "STOR"), S.IN_PROGRESS, (K.LEAVE_END, ON)),
    "SLHJ": (IN, (10, "STIN"), S.FINISHED, (K.DISCHARGE, ON)),
    "MORS": (IN, (10, "STIN"), S.FINISHED, (K.DEATH, ON)),
    "RE_STAA": ([("STAA", 40, "")], (41, "STAA"), S.IN_PROGRESS, (K.ADMISSION_ACUTE, ON)),
    "RE_STIN": (IN, (41, "STIN"), S.IN_PROGRESS, (K.ADMISSION, ON)),
    "RE_STOR": (LEAVE, (31, "STOR"), S.ON_LEAVE, (K.LEAVE_START, ON)),
    "RE_SLOR": ([*LEAVE, ("SLOR", 20, "STOR")], (21, "SLOR"), S.IN_PROGRESS, (K.LEAVE_END, ON)),
    "RE_SLHJ": ([*IN, ("SLHJ", 10, "STIN")], (11, "SLHJ"), S.FINISHED, (K.DISCHARGE, ON)),
    "RE_MORS": ([*IN, ("MORS", 10, "STIN")], (11, "MORS"), S.FINISHED, (K.DEATH, ON)),
    "AN_STAA": ([("STAA", 40, "")], (39, "STAA"), S.CANCELLED, (K.ADMISSION_ACUTE, OFF)),
    "AN_STIN": (IN, (39, "STIN"), S.CANCELLED, (K.ADMISSION, OFF)),
    "AN_STOR": (LEAVE, (29, "STOR"), S.IN_PROGRESS, (K.LEAVE_START, OFF)),
    "AN_SLOR": ([*LEAVE, ("SLOR", 20, "STOR")], (19, "SLOR"), S.ON_LEAVE, (K.LEAVE_END, OFF)),
    "AN_SLHJ": ([*IN, ("SLHJ", 10, "STIN")], (9, "SLHJ"), S.IN_PROGRESS, (K.DISCHARGE, OFF)),
    "AN_MORS": ([*IN, ("MORS", 10, "STIN")], (9, "MORS"), S.IN_PROGRESS, (K.DEATH, OFF)),
}


def test_the_stories_cover_every_message_type():
    assert set(STORIES) == set(MedcomCode.values)


@pytest.mark.parametrize("code", list(STORIES))
def test_every_message_type_acts_on_the_plan(world, hospital_sender, code):
    before, (hours, refers), stay_status, (kind, state) = STORIES[code]
    story = Story(hospital_sender)
    for earlier, earlier_hours, earlier_refers in before:
        assert story.send(earlier, earlier_hours, earlier_refers).state == ReceivedState.APPLIED
    extra = {"status": "in-progress"} if code == "AN_MORS" else {}
    received = story.send(code, hours, refers, **extra)
    assert received.code == code
    assert received.state == ReceivedState.APPLIED
    assert received.plan == world.plan
    assert stay().status == stay_status
    affected = Transition.objects.filter(kind=kind).order_by("-id").first()
    assert affected is not None
    assert affected.state == state
    if code.startswith("RE_"):
        assert affected.corrects is not None
        assert affected.corrects.state == TransitionState.CORRECTED
        assert affected.message == received
        assert affected.occurred_at == received.event_at
    if code in ("MORS", "RE_MORS"):
        assert plan_status(world) == PlanStatus.COMPLETED
    else:
        assert plan_status(world) == PlanStatus.ACTIVE
    # The participants are told (the home nurse among them), and the message stays as it came.
    assert Notification.objects.filter(
        plan=world.plan, kind__startswith="patient_"
    ).exists() or code.startswith(("RE_", "AN_"))
    assert json.loads(received.body)["entry"][0]["resource"]["id"] == received.message_id


def test_a_discharge_ends_the_stay_and_tells_the_participants(world, hospital_sender):
    story = Story(hospital_sender)
    story.send("STIN", 40)
    story.send("SLHJ", 2, "STIN")
    ended = stay()
    assert (ended.status, ended.end_reason) == (StayStatus.FINISHED, StayEnd.DISCHARGED)
    assert Notification.objects.addressed_to(world.home_nurse).filter(kind="patient_discharged").exists()


def test_a_cancelled_death_reopens_the_plan(world, hospital_sender):
    story = Story(hospital_sender)
    story.send("STIN", 40)
    assert story.send("MORS", 5, "STIN").code == MedcomCode.MORS
    assert plan_status(world) == PlanStatus.COMPLETED
    cancelled = story.send("AN_MORS", 4, "MORS", status="in-progress")
    assert cancelled.code == MedcomCode.AN_MORS
    assert cancelled.plan == world.plan
    assert plan_status(world) == PlanStatus.ACTIVE
    assert Transition.objects.get(kind=TransitionKind.DEATH).state == TransitionState.CANCELLED


# --- Repeats and order ------------------------------------------------------------------------------------


def test_a_cancellation_that_overtakes_its_discharge_waits_for_it_and_then_undoes_it(world, hospital_sender):
    story = Story(hospital_sender)
    story.send("STIN", 40)
    discharge_id = "slhj-overtaken"
    early = story.send("AN_SLHJ", 1, name="AN_SLHJ", refers_to=discharge_id)
    assert early.state == ReceivedState.HELD
    assert stay().status == StayStatus.IN_PROGRESS
    story.send("SLHJ", 2, message_id=discharge_id)
    # The discharge is applied, then the cancellation that waited for it: she is in hospital after all.
    assert ReceivedMessage.objects.get(pk=early.pk).state == ReceivedState.APPLIED
    assert stay().status == StayStatus.IN_PROGRESS
    assert Transition.objects.get(kind=TransitionKind.DISCHARGE).state == TransitionState.CANCELLED


def test_a_cancelled_death_that_overtakes_the_death_leaves_the_plan_open(world, hospital_sender):
    story = Story(hospital_sender)
    story.send("STIN", 40)
    death_id = "mors-overtaken"
    early = story.send("AN_MORS", 4, name="AN_MORS", refers_to=death_id, status="in-progress")
    assert early.state == ReceivedState.HELD
    story.send("MORS", 5, message_id=death_id)
    early.refresh_from_db()
    assert (early.code, early.state) == (MedcomCode.AN_MORS, ReceivedState.APPLIED)
    assert plan_status(world) == PlanStatus.ACTIVE
    assert Transition.objects.get(kind=TransitionKind.DEATH).state == TransitionState.CANCELLED


def test_a_message_id_longer_than_fhir_allows_is_refused_and_nothing_is_written(world, hospital_sender):
    before = counts()
    status, answer = hospital_sender.receive(bundle("STIN", at=hours_ago(5), message_id="x" * 101))
    assert status == 422
    assert answer["resourceType"] == "OperationOutcome"
    assert counts() == before


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:00:00+01:00"])
def test_an_impossible_time_is_refused_and_nothing_is_written(world, hospital_sender, moment):
    message = bundle("STIN", at=hours_ago(5))
    for entry in message["entry"]:
        if entry["resource"]["resourceType"] == "Encounter":
            entry["resource"]["period"]["start"] = moment
    before = counts()
    status, answer = hospital_sender.receive(message)
    assert status == 422
    assert answer["resourceType"] == "OperationOutcome"
    assert counts() == before


def test_a_repeated_message_gets_the_same_answer_and_changes_nothing(world, hospital_sender):
    message = bundle("STIN", at=hours_ago(5))
    first = hospital_sender.receive(message)
    before = counts()
    again = hospital_sender.receive(message)
    assert again == first
    assert counts() == before


@pytest.mark.django_db(transaction=True)
def test_the_same_message_twice_at_the_same_moment_is_received_once(world, hospital_sender):
    raw = body(bundle("STIN", at=hours_ago(5)))
    answers: list[tuple[int, dict[str, Any]]] = []
    start = threading.Barrier(2)

    def post() -> None:
        try:
            start.wait()
            answers.append(ingest.medcom_receive(credential=hospital_sender.credential, body=raw))
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [status for status, _answer in answers] == [200, 200]
    assert answers[0][1] == answers[1][1]
    assert ReceivedMessage.objects.count() == 1
    assert Transition.objects.count() == 1


def test_a_discharge_before_its_admission_waits_and_is_applied_after_it(world, hospital_sender):
    story = Story(hospital_sender)
    discharge = story.send("SLHJ", 2)
    assert discharge.state == ReceivedState.HELD
    assert discharge.hold_until is not None
    assert not HospitalStay.objects.exists()
    story.send("STIN", 40)
    discharge.refresh_from_db()
    assert discharge.state == ReceivedState.APPLIED
    assert stay().status == StayStatus.FINISHED
    kinds = list(Transition.objects.order_by("occurred_at").values_list("kind", flat=True))
    assert kinds == [TransitionKind.ADMISSION, TransitionKind.DISCHARGE]


def test_held_leave_and_discharge_follow_their_admission_in_event_time_order(world, hospital_sender):
    story = Story(hospital_sender)
    story.send("SLHJ", 2)
    story.send("SLOR", 20)
    story.send("STOR", 30)
    assert set(ReceivedMessage.objects.values_list("state", flat=True)) == {ReceivedState.HELD}
    story.send("STIN", 40)
    assert set(ReceivedMessage.objects.values_list("state", flat=True)) == {ReceivedState.APPLIED}
    kinds = list(Transition.objects.order_by("occurred_at").values_list("kind", flat=True))
    assert kinds == ["admission", "leave_start", "leave_end", "discharge"]
    assert stay().status == StayStatus.FINISHED


def test_a_discharge_whose_admission_never_comes_is_applied_on_its_own_when_the_wait_is_over(
    world, hospital_sender, settings
):
    story = Story(hospital_sender)
    admitted = hours_ago(50)
    discharge = story.send("SLHJ", 2, admitted_at=admitted)
    assert ingest.medcom_release_held() == 0  # still waiting
    later = timezone.now() + timedelta(minutes=settings.MEDCOM_HOLD_MINUTES + 1)
    assert ingest.medcom_release_held(now=later) == 1
    discharge.refresh_from_db()
    assert discharge.state == ReceivedState.APPLIED
    ended = stay()
    assert (ended.status, ended.end_reason) == (StayStatus.FINISHED, StayEnd.DISCHARGED)
    assert ended.started_at == admitted  # the stay the message describes
    assert ingest.medcom_release_held(now=later) == 0  # once


def test_an_admission_arriving_after_its_discharge_was_applied_changes_nothing(world, hospital_sender):
    story = Story(hospital_sender)
    story.send("SLHJ", 2, admitted_at=hours_ago(50))
    ingest.medcom_release_held(now=timezone.now() + timedelta(hours=1))
    late = story.send("STIN", 50)
    assert late.state == ReceivedState.NOTED
    assert not HospitalStay.objects.filter(status__in=[StayStatus.IN_PROGRESS, StayStatus.ON_LEAVE]).exists()


def test_a_late_leave_end_after_a_newer_leave_start_is_only_noted(world, hospital_sender):
    story = Story(hospital_sender)
    story.send("STIN", 40)
    story.send("STOR", 30, "STIN")
    story.send("SLOR", 20, "STOR", name="first-end")
    story.send("STOR", 10, "STIN", name="second-leave")
    late = story.send("SLOR", 21, "STOR", name="late-end")
    assert late.state == ReceivedState.NOTED
    assert stay().status == StayStatus.ON_LEAVE


def test_a_transfer_is_a_new_admission_from_the_receiving_hospital_without_a_discharge(
    world, hospital_sender
):
    other_hospital = Organisation.objects.create(
        name="Hvidovre Hospital", sector=Sector.HOSPITAL, sor_code="1002"
    )
    credential, key = ingest.credential_issue(actor=None, organisation=other_hospital, name="EPJ Hvidovre")
    Story(hospital_sender).send("STIN", 40)
    Story(Sender(credential, key), episode="forloeb-hvidovre").send(
        "STIN", 20, sender=("1002", "Hvidovre Hospital")
    )
    first, second = HospitalStay.objects.order_by("started_at")
    assert (first.status, first.end_reason) == (StayStatus.FINISHED, StayEnd.TRANSFERRED)
    assert (second.status, second.hospital) == (StayStatus.IN_PROGRESS, other_hospital)
    # The receiving hospital's discharge ends its stay; nothing is left open.
    Story(Sender(credential, key), episode="forloeb-hvidovre").send(
        "SLHJ", 2, sender=("1002", "Hvidovre Hospital")
    )
    assert not HospitalStay.objects.filter(status__in=[StayStatus.IN_PROGRESS, StayStatus.ON_LEAVE]).exists()


def test_acute_ambulant_care_that_becomes_an_admission_sends_no_end_message(world, hospital_sender):
    story = Story(hospital_sender)
    story.send("STAA", 40)
    story.send("STIN", 35, "STAA")
    acute, admitted = HospitalStay.objects.order_by("started_at")
    assert (acute.status, acute.end_reason) == (StayStatus.FINISHED, StayEnd.CONVERTED)
    assert admitted.status == StayStatus.IN_PROGRESS
    story.send("SLHJ", 2, "STIN")
    assert not HospitalStay.objects.filter(status__in=[StayStatus.IN_PROGRESS, StayStatus.ON_LEAVE]).exists()


def test_a_cancellation_of_something_never_applied_is_only_noted(world, hospital_sender):
    before = Transition.objects.count()
    status, _answer = hospital_sender.receive(bundle("AN_STIN", at=hours_ago(3), refers_to="never-received"))
    assert status == 200
    # It waits for the message it cancels (which may only be late), then, alone, has nothing to undo.
    assert ReceivedMessage.objects.get().state == ReceivedState.HELD
    after_the_wait = timezone.now() + timedelta(minutes=settings.MEDCOM_HOLD_MINUTES + 1)
    ingest.medcom_release_held(now=after_the_wait)
    assert ReceivedMessage.objects.get().state == ReceivedState.NOTED
    assert Transition.objects.count() == before


def test_a_correction_of_something_never_received_is_applied_as_the_event(world, hospital_sender):
    status, _answer = hospital_sender.receive(bundle("RE_STIN", at=hours_ago(20), refers_to="never-received"))
    assert status == 200
    assert ReceivedMessage.objects.get().state == ReceivedState.HELD
    ingest.medcom_release_held(now=timezone.now() + timedelta(minutes=settings.MEDCOM_HOLD_MINUTES + 1))
    assert ReceivedMessage.objects.get().state == ReceivedState.APPLIED
    assert stay().status == StayStatus.IN_PROGRESS
    assert Transition.objects.get().kind == TransitionKind.ADMISSION


def test_a_correction_of_a_held_message_waits_with_it(world, hospital_sender):
    story = Story(hospital_sender)
    story.send("SLHJ", 3)
    correction = story.send("RE_SLHJ", 2, "SLHJ")
    assert correction.state == ReceivedState.HELD
    story.send("STIN", 40)
    correction.refresh_from_db()
    assert correction.state == ReceivedState.APPLIED
    assert stay().ended_at == correction.event_at


# --- Citizens without a plan ------------------------------------------------------------------------------


def test_a_citizen_the_product_does_not_know_is_acknowledged_and_listed_for_the_receiver(
    world, hospital_sender
):
    message = bundle("STIN", at=hours_ago(3), cpr=NO_PLAN_CPR, given_name="Erik", family_name="Hansen")
    status, answer = hospital_sender.receive(message)
    assert status == 200
    assert answer["entry"][0]["resource"]["response"]["code"] == "ok"
    received = ReceivedMessage.objects.get()
    assert received.state == ReceivedState.NO_PLAN
    assert (received.patient, received.plan) == (None, None)
    assert received.citizen_key == ingest.citizen_key(NO_PLAN_CPR) != NO_PLAN_CPR
    assert received.citizen_name == "Erik Hansen"
    assert received.citizen_birth_date == date(1943, 12, 5)
    assert received.receiver == world.municipality
    assert list(selectors.admissions_without_plan_for(world.home_nurse)) == [received]
    assert list(selectors.admissions_without_plan_for(world.outsider)) == []
    assert not Transition.objects.exists()


def test_a_patient_without_a_current_plan_is_listed_like_a_citizen_the_product_does_not_know(
    world, hospital_sender
):
    patient = services.patient_create(
        cpr=NO_PLAN_CPR, given_name="Erik", family_name="Hansen", home_municipality="265"
    )
    hospital_sender.receive(bundle("STIN", at=hours_ago(3), cpr=NO_PLAN_CPR))
    received = ReceivedMessage.objects.get()
    assert (received.state, received.patient, received.plan) == (ReceivedState.NO_PLAN, patient, None)


# --- Refusals: exact status, an OperationOutcome, nothing written ------------------------------------------


def refusal(response, status: int, issue_code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/fhir+json")
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["severity"] == "error"
    assert outcome["issue"][0]["code"] == issue_code
    assert outcome["issue"][0]["diagnostics"]
    return outcome


def too_large() -> bytes:
    message = bundle("STIN")
    message["entry"][1]["resource"]["text"] = {
        "status": "generated",
        "div": "<div>" + "x" * 300_000 + "</div>",
    }
    return body(message)


def wrong_resource_type() -> bytes:
    message = bundle("STIN")
    message["entry"][1]["resource"] = {"resourceType": "Observation", "status": "final"}
    return body(message)


def missing_element() -> bytes:
    message = bundle("STIN")
    del message["entry"][2]["resource"]["status"]
    return body(message)


def replaced(old: bytes, new: bytes) -> bytes:
    return body(bundle("STIN")).replace(old, new)


def from_sender(sender: tuple[str, str]) -> bytes:
    return body(bundle("STIN", sender=sender))


REFUSALS = [
    # (case, body, extra request arguments, status, issue code)
    ("malformed-json", lambda: b'{"resourceType": "Bundle", ', {}, 400, "structure"),
    ("json-array", lambda: b"[]", {}, 400, "structure"),
    ("wrong-resource-types", wrong_resource_type, {}, 422, "not-supported"),
    ("not-a-bundle", lambda: b'{"resourceType": "Patient"}', {}, 422, "not-supported"),
    ("missing-mandatory-element", missing_element, {}, 422, "required"),
    ("unknown-activity", lambda: replaced(b'"admit-inpatient"', b'"admit-x"'), {}, 422, "code-invalid"),
    ("inconsistent-codes", lambda: replaced(b'"in-progress"', b'"finished"'), {}, 422, "invalid"),
    ("unknown-receiver", lambda: body(bundle("STIN", receiver=("9999", "Nowhere"))), {}, 422, "not-found"),
    ("oversized", too_large, {}, 413, "too-long"),
    ("plain-text", lambda: body(bundle("STIN")), {"content_type": "text/plain"}, 415, "not-supported"),
    ("xml", lambda: body(bundle("STIN")), {"content_type": "application/fhir+xml"}, 415, "not-supported"),
    ("no-key", lambda: body(bundle("STIN")), {"HTTP_AUTHORIZATION": ""}, 401, "login"),
    ("wrong-key", lambda: body(bundle("STIN")), {"HTTP_AUTHORIZATION": "Bearer ffm_not-a-key"}, 401, "login"),
    ("malformed-key", lambda: body(bundle("STIN")), {"HTTP_AUTHORIZATION": "Bearer a b"}, 401, "login"),
    ("token-not-bearer", lambda: body(bundle("STIN")), {"HTTP_AUTHORIZATION": "Token abc"}, 401, "login"),
    ("another-organisations-message", lambda: from_sender(("3001", "Lægerne")), {}, 403, "forbidden"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "make", "extra", "status", "issue_code"), REFUSALS, ids=[r[0] for r in REFUSALS]
)
def test_a_refused_message_gets_its_status_and_an_operation_outcome_and_nothing_is_written(
    client, world, hospital_sender, case, make, extra, status, issue_code
):
    before = counts()
    response = hospital_sender.post(client, make(), **extra)
    refusal(response, status, issue_code)
    assert counts() == before
    assert KIRSTEN_CPR not in response.content.decode()
    if status == 401:
        assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_revoked_key_is_refused(client, world, hospital_sender):
    ingest.credential_revoke(actor=None, credential=hospital_sender.credential)
    before = counts()
    refusal(hospital_sender.post(client, bundle("STIN")), 401, "login")
    assert counts() == before


def test_a_signed_in_user_is_no_sending_system(client, world):
    sign_in(client, world.coordinator)
    before = counts()
    response = client.post(URL, body(bundle("STIN")), content_type=FHIR, HTTP_ACCEPT=FHIR)
    refusal(response, 401, "login")
    assert counts() == before


def test_the_endpoint_takes_posts_only(client, world, hospital_sender):
    response = client.get(URL, HTTP_AUTHORIZATION=f"Bearer {hospital_sender.key}", HTTP_ACCEPT=FHIR)
    refusal(response, 405, "not-supported")


def test_an_accepted_message_is_answered_with_a_fhir_acknowledgement(client, world, hospital_sender):
    message = bundle("STIN", at=hours_ago(2))
    response = hospital_sender.post(client, message, content_type="application/json")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/fhir+json")  # as asked (Accept)
    plain = hospital_sender.post(client, message, HTTP_ACCEPT="application/json")
    assert plain["Content-Type"].startswith("application/json")
    assert plain.json() == response.json()
    answer = response.json()
    assert answer["type"] == "message"
    assert answer["entry"][0]["resource"]["response"] == {"identifier": message_id(message), "code": "ok"}
    received = ReceivedMessage.objects.get()
    assert received.acknowledgement == answer
    assert received.body == body(message).decode()
    hospital_sender.credential.refresh_from_db()
    assert hospital_sender.credential.last_used_at is not None


def test_the_cpr_number_is_in_no_log_line(client, world, hospital_sender, caplog):
    caplog.set_level(logging.DEBUG)
    hospital_sender.post(client, bundle("STIN", at=hours_ago(2)))
    hospital_sender.post(client, bundle("SLHJ", at=hours_ago(1), cpr=NO_PLAN_CPR))
    hospital_sender.post(client, body(bundle("STIN", cpr="3213611234")))
    hospital_sender.post(client, bundle("STIN", sender=("3001", "x")))
    text = caplog.text
    for number in (KIRSTEN_CPR, NO_PLAN_CPR, "3213611234"):
        assert number not in text
        assert number[:6] + "-" + number[6:] not in text


# --- Credentials and pruning ------------------------------------------------------------------------------


def test_a_credential_keeps_only_a_hash_of_its_key_which_is_shown_once(world):
    credential, key = ingest.credential_issue(actor=world.admin, organisation=world.hospital, name="EPJ")
    stored = IntegrationCredential.objects.get(pk=credential.pk)
    assert key.startswith("ffm_")
    assert len(key) > 40
    assert key not in {stored.key_hash, stored.key_prefix}
    assert key.startswith(stored.key_prefix)
    assert ingest.credential_authenticate(key) == stored
    assert ingest.credential_authenticate(key + "x") is None
    revoked = ingest.credential_revoke(actor=world.admin, credential=stored)
    assert revoked.revoked_at is not None
    assert ingest.credential_revoke(actor=world.admin, credential=stored).revoked_at == revoked.revoked_at
    assert ingest.credential_authenticate(key) is None


def test_only_administrators_issue_and_revoke_credentials(world):
    with pytest.raises(PermissionDenied):
        ingest.credential_issue(actor=world.coordinator, organisation=world.municipality, name="x")
    credential, _key = ingest.credential_issue(actor=None, organisation=world.hospital, name="EPJ")
    with pytest.raises(PermissionDenied):
        ingest.credential_revoke(actor=world.hospital_doctor, credential=credential)
    assert not IntegrationCredential.objects.filter(name="x").exists()


def test_notices_about_citizens_without_a_plan_are_pruned_after_the_keeping_time(
    world, hospital_sender, settings
):
    hospital_sender.receive(bundle("STIN", at=hours_ago(3), cpr=NO_PLAN_CPR))
    Story(hospital_sender).send("STIN", 3)
    old = timezone.now() - timedelta(days=settings.MEDCOM_NO_PLAN_KEEP_DAYS + 1)
    ReceivedMessage.objects.update(received_at=old)
    recent = bundle("STAA", at=hours_ago(2), cpr=NO_PLAN_CPR, episode="forloeb-2")
    hospital_sender.receive(recent)
    assert ingest.medcom_prune() == 1
    remaining = sorted(ReceivedMessage.objects.values_list("state", "code"))
    assert remaining == [(ReceivedState.APPLIED, "STIN"), (ReceivedState.NO_PLAN, "STAA")]
    assert ingest.medcom_prune() == 0
