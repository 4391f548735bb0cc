"""Writes through the API (issue 17 item 4): a task's status, a new task, a hospital event and a message,
each with the pages' rights, If-Match against a stale version, Idempotency-Key against a change made twice,
and a clear 400 with nothing written for a bad body."""

from __future__ import annotations

import json
import threading
from datetime import date, timedelta
from typing import Any
from uuid import uuid4

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from coordination.models import Message
from pathways import idempotency, selectors, services
from pathways.choices import AccessAction, TaskStatus, TransitionKind
from pathways.models import AccessLog, ApiIdempotencyKey, HospitalStay, Task, Transition


@pytest.fixture
def home_visit(world) -> Task:
    return Task.objects.get(plan=world.plan, title="Hjemmebesøg")


def _client(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _status(client: APIClient, task: Task, status: str, **headers: str) -> Any:
    return client.post(
        reverse("api:task-status", args=[task.public_id]), {"status": status}, format="json", headers=headers
    )


# --- a task's status ---


def test_the_task_organisation_changes_the_status_with_the_version_it_read_and_the_plan_history_shows_it(
    world, home_visit
):
    client = _client(world.home_nurse)
    read = client.get(reverse("api:task-detail", args=[home_visit.public_id]))
    assert read["ETag"] == 'W/"1"'
    response = _status(client, home_visit, "in_progress", **{"If-Match": read["ETag"]})
    assert response.status_code == 200
    assert response.json()["status"] == "in_progress"
    assert response["ETag"] == 'W/"2"'
    home_visit.refresh_from_db()
    assert (home_visit.status, home_visit.version) == (TaskStatus.IN_PROGRESS, 2)
    history = selectors.plan_history(plan=world.plan)
    assert any(
        entry.actor == world.home_nurse and change.after == str(TaskStatus.IN_PROGRESS.label)
        for entry in history
        for change in entry.changes
    ), "the plan's history shows the status change, by whom"
    assert AccessLog.objects.filter(actor=world.home_nurse, action=AccessAction.EDIT_PLAN).count() == 1


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("coordinator", 200),
        ("home_nurse", 200),
        ("hospital_doctor", 403),
        ("gp_doctor", 403),
        ("outsider", 404),
    ],
)
def test_rights_per_role_are_the_pages_rights(world, home_visit, role, expected):
    response = _status(_client(getattr(world, role)), home_visit, "accepted", **{"If-Match": '"1"'})
    assert response.status_code == expected
    home_visit.refresh_from_db()
    assert home_visit.status == (TaskStatus.ACCEPTED if expected == 200 else TaskStatus.REQUESTED)


def test_a_stale_version_is_412_and_changes_nothing(world, home_visit):
    client = _client(world.home_nurse)
    assert _status(client, home_visit, "accepted", **{"If-Match": 'W/"1"'}).status_code == 200
    stale = _status(client, home_visit, "in_progress", **{"If-Match": 'W/"1"'})
    assert stale.status_code == 412
    assert stale["ETag"] == 'W/"2"'
    home_visit.refresh_from_db()
    assert (home_visit.status, home_visit.version) == (TaskStatus.ACCEPTED, 2)


def test_without_or_with_a_malformed_if_match_nothing_changes(world, home_visit):
    client = _client(world.home_nurse)
    assert _status(client, home_visit, "accepted").status_code == 428
    assert _status(client, home_visit, "accepted", **{"If-Match": "yesterday"}).status_code == 400
    home_visit.refresh_from_db()
    assert home_visit.version == 1


def test_bad_bodies_get_field_errors_and_change_nothing(world, home_visit):
    client = _client(world.home_nurse)
    url = reverse("api:task-status", args=[home_visit.public_id])
    bogus = client.post(url, {"status": "bogus"}, format="json", headers={"If-Match": '"1"'})
    assert bogus.status_code == 400
    assert "status" in bogus.json()
    not_json = client.generic(
        "POST", url, "{status", content_type="application/json", headers={"If-Match": '"1"'}
    )
    assert not_json.status_code == 400
    # Cancelled is final: the service refuses the move, by the same words as the page.
    assert _status(client, home_visit, "cancelled", **{"If-Match": '"1"'}).status_code == 200
    reopened = _status(client, home_visit, "requested", **{"If-Match": '"2"'})
    assert reopened.status_code == 400
    assert reopened.json()["non_field_errors"]
    home_visit.refresh_from_db()
    assert (home_visit.status, home_visit.version) == (TaskStatus.CANCELLED, 2)


