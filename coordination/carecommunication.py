"""MedCom CareCommunication (korrespondancemeddelelse, STANDARDS.md §2.3) in and out of a plan's threads.

Out: `message_bundle(message)` — one message of a thread as MedCom's message Bundle: a MessageHeader (event
care-communication-message, its id the message's public id) from the sending organisation to each
recipient organisation (SOR endpoints), the Communication (category, priority, the thread's subject as
topic, the text as payload), the Patient (CPR), the organisations, the author and a Provenance whose
activity says new message or reply (and, for a reply, which message it answers).

In: `care_communication_receive(credential, body)` — by the rules of the HospitalNotification ingest
(pathways.ingest): the sender must be the credential's organisation; the same message id again gets the
same acknowledgement and changes nothing; a refusal is an OperationOutcome naming the problem and nothing
is written. A new message becomes a new thread on the patient's current plan (the receiver must take part
in it); a reply goes into the thread of the message it answers (one sent from here, or one received). The
people who work with the plan in the receiving organisation are told there is a message, as for any other.
The CPR number is read here and never written into an issue or a log line.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import pydantic
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from fhir.resources.R4B.bundle import Bundle

from coordination.fhir import CATEGORY, CATEGORY_SYSTEM, PRIORITY
from coordination.models import Message, MessageThread, ReceivedCareCommunication
from coordination.services import message_receive
from pathways import medcom
from pathways.cpr import cpr_parse
from pathways.fhir import coding, concept, instant
from pathways.medcom import CPR_SYSTEM, EVENT_SYSTEM, FHIR_ID, SOR_ENDPOINT, SOR_SYSTEM, Issue
from pathways.models import IntegrationCredential, Organisation, PathwayPlan, PlanParticipant

log = logging.getLogger(__name__)

EVENT = "care-communication-message"
CORE = "http://medcomfhir.dk/ig/core/StructureDefinition/"
DATE_EXTENSION = CORE + "medcom-core-datetime-extension"
IDENTIFIER_EXTENSION = CORE + "medcom-core-identifier-extension"
AUTHOR_EXTENSION = CORE + "medcom-core-practitioner-extension"
# MedCom names the author's role in words where the product has no title for them.
_AUTHOR_ROLE = "Sundhedsperson"
ACTIVITY_SYSTEM = medcom.ACTIVITY_SYSTEM
NEW, REPLY = "new-message", "reply-message"
ACTIVITIES = frozenset({NEW, REPLY, "forward-message"})
RESOURCE_TYPES = frozenset(
    {
        "MessageHeader",
        "Communication",
        "Patient",
        "Organization",
        "Practitioner",
        "PractitionerRole",
        "Provenance",
    }
)
PRIORITY_FROM_MEDCOM: Mapping[str, str] = {code: priority for priority, code in PRIORITY.items()}
# What a thread started from a received message is called when the sender gives no topic.
DEFAULT_SUBJECT_LENGTH = 200

Answer = tuple[int, dict[str, Any]]


# --- out -------------------------------------------------------------------------------------------------


def _organization(reference: str, organisation: Organisation) -> dict[str, Any]:
    resource: dict[str, Any] = {"resourceType": "Organization", "id": reference.removeprefix("urn:uuid:")}
    if organisation.sor_code:
        resource["identifier"] = [{"system": SOR_SYSTEM, "value": organisation.sor_code}]
    resource["name"] = organisation.name
    return {"fullUrl": reference, "resource": resource}


def message_receivers(message: Message) -> list[Organisation]:
    """The organisations the message was written to, by name: a CareCommunication goes to one of them."""
    return sorted((r.organisation for r in message.recipients.all()), key=lambda o: (o.name, o.pk))


def message_bundle(message: Message, *, receiver: Organisation, answers: Message | None) -> dict[str, Any]:
    """`message` (with thread, plan__patient, sender, sender_organisation and recipients__organisation
    read) as MedCom's CareCommunication message to `receiver` (MedCom has one receiver per message: one
    Bundle per organisation written to); `answers`: the message before it in the thread.

    Communication.identifier is the thread's (MedCom's thread id); the text is one message segment with
    its date, identifier and author. Priority is left out: MedCom allows it (asap) only for the category
    "regarding referral", and the plan's messages are care coordination."""
    patient = message.plan.patient
    header = f"urn:uuid:{message.public_id}"
    communication, patient_ref, sender_ref, provenance, author, practitioner = (
        f"urn:uuid:{uuid4()}" for _n in range(6)
    )
    recipients = [(f"urn:uuid:{uuid4()}", receiver)]
    moment = instant(message.sent_at)
    author_name = (
        (message.sender.get_full_name() or message.sender.get_username())
        if message.sender
        else message.sender_name
    )
    entries: list[dict[str, Any]] = [
        {
            "fullUrl": header,
            "resource": {
                "resourceType": "MessageHeader",
                "id": str(message.public_id),
                "eventCoding": coding(EVENT_SYSTEM, EVENT),
                "destination": [
                    {"endpoint": f"{SOR_ENDPOINT}{org.sor_code}", "receiver": {"reference": ref}}
                    for ref, org in recipients
                ],
                "sender": {"reference": sender_ref},
                "source": {"endpoint": f"{SOR_ENDPOINT}{message.sender_organisation.sor_code}"},
                "focus": [{"reference": communication}],
            },
        },
        {
            "fullUrl": communication,
            "resource": {
                "resourceType": "Communication",
                "id": communication.removeprefix("urn:uuid:"),
                "status": "unknown",
                "category": [concept(CATEGORY_SYSTEM, *CATEGORY)],
                "identifier": [{"value": f"urn:uuid:{message.thread.public_id}"}],
                "subject": {"reference": patient_ref},
                "topic": {"text": message.thread.subject},
                "payload": [
                    {
                        "extension": [
                            {"url": DATE_EXTENSION, "valueDateTime": moment},
                            {"url": IDENTIFIER_EXTENSION, "valueIdentifier": {"value": header}},
                            {"url": AUTHOR_EXTENSION, "valueReference": {"reference": author}},
                        ],
                        "contentString": message.body,
                    }
                ],
                "sent": moment,
                "sender": {"reference": author},
                "recipient": [{"reference": ref} for ref, _org in recipients],
            },
        },
        {
            "fullUrl": patient_ref,
            "resource": {
                "resourceType": "Patient",
                "id": patient_ref.removeprefix("urn:uuid:"),
                "identifier": [{"system": CPR_SYSTEM, "value": patient.cpr}],
                "name": [
                    {"use": "official", "family": patient.family_name, "given": patient.given_name.split()}
                ],
            },
        },
        _organization(sender_ref, message.sender_organisation),
        *(_organization(ref, org) for ref, org in recipients),
        {
            "fullUrl": author,
            "resource": {
                "resourceType": "PractitionerRole",
                "id": author.removeprefix("urn:uuid:"),
                "practitioner": {"reference": practitioner},
                "organization": {"reference": sender_ref},
                "code": [{"text": (message.sender.title if message.sender else "") or _AUTHOR_ROLE}],
            },
        },
        {
            "fullUrl": practitioner,
            "resource": {
                "resourceType": "Practitioner",
                "id": practitioner.removeprefix("urn:uuid:"),
                "name": [{"text": author_name}],
            },
        },
    ]
    activity = REPLY if answers is not None else NEW
    provenance_resource: dict[str, Any] = {
        "resourceType": "Provenance",
        "id": provenance.removeprefix("urn:uuid:"),
        "target": [{"reference": header}],
        "occurredDateTime": moment,
        "recorded": moment,
        "activity": concept(ACTIVITY_SYSTEM, activity),
        "agent": [{"who": {"reference": sender_ref}}],
    }
    if answers is not None:
        provenance_resource["entity"] = [
            {"role": "revision", "what": {"reference": f"MessageHeader/{_message_id_of(answers)}"}}
        ]
    entries.append({"fullUrl": provenance, "resource": provenance_resource})
    return {
        "resourceType": "Bundle",
        "id": str(uuid4()),
        "type": "message",
        "timestamp": moment,
        "entry": entries,
    }


