"""Messages between sectors in the plan's FHIR Bundle (pathways.fhir, through extensions.FHIR_CONTRIBUTORS):
each message a Communication shaped like MedCom's CareCommunication (STANDARDS.md §2.3) — category
"carecoordination", the thread's subject as topic, the task it is about, the sender as a PractitionerRole of
the sending organisation, the recipient organisations, and the reply it answers (inResponseTo: the message
before it in the thread). Every reader of the plan sees its threads (coordination.selectors), so every
reader's export carries them."""

from __future__ import annotations

from collections.abc import Mapping

from coordination.choices import MessagePriority
from coordination.models import Message
from pathways.fhir import PlanExport, concept, instant

CATEGORY_SYSTEM = "http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-careCommunication-categoryCodes"
CATEGORY = ("carecoordination", "Care Coordination")
# Communication.priority (RequestPriority, required binding). MedCom marks an urgent message "asap".
PRIORITY: Mapping[str, str] = {MessagePriority.ROUTINE: "routine", MessagePriority.URGENT: "asap"}


def add_messages(export: PlanExport) -> None:
    """Every message of the plan, thread by thread, oldest first (two queries)."""
    messages = (
        Message.objects.filter(plan=export.plan)
        .select_related("thread", "sender", "sender_organisation")
        .prefetch_related("recipients__organisation")
        .order_by("thread__started_at", "thread_id", "sent_at", "id")
    )
    previous: dict[int, dict[str, str]] = {}
    for message in messages:
        thread = message.thread
        about = export.ref(f"task:{thread.task_id}") if thread.task_id is not None else None
        resource = {
            "resourceType": "Communication",
            "id": str(message.public_id),
            "status": "completed",
            "category": [concept(CATEGORY_SYSTEM, *CATEGORY)],
            "priority": PRIORITY[message.priority],
            "subject": export.patient_ref,
            "topic": {"text": thread.subject},
            "about": [about] if about else [],
            "inResponseTo": [previous[thread.pk]] if thread.pk in previous else [],
            "sent": instant(message.sent_at),
            # A message received through MedCom names its author in words only: the organisation sent it.
            "sender": export.practitioner_role(message.sender, message.sender_organisation)
            if message.sender is not None
            else export.organization(message.sender_organisation),
            "recipient": [
                export.organization(recipient.organisation)
                for recipient in sorted(message.recipients.all(), key=lambda r: r.organisation.name)
            ],
            "payload": [{"contentString": message.body}],
        }
        previous[thread.pk] = export.add(f"message:{message.pk}", resource)