def test_the_same_idempotency_key_again_gets_the_first_answer_and_changes_nothing_twice(world, home_visit):
    client = _client(world.home_nurse)
    headers = {"If-Match": '"1"', "Idempotency-Key": "retry-after-timeout-1"}
    first = _status(client, home_visit, "in_progress", **headers)
    again = _status(client, home_visit, "in_progress", **headers)
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    home_visit.refresh_from_db()
    assert home_visit.version == 2
    other = _status(client, home_visit, "on_hold", **headers)
    assert other.status_code == 422
    home_visit.refresh_from_db()
    assert (home_visit.status, home_visit.version) == (TaskStatus.IN_PROGRESS, 2)


def test_a_refused_write_keeps_no_key_so_the_corrected_request_may_use_it(world, home_visit):
    client = _client(world.home_nurse)
    key = {"Idempotency-Key": "k-1"}
    assert _status(client, home_visit, "in_progress", **{"If-Match": '"7"'} | key).status_code == 412
    assert not ApiIdempotencyKey.objects.exists()
    assert _status(client, home_visit, "in_progress", **{"If-Match": '"1"'} | key).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_two_requests_with_one_key_at_the_same_moment_make_one_change(world, home_visit):
    """Two clients' retries racing (separate connections, one thread each): one change, one answer given
    twice — the second waits on the key's unique index until the first has committed."""
    barrier = threading.Barrier(2)
    answers: list[tuple[int, Any]] = []

    def send() -> None:
        try:
            client = _client(world.home_nurse)
            barrier.wait(timeout=10)
            response = _status(
                client, home_visit, "completed", **{"If-Match": '"1"', "Idempotency-Key": "same-moment"}
            )
            answers.append((response.status_code, response.json()))
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert [status for status, _body in answers] == [200, 200]
    assert answers[0][1] == answers[1][1]
    home_visit.refresh_from_db()
    assert (home_visit.status, home_visit.version) == (TaskStatus.COMPLETED, 2)


def test_old_keys_are_forgotten_by_the_hourly_job(world, home_visit, settings):
    client = _client(world.home_nurse)
    _status(client, home_visit, "in_progress", **{"If-Match": '"1"', "Idempotency-Key": "old"})
    later = timezone.now() + timedelta(hours=settings.API_IDEMPOTENCY_HOURS, minutes=1)
    assert idempotency.keys_expire(now=later) == 1
    assert not ApiIdempotencyKey.objects.exists()


# --- a new task ---


def _create(client: APIClient, plan: Any, body: dict[str, Any], **headers: str) -> Any:
    return client.post(
        reverse("api:plan-task-create", args=[plan.public_id]), body, format="json", headers=headers
    )


def test_a_sector_adds_a_task_for_itself_once_per_key(world):
    client = _client(world.gp_doctor)
    body = {
        "title": "Medicingennemgang",
        "kind": "medication_review",
        "responsible_organisation": str(world.gp.public_id),
        "window_start": "2026-12-07",
        "due_date": "2026-12-11",
        "description": "Linje 1\nLinje 2 – med æøå",
    }
    first = _create(client, world.plan, body, **{"Idempotency-Key": str(uuid4())})
    assert first.status_code == 201
    assert first["Location"] == reverse("api:task-detail", args=[first.json()["id"]])
    task = Task.objects.get(public_id=first.json()["id"])
    assert (task.window_start, task.due_date) == (date(2026, 12, 7), date(2026, 12, 11))
    assert task.description == "Linje 1\nLinje 2 – med æøå"
    key = {"Idempotency-Key": "same"}
    assert _create(client, world.plan, body, **key).status_code == 201
    assert _create(client, world.plan, body, **key).status_code == 201
    assert Task.objects.filter(plan=world.plan, title="Medicingennemgang").count() == 2


def test_a_new_task_for_another_sector_or_with_bad_fields_is_refused_and_nothing_is_written(world):
    client = _client(world.gp_doctor)
    before = Task.objects.count()
    for_hospital = _create(
        client, world.plan, {"title": "Scanning", "responsible_organisation": str(world.hospital.public_id)}
    )
    assert for_hospital.status_code == 403
    unknown = _create(client, world.plan, {"title": "X", "responsible_organisation": str(uuid4())})
    assert unknown.status_code == 400
    assert "responsible_organisation" in unknown.json()
    backwards = _create(
        client,
        world.plan,
        {
            "title": "X",
            "responsible_organisation": str(world.gp.public_id),
            "window_start": "2026-12-10",
            "due_date": "2026-12-01",
        },
    )
    assert backwards.status_code == 400
    assert "window_start" in backwards.json()  # said by field, as the page's form says it
    missing = _create(client, world.plan, {"responsible_organisation": str(world.gp.public_id)})
    assert missing.status_code == 400
    assert "title" in missing.json()
    assert Task.objects.count() == before