def _message_id_of(message: Message) -> str:
    """The MedCom message id a message goes by: the sender's for one received, its public id otherwise."""
    received = getattr(message, "received_as", None)
    return received.medcom_message_id if received is not None else str(message.public_id)


# --- in --------------------------------------------------------------------------------------------------


class Refused(Exception):
    def __init__(self, status: int, code: str, diagnostics: str, expression: str = "") -> None:
        super().__init__(f"{code}: {expression}")
        self.status = status
        self.issue = Issue(code=code, diagnostics=diagnostics, expression=expression)


@dataclass(frozen=True)
class Received:
    message_id: str
    sender_sor: str
    receiver_sor: str
    cpr: str = field(repr=False)
    body: str = field(repr=False)
    subject: str
    priority: str
    author: str
    sent_at: datetime
    activity: str
    answers: str
    thread: str = ""  # Communication.identifier: MedCom's thread id (ours: a thread's public id)


def _newest_segment(payload: Any) -> dict[str, Any] | None:
    """The message segment with text that is newest by its date extension (the first without dates)."""
    segments = [p for p in payload if isinstance(p, dict) and str(p.get("contentString", "")).strip()]
    if not segments:
        return None

    def date(segment: dict[str, Any]) -> str:
        return next(
            (
                str(e.get("valueDateTime", ""))
                for e in segment.get("extension", [])
                if e.get("url") == DATE_EXTENSION
            ),
            "",
        )

    dated = [s for s in segments if date(s)]
    return max(dated, key=lambda s: parse_datetime(date(s)) or timezone.now()) if dated else segments[0]


