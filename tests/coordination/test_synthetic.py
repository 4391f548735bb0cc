"""The messages' part of the benchmark's synthetic data (seed_synthetic_coordination)."""

import io

import pytest
from django.core.management import call_command

from coordination.models import Message, MessageRecipient, MessageThread
from pathways.models import PlanParticipant


@pytest.mark.django_db
def test_two_in_three_plans_get_a_thread_of_three_messages_between_their_organisations_the_last_unread():
    call_command("seed_synthetic", patients=45, stdout=io.StringIO())
    call_command("seed_synthetic_coordination", stdout=io.StringIO())
    threads = MessageThread.objects.all()
    assert 20 <= threads.count() < 45
    call_command("seed_synthetic_coordination", stdout=io.StringIO())  # nothing more
    assert MessageThread.objects.count() == threads.count()

    for thread in threads[:10]:
        messages = list(Message.objects.filter(thread=thread).order_by("sent_at"))
        assert len(messages) == 3
        assert thread.last_message_at == messages[-1].sent_at
        taking_part = set(
            PlanParticipant.objects.filter(plan=thread.plan).values_list("organisation", flat=True)
        )
        for n, message in enumerate(messages):
            assert message.sender_organisation_id in taking_part
            recipients = MessageRecipient.objects.filter(message=message)
            assert set(recipients.values_list("organisation", flat=True)) == (
                taking_part - {message.sender_organisation_id}
            )
            assert recipients.filter(read_at__isnull=True).exists() == (n == 2)
