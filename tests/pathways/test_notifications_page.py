"""The bell and the list behind it: a staff user's in-app messages, their own only, in plans they may still
see; reading the list is a logged read of patient data; marking read lowers the count."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.http import Http404
from django.urls import reverse
from django.utils import timezone, translation

from pathways import outbox, services
from pathways.choices import AccessAction, NotificationChannel, NotificationKind
from pathways.models import AccessLog, Membership, Notification, PathwayPlan, Task, User
from tests.conftest import sign_in

HTMX = {"HTTP_HX_REQUEST": "true"}
LIST = reverse("pathways:notifications")
READ_ALL = reverse("pathways:notifications-read-all")
CASELOAD = reverse("pathways:caseload")
_BELL = re.compile(r'<span id="ff-bell".*?</span>\s*</a>\s*</span>', re.DOTALL)


def deliver(
    recipient: User,
    plan: PathwayPlan,
    *,
    kind: NotificationKind = NotificationKind.TASK_ASSIGNED,
    task: Task | None = None,
    event: str = "",
) -> Notification:
    """An in-app message as a service writes it, delivered as the worker delivers it."""
    key = outbox.notify(
        recipient=recipient,
        kind=kind,
        channel=NotificationChannel.IN_APP,
        plan=plan,
        task=task,
        due_at=timezone.now(),
        event=event,
    )
    outbox.deliver_due()
    return Notification.objects.get(dedupe_key=key)


def read_url(notification: Notification) -> str:
    return reverse("pathways:notification-read-partial", args=[notification.public_id])


def bell(response) -> str:
    match = _BELL.search(response.content.decode())
    assert match, "no bell on the page"
    return match.group(0)


def unread_on_bell(response) -> int:
    """The number the bell shows (0: none shown), checked against what screen readers are told."""
    html = bell(response)
    shown = re.search(r'data-unread="(\d+)"', html)
    if shown is None:
        assert "sr-only" not in html, "a count for screen readers, but none shown"
        return 0
    count = int(shown.group(1))
    with translation.override("da"):
        words = translation.ngettext(
            "%(counter)s unread notification", "%(counter)s unread notifications", count
        ) % {"counter": count}
    assert f'<span class="sr-only">{words}</span>' in html, "the count is not said in words"
    return count


@pytest.fixture
def coordinator(client, world):
    """The plan's coordinator, signed in. They changed the plan's status themselves, so the world gives
    them no message: every message in these tests is one the test wrote."""
    sign_in(client, world.coordinator)
    return client


@pytest.fixture
def task(world) -> Task:
    return world.plan.tasks.get(title="Hjemmebesøg")


def test_a_delivered_message_shows_in_the_bell_count_and_the_list(coordinator, world, task):
    assert unread_on_bell(coordinator.get(CASELOAD)) == 0
    notification = deliver(world.coordinator, world.plan, task=task)
    assert notification.sent_at is not None

    assert unread_on_bell(coordinator.get(CASELOAD)) == 1
    response = coordinator.get(LIST)
    assert response.status_code == 200
    assert unread_on_bell(response) == 1
    body = response.content.decode()
    with translation.override("da"):
        assert str(NotificationKind.TASK_ASSIGNED.label) in body
    assert "Kirsten Testesen" in body
    assert "Hjemmebesøg" in body
    plan_link = reverse("pathways:plan-detail", args=[world.plan.public_id]) + f"#task-{task.public_id}"
    assert f'href="{plan_link}"' in body
    row = f'id="notification-{notification.public_id}" class="ff-notification ff-notification-unread"'
    assert row in body
    assert read_url(notification) in body


def test_a_message_not_yet_delivered_is_neither_counted_nor_listed(coordinator, world):
    key = outbox.notify(
        recipient=world.coordinator,
        kind=NotificationKind.TASK_OVERDUE,
        channel=NotificationChannel.IN_APP,
        plan=world.plan,
        due_at=timezone.now() + timedelta(days=1),
    )
    notification = Notification.objects.get(dedupe_key=key)
    assert unread_on_bell(coordinator.get(CASELOAD)) == 0
    assert str(notification.public_id) not in coordinator.get(LIST).content.decode()
    assert coordinator.post(read_url(notification)).status_code == 404


def test_the_list_is_newest_first_and_marks_unread_ones(coordinator, world, task):
    older = deliver(world.coordinator, world.plan, kind=NotificationKind.PLAN_STATUS_CHANGED, event="v1")
    newer = deliver(world.coordinator, world.plan, task=task)
    Notification.objects.filter(pk=older.pk).update(due_at=timezone.now() - timedelta(hours=2))
    services.notification_mark_read(actor=world.coordinator, public_id=older.public_id)
    body = coordinator.get(LIST).content.decode()
    assert body.index(str(newer.public_id)) < body.index(str(older.public_id))
    assert f'id="notification-{older.public_id}" class="ff-notification"' in body
    assert read_url(older) not in body  # nothing left to mark


def test_another_users_message_is_not_shown_and_its_read_url_is_404(coordinator, world):
    mine = deliver(world.coordinator, world.plan, event="mine")
    theirs = deliver(world.home_nurse, world.plan, event="theirs")
    body = coordinator.get(LIST).content.decode()
    assert str(mine.public_id) in body
    assert str(theirs.public_id) not in body

    for headers in ({}, HTMX):
        assert coordinator.post(read_url(theirs), **headers).status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None
    # Marking all read touches only the user's own messages.
    coordinator.post(READ_ALL)
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_the_service_refuses_another_users_message(world):
    theirs = deliver(world.home_nurse, world.plan)
    with pytest.raises(Http404):
        services.notification_mark_read(actor=world.coordinator, public_id=theirs.public_id)
    with pytest.raises(Http404):
        services.notification_mark_read(actor=world.coordinator, public_id="not-a-uuid")
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_marking_read_lowers_the_count_and_marking_again_changes_nothing(coordinator, world, task):
    first = deliver(world.coordinator, world.plan, task=task)
    deliver(world.coordinator, world.plan, kind=NotificationKind.PLAN_STATUS_CHANGED, event="v9")
    assert unread_on_bell(coordinator.get(CASELOAD)) == 2

    response = coordinator.post(read_url(first), {"next": LIST})
    assert response.status_code == 302
    assert response["Location"] == LIST
    first.refresh_from_db()
    read_at = first.read_at
    assert read_at is not None
    assert unread_on_bell(coordinator.get(CASELOAD)) == 1

    assert coordinator.post(read_url(first)).status_code == 302
    first.refresh_from_db()
    assert first.read_at == read_at


def test_without_javascript_marking_read_goes_back_to_the_lists_page_and_nowhere_else(coordinator, world):
    notification = deliver(world.coordinator, world.plan)
    for next_url, back_to in (
        (f"{LIST}?page=2", f"{LIST}?page=2"),
        ("https://elsewhere.example/", LIST),
        (CASELOAD, LIST),
        (READ_ALL, LIST),
        ("Besøg hos Kirsten", LIST),  # not a path: Django's redirect() took it for a view name (500)
    ):
        response = coordinator.post(read_url(notification), {"next": next_url})
        assert response.status_code == 302
        assert response["Location"] == back_to, next_url


def test_htmx_gets_the_row_and_the_bell_with_a_trigger(coordinator, world, task):
    notification = deliver(world.coordinator, world.plan, task=task)
    deliver(world.coordinator, world.plan, kind=NotificationKind.PLAN_STATUS_CHANGED, event="v9")

    response = coordinator.post(read_url(notification), **HTMX)
    assert response.status_code == 200
    assert response["HX-Trigger"] == "notifications-changed"
    body = response.content.decode()
    row = f'<li id="notification-{notification.public_id}" class="ff-notification">'
    assert body.lstrip().startswith(row)
    assert read_url(notification) not in body
    assert "Kirsten Testesen" in body
    assert 'hx-swap-oob="innerHTML"' in bell(response)
    assert unread_on_bell(response) == 1


def test_mark_all_read_empties_the_bell(coordinator, world, task):
    for n in range(3):
        deliver(world.coordinator, world.plan, event=f"n{n}")
    assert unread_on_bell(coordinator.get(CASELOAD)) == 3

    response = coordinator.post(READ_ALL, {"page": "1"}, **HTMX)
    assert response.status_code == 200
    assert response["HX-Trigger"] == "notifications-changed"
    assert unread_on_bell(response) == 0
    assert READ_ALL not in response.content.decode()  # nothing left to mark

    response = coordinator.post(READ_ALL)
    assert response.status_code == 302
    assert response["Location"] == LIST
    assert unread_on_bell(coordinator.get(CASELOAD)) == 0


def test_a_message_about_a_plan_the_user_no_longer_sees_is_not_listed(client, world):
    notification = deliver(world.home_nurse, world.plan)
    sign_in(client, world.home_nurse)
    assert unread_on_bell(client.get(CASELOAD)) == 2  # and the world's notice that the plan became active

    Membership.objects.filter(user=world.home_nurse).update(ended_at=timezone.now())
    assert unread_on_bell(client.get(CASELOAD)) == 0
    body = client.get(LIST).content.decode()
    assert str(notification.public_id) not in body
    assert "Kirsten Testesen" not in body
    assert client.post(read_url(notification)).status_code == 404
    notification.refresh_from_db()
    assert notification.read_at is None


def test_the_list_writes_one_access_log_row_per_plan_shown(coordinator, world, task):
    deliver(world.coordinator, world.plan, task=task)
    deliver(world.coordinator, world.plan, kind=NotificationKind.PLAN_STATUS_CHANGED, event="v9")
    before = AccessLog.objects.count()
    coordinator.get(LIST)
    rows = AccessLog.objects.order_by("-id")[: AccessLog.objects.count() - before]
    assert [(r.actor, r.plan, r.patient, r.action, r.organisation) for r in rows] == [
        (world.coordinator, world.plan, world.patient, AccessAction.LIST, world.municipality)
    ]


def test_an_empty_list_logs_nothing(coordinator, world):
    before = AccessLog.objects.count()
    assert coordinator.get(LIST).status_code == 200
    assert AccessLog.objects.count() == before


def test_no_bell_for_anonymous_users_nor_before_the_second_step(client, world):
    body = client.get(reverse("login")).content.decode()
    assert 'id="ff-bell"' not in body
    client.force_login(world.admin)  # an administrator must pass the second step first
    deliver(world.admin, world.plan)
    response = client.get(reverse("pathways:mfa-setup"), follow=True)
    assert response.status_code == 200
    assert 'id="ff-bell"' not in response.content.decode()