def _name_of(resource: dict[str, Any]) -> str:
    names = resource.get("name") or [{}]
    first = names[0] if isinstance(names, list) and names else {}
    return str(first.get("text") or " ".join([*first.get("given", []), first.get("family", "")])).strip()


def _author_name(
    resources: dict[str, tuple[int, dict[str, Any]]],
    segment: dict[str, Any] | None,
    communication: dict[str, Any],
) -> str:
    """Who wrote the segment: its author extension (a PractitionerRole's practitioner, or a Practitioner),
    else Communication.sender."""
    reference = next(
        (
            str((e.get("valueReference") or {}).get("reference", ""))
            for e in (segment or {}).get("extension", [])
            if e.get("url") == AUTHOR_EXTENSION
        ),
        str((communication.get("sender") or {}).get("reference", "")),
    )
    target = resources.get(reference)
    if target is None:
        return ""
    resource = target[1]
    if resource["resourceType"] == "PractitionerRole":
        practitioner = resources.get(str((resource.get("practitioner") or {}).get("reference", "")))
        return _name_of(practitioner[1]) if practitioner else ""
    return _name_of(resource) if resource["resourceType"] == "Practitioner" else ""


def _entries(data: dict[str, Any]) -> dict[str, tuple[int, dict[str, Any]]]:
    """fullUrl → (index, resource)."""
    found = {}
    for index, entry in enumerate(data["entry"]):
        found[entry.get("fullUrl", "")] = (index, entry["resource"])
    return found


def _one(data: dict[str, Any], kind: str) -> tuple[int, dict[str, Any]]:
    matches = [
        (i, e["resource"]) for i, e in enumerate(data["entry"]) if e["resource"]["resourceType"] == kind
    ]
    if len(matches) != 1:
        raise Refused(
            422, "structure", _("The message must hold exactly one %(kind)s.") % {"kind": kind}, "Bundle"
        )
    return matches[0]


