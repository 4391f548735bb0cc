"""The outbox in the admin: read-only, filterable, and failed messages can be sent again."""

from django.urls import reverse
from django.utils import timezone

from pathways import outbox
from pathways.choices import NotificationChannel, NotificationKind, NotificationState
from pathways.models import Notification
from tests.conftest import sign_in


def _failed(world) -> Notification:
    outbox.notify(
        recipient=world.coordinator,
        kind=NotificationKind.TASK_ASSIGNED,
        channel=NotificationChannel.EMAIL,
        plan=world.plan,
        due_at=timezone.now(),
        event="x",
    )
    row = Notification.objects.get(channel=NotificationChannel.EMAIL)
    Notification.objects.filter(pk=row.pk).update(
        state=NotificationState.FAILED, attempts=5, last_error="ConnectionRefusedError"
    )
    return row


def test_the_outbox_lists_failed_messages_by_filter_and_offers_no_change(client, world):
    row = _failed(world)
    sign_in(client, world.admin)
    response = client.get(reverse("admin:pathways_notification_changelist"), {"state__exact": "failed"})
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [row]
    assert b"ConnectionRefusedError" in response.content
    change = client.post(reverse("admin:pathways_notification_change", args=[row.pk]), {"state": "sent"})
    assert change.status_code == 403
    assert Notification.objects.get(pk=row.pk).state == NotificationState.FAILED


def test_an_administrator_sends_failed_messages_again(client, world):
    row = _failed(world)
    sign_in(client, world.admin)
    response = client.post(
        reverse("admin:pathways_notification_changelist"),
        {"action": "retry", "_selected_action": [row.pk]},
    )
    assert response.status_code == 302
    row.refresh_from_db()
    assert (row.state, row.attempts, row.last_error) == (NotificationState.PENDING, 0, "")