# --- a hospital event ---


def test_a_hospital_taking_part_records_an_admission_once_per_key(world):
    client = _client(world.hospital_doctor)
    url = reverse("api:hospital-event", args=[world.plan.public_id])
    body = {
        "kind": "admission",
        "occurred_at": (timezone.now() - timedelta(hours=2)).isoformat(),
        "hospital": str(world.hospital.public_id),
    }
    first = client.post(url, body, format="json", headers={"Idempotency-Key": "adm-1"})
    again = client.post(url, body, format="json", headers={"Idempotency-Key": "adm-1"})
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json()["kind"] == TransitionKind.ADMISSION
    assert Transition.objects.filter(plan=world.plan).count() == 1
    assert HospitalStay.objects.filter(plan=world.plan).count() == 1
    refused = _client(world.home_nurse).post(url, body, format="json")
    assert refused.status_code == 403
    future = client.post(
        url, body | {"kind": "discharge", "occurred_at": "2999-01-01T00:00:00Z"}, format="json"
    )
    assert future.status_code == 400
    assert Transition.objects.filter(plan=world.plan).count() == 1


# --- a message ---


def test_a_sector_posts_a_message_and_a_reply_once_per_key(world):
    client = _client(world.home_nurse)
    url = reverse("api-coordination:message-post", args=[world.plan.public_id])
    body = {
        "subject": "Udskrivelse",
        "body": "Kan I komme lørdag?",
        "sender_organisation": str(world.municipality.public_id),
        "recipients": [str(world.hospital.public_id)],
    }
    first = client.post(url, body, format="json", headers={"Idempotency-Key": "m-1"})
    assert first.status_code == 201, first.content
    assert client.post(url, body, format="json", headers={"Idempotency-Key": "m-1"}).json() == first.json()
    reply = _client(world.hospital_doctor).post(
        url,
        {
            "thread": first.json()["thread"],
            "body": "Ja, kl. 10.",
            "sender_organisation": str(world.hospital.public_id),
            "recipients": [str(world.municipality.public_id)],
        },
        format="json",
    )
    assert reply.status_code == 201
    assert reply.json()["thread"] == first.json()["thread"]
    assert [m.body for m in Message.objects.filter(plan=world.plan)] == ["Kan I komme lørdag?", "Ja, kl. 10."]
    to_stranger = client.post(url, body | {"recipients": [str(world.unrelated.public_id)]}, format="json")
    assert to_stranger.status_code == 400
    assert "recipients" in json.loads(to_stranger.content)
    assert _client(world.outsider).post(url, body, format="json").status_code == 404
    assert Message.objects.filter(plan=world.plan).count() == 2


# --- an emergency reader (break the glass) reads the plan page; nothing leaves, nothing changes ---


def test_an_emergency_reader_neither_exports_nor_writes_through_the_api(world):
    services.emergency_access_grant(
        actor=world.outsider, organisation=world.unrelated, plan=world.plan, reason="Akut indlagt, bevidstløs"
    )
    client = _client(world.outsider)
    plan = world.plan.public_id
    participants = set(world.plan.participants.values_list("organisation_id", flat=True))
    answers = [
        client.get(reverse("api:plan-fhir", args=[plan])).status_code,
        _create(
            client, world.plan, {"title": "X", "responsible_organisation": str(world.unrelated.public_id)}
        ).status_code,
        client.post(
            reverse("api:hospital-event", args=[plan]),
            {
                "kind": "admission",
                "occurred_at": timezone.now().isoformat(),
                "hospital": str(world.hospital.public_id),
            },
            format="json",
        ).status_code,
        client.post(
            reverse("api-coordination:message-post", args=[plan]),
            {
                "body": "Hej",
                "subject": "Hej",
                "sender_organisation": str(world.unrelated.public_id),
                "recipients": [str(world.hospital.public_id)],
            },
            format="json",
        ).status_code,
    ]
    assert answers == [404, 404, 404, 404]
    assert set(world.plan.participants.values_list("organisation_id", flat=True)) == participants
    assert not Message.objects.exists()
    assert Task.objects.filter(plan=world.plan).count() == 1