def _sor(resources: dict[str, tuple[int, dict[str, Any]]], reference: Any, where: str) -> str:
    target = resources.get(reference.get("reference", "") if isinstance(reference, dict) else "")
    if target is None or target[1]["resourceType"] != "Organization":
        raise Refused(
            422, "invalid", _("The reference does not point at an Organization in the message."), where
        )
    for identifier in target[1].get("identifier", []):
        if identifier.get("system") == SOR_SYSTEM and identifier.get("value"):
            return str(identifier["value"])
    raise Refused(
        422,
        "required",
        _("The organisation has no SOR identifier."),
        f"Bundle.entry[{target[0]}].resource.identifier",
    )


def _structure(data: dict[str, Any]) -> None:
    if data["resourceType"] != "Bundle" or data.get("type") != "message":
        raise Refused(422, "not-supported", _("The message must be a Bundle of type message."), "Bundle.type")
    entries = data.get("entry")
    if not isinstance(entries, list) or not entries:
        raise Refused(422, "required", _("The Bundle has no entries."), "Bundle.entry")
    for index, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        kind = resource.get("resourceType") if isinstance(resource, dict) else None
        if kind not in RESOURCE_TYPES:
            raise Refused(
                422,
                "not-supported",
                _("A CareCommunication holds no %(kind)s.") % {"kind": str(kind)[:40]},
                f"Bundle.entry[{index}].resource.resourceType",
            )
    try:
        Bundle.model_validate(data)
    except pydantic.ValidationError as error:
        problem = error.errors()[0]
        path = "Bundle" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in problem["loc"])
        raise Refused(422, "structure", str(problem["msg"]), path) from None
    except (KeyError, TypeError, ValueError):
        raise Refused(422, "structure", _("The Bundle is not a valid FHIR R4 Bundle."), "Bundle") from None


def received_parse(body: bytes) -> Received:
    """Read and check a CareCommunication message; Refused names what is wrong (never the CPR number)."""
    try:
        data = medcom.body_json(body)
    except medcom.NoticeRefused as refused:
        issue = refused.issues[0]
        raise Refused(refused.status, issue.code, issue.diagnostics, issue.expression) from None
    _structure(data)
    resources = _entries(data)
    if data["entry"][0]["resource"]["resourceType"] != "MessageHeader":
        raise Refused(422, "structure", _("The first entry must be the MessageHeader."), "Bundle.entry[0]")
    header = data["entry"][0]["resource"]
    event = header.get("eventCoding") or {}
    if (event.get("system"), event.get("code")) != (EVENT_SYSTEM, EVENT):
        raise Refused(
            422,
            "code-invalid",
            _("The message is no CareCommunication (eventCoding care-communication-message)."),
            "Bundle.entry[0].resource.eventCoding",
        )
    message_id = str(header.get("id", ""))
    if not FHIR_ID.fullmatch(message_id):
        raise Refused(422, "required", _("The MessageHeader needs an id."), "Bundle.entry[0].resource.id")
    sender_sor = _sor(resources, header.get("sender"), "Bundle.entry[0].resource.sender")
    destinations = header.get("destination") or []
    if len(destinations) != 1:
        raise Refused(
            422, "structure", _("The message must have one receiver."), "Bundle.entry[0].resource.destination"
        )
    receiver_sor = _sor(resources, destinations[0].get("receiver"), "Bundle.entry[0].resource.destination")
    patient_index, patient = _one(data, "Patient")
    cprs = [i.get("value", "") for i in patient.get("identifier", []) if i.get("system") == CPR_SYSTEM]
    where = f"Bundle.entry[{patient_index}].resource.identifier"
    if len(cprs) != 1:
        raise Refused(422, "required", _("The patient must have one CPR number."), where)
    try:
        cpr = cpr_parse(str(cprs[0])).number
    except ValidationError:  # its message never names the number either
        raise Refused(422, "value", _("The patient's CPR number is not valid."), where) from None
    communication_index, communication = _one(data, "Communication")
    where = f"Bundle.entry[{communication_index}].resource"
    categories = {
        (c.get("system"), c.get("code"))
        for concept_ in communication.get("category", [])
        for c in concept_.get("coding", [])
    }
    if not any(system == CATEGORY_SYSTEM for system, _code in categories):
        raise Refused(
            422, "required", _("The message needs a MedCom CareCommunication category."), f"{where}.category"
        )
    # A reply carries the thread's earlier segments too: the message is the newest segment with text.
    segment = _newest_segment(communication.get("payload", []))
    text = str(segment.get("contentString", "")).strip() if segment else ""
    if not text:
        raise Refused(422, "required", _("The message has no text."), f"{where}.payload")
    if len(text) > Message._meta.get_field("body").max_length:  # type: ignore[operator]
        raise Refused(
            422, "too-long", _("The message text is longer than 4000 characters."), f"{where}.payload"
        )
    priority = PRIORITY_FROM_MEDCOM.get(str(communication.get("priority", "routine")))
    if priority is None:
        raise Refused(422, "code-invalid", _("The priority must be routine or asap."), f"{where}.priority")
    thread_ids = [str(i.get("value", "")) for i in communication.get("identifier", [])]
    sent_at = parse_datetime(str(communication.get("sent", ""))) or timezone.now()
    if timezone.is_naive(sent_at):
        raise Refused(422, "value", _("The time sent needs a time zone."), f"{where}.sent")
    author = _author_name(resources, segment, communication)
    provenance_index, provenance = _one(data, "Provenance")
    activities = {c.get("code") for c in (provenance.get("activity") or {}).get("coding", [])}
    activity = next(iter(activities & ACTIVITIES), "")
    if not activity:
        raise Refused(
            422,
            "code-invalid",
            _("Provenance.activity must be new-message, reply-message or forward-message."),
            f"Bundle.entry[{provenance_index}].resource.activity",
        )
    answers = ""
    if activity == REPLY:
        for entity in provenance.get("entity", []):
            reference = str((entity.get("what") or {}).get("reference", ""))
            if reference.startswith("MessageHeader/"):
                answers = reference.removeprefix("MessageHeader/")
        if not answers:
            raise Refused(
                422,
                "required",
                _("A reply names the message it answers (Provenance.entity.what: MessageHeader/<id>)."),
                f"Bundle.entry[{provenance_index}].resource.entity",
            )
    subject = str((communication.get("topic") or {}).get("text", "")).strip()[:DEFAULT_SUBJECT_LENGTH]
    return Received(
        message_id=message_id,
        sender_sor=sender_sor,
        receiver_sor=receiver_sor,
        cpr=cpr,
        body=text,
        subject=subject,
        priority=priority,
        author=author[:200] or _("Not named"),
        sent_at=sent_at,
        activity=activity,
        answers=answers,
        thread=next((_uuid_or_none(v.removeprefix("urn:uuid:")) for v in thread_ids if v), None) or "",
    )


def _stored(sender: Organisation, message_id: str) -> dict[str, Any] | None:
    found = (
        ReceivedCareCommunication.objects.filter(sender=sender, medcom_message_id=message_id)
        .values_list("acknowledgement", flat=True)
        .first()
    )
    return dict(found) if found is not None else None


def _outcome(refused: Refused) -> Answer:
    return refused.status, medcom.operation_outcome([refused.issue])


def care_communication_receive(*, credential: IntegrationCredential, body: bytes) -> Answer:
    """Receive one CareCommunication sent with `credential`: (HTTP status, the acknowledgement or an
    OperationOutcome)."""
    if credential.revoked_at is not None:
        return _outcome(Refused(401, "login", _("The credential has been revoked.")))
    try:
        received = received_parse(body)
        sender = credential.organisation
        if received.sender_sor != sender.sor_code:
            raise Refused(
                403,
                "forbidden",
                _("The credential belongs to another organisation than the message's sender."),
                "Bundle.entry[0].resource.sender",
            )
        stored = _stored(sender, received.message_id)
        if stored is not None:
            return 200, stored
        if _sent_from_here(received.message_id):
            # A message of ours sent back (its MessageHeader id is our message's): acknowledged, and
            # nothing is added — it is already in its thread.
            return 200, medcom.acknowledgement(received)
        try:
            return 200, _receive(credential=credential, received=received, body=body)
        except IntegrityError:
            stored = _stored(sender, received.message_id)  # the same message, at the same moment
            if stored is None:
                raise
            return 200, stored
    except Refused as refused:
        return _outcome(refused)


@transaction.atomic
def _receive(*, credential: IntegrationCredential, received: Received, body: bytes) -> dict[str, Any]:
    receiver = Organisation.objects.filter(sor_code=received.receiver_sor, is_active=True).first()
    if receiver is None:
        raise Refused(
            422,
            "not-found",
            _("The receiver is not an organisation in Fælles forløb."),
            "Bundle.entry[0].resource.destination",
        )
    sender = credential.organisation
    # Both the sender and the receiver take part in the plan; anything else gets one answer, so that a
    # credential cannot ask which patients have a plan with whom.
    plan = (
        PathwayPlan.objects.open()
        .select_for_update(of=("self",))
        .filter(patient__cpr=received.cpr)
        .filter(Exists(PlanParticipant.objects.filter(plan=OuterRef("pk"), organisation=receiver)))
        .filter(
            Q(coordinator_organisation=sender)
            | Exists(PlanParticipant.objects.filter(plan=OuterRef("pk"), organisation=sender))
        )
        .first()
    )
    if plan is None:
        raise Refused(
            422,
            "not-found",
            _("The patient has no open plan in which both the sender and the receiver take part."),
            "Bundle.entry[0].resource.destination",
        )
    thread = _thread_answered(plan, sender, received)
    message = message_receive(
        plan=plan,
        thread=thread,
        subject=received.subject
        or _("Message from %(organisation)s") % {"organisation": credential.organisation.name},
        sender_organisation=credential.organisation,
        sender_name=received.author,
        receiver=receiver,
        body=received.body,
        priority=received.priority,
        sent_at=received.sent_at,
    )
    acknowledgement = medcom.acknowledgement(received)
    ReceivedCareCommunication.objects.create(
        medcom_message_id=received.message_id,
        sender=credential.organisation,
        receiver=receiver,
        credential=credential,
        message=message,
        body=body.decode("utf-8"),
        acknowledgement=acknowledgement,
    )
    log.info(
        "carecommunication %s from organisation %s into plan %s",
        message.public_id,
        credential.organisation_id,
        plan.pk,
    )
    return acknowledgement


def _thread_answered(plan: PathwayPlan, sender: Organisation, received: Received) -> MessageThread | None:
    """The thread a message goes into: the one of the message a reply answers (sent from here or received),
    else the thread the message names as MedCom's thread id; only a thread of this plan that the sender
    wrote in or was written to. None: a new thread. Refused: a reply to a message that is not there."""
    involved = Q(messages__sender_organisation=sender) | Q(messages__recipients__organisation=sender)
    threads = MessageThread.objects.filter(plan=plan).filter(involved).distinct()
    if received.answers:
        match = Q(
            messages__received_as__sender=sender, messages__received_as__medcom_message_id=received.answers
        )
        own_id = _uuid_or_none(received.answers)
        if own_id is not None:
            match |= Q(messages__public_id=own_id)  # a message sent from here
        answered = threads.filter(match).first()
        if answered is None:
            raise Refused(
                422,
                "not-found",
                _("The message this reply answers is not in the patient's plan."),
                "Bundle.entry[0]",
            )
        return MessageThread.objects.select_for_update().get(pk=answered.pk)
    if received.thread:
        named = threads.filter(public_id=received.thread).first()
        if named is not None:
            return MessageThread.objects.select_for_update().get(pk=named.pk)
    return None


def _sent_from_here(message_id: str) -> bool:
    own_id = _uuid_or_none(message_id)
    return own_id is not None and Message.objects.filter(public_id=own_id).exists()


def _uuid_or_none(value: str) -> str | None:
    try:
        return str(UUID(value))
    except ValueError:
        return None
