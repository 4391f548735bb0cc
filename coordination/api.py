"""Coordination's part of the integration API (pathways.api's shape and helpers): post a message between
sectors on a plan — a new thread, or a reply in one — as the pages do (coordination.services), with the
same rights, an Idempotency-Key honoured and OpenAPI descriptions."""

from __future__ import annotations

from typing import cast
from uuid import UUID

from django.utils.translation import gettext
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
)
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from coordination import access, carecommunication, selectors, services
from coordination.choices import MessagePriority
from pathways import access as hub_access
from pathways import idempotency
from pathways import selectors as hub_selectors
from pathways.api import (
    FHIR_NOT_SIGNED_IN,
    IDEMPOTENCY_KEY_HEADER,
    MEDCOM_CONTENT_TYPES,
    NO_FORMAT_PARAMETER,
    RETRY_AFTER_HEADER,
    FhirApi,
    FhirMessageOutput,
    MedcomHospitalNotificationApi,
    medcom_responses,
    outcome,
    write_errors,
    written,
)
from pathways.choices import AccessAction
from pathways.models import User


class _RecipientOut(serializers.Serializer[object]):
    organisation = serializers.UUIDField(source="organisation.public_id")
    name = serializers.CharField(source="organisation.name")
    read_at = serializers.DateTimeField(allow_null=True)


class MessageOutput(serializers.Serializer[object]):
    id = serializers.UUIDField(source="public_id")
    thread = serializers.UUIDField(source="thread.public_id")
    plan = serializers.UUIDField(source="plan.public_id")
    subject = serializers.CharField(source="thread.subject")
    task = serializers.UUIDField(source="thread.task.public_id", allow_null=True, default=None)
    sender_organisation = serializers.UUIDField(source="sender_organisation.public_id")
    recipients = _RecipientOut(many=True)
    priority = serializers.CharField()
    body = serializers.CharField()
    sent_at = serializers.DateTimeField()


class MessagePostApi(APIView):
    """Post a message on a plan to organisations taking part in it, for an organisation the caller acts
    for that takes part (the coordinator may also write for the coordinator's organisation). Without
    `thread`: a new thread with `subject`, optionally about one of the plan's tasks; with `thread`: a reply
    in it. Those who work with the plan in the recipient organisations are told there is a message (never
    what it says)."""

    @extend_schema_serializer(
        component_name="MessagePostInput",
        examples=[
            OpenApiExample(
                "A new thread",
                {
                    "subject": "Hjemmebesøg efter udskrivelse",
                    "body": "Kirsten udskrives fredag. Kan I komme lørdag formiddag?",
                    "priority": "routine",
                    "sender_organisation": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
                    "recipients": ["6c2b5f0e-1d1a-4a5e-9f3b-2b0c6a7e8d90"],
                },
            )
        ],
    )
    class Input(serializers.Serializer[object]):
        body = serializers.CharField(max_length=4000)
        priority = serializers.ChoiceField(choices=MessagePriority.choices, default=MessagePriority.ROUTINE)
        sender_organisation = serializers.UUIDField()
        recipients = serializers.ListField(child=serializers.UUIDField(), min_length=1, max_length=50)
        subject = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
        task = serializers.UUIDField(required=False, allow_null=True, default=None)
        thread = serializers.UUIDField(required=False, allow_null=True, default=None)

    @extend_schema(
        request=Input,
        responses={201: MessageOutput, **write_errors()},
        parameters=[IDEMPOTENCY_KEY_HEADER],
        summary="Post a message between sectors on a plan",
    )
    def post(self, request: Request, public_id: UUID) -> Response:
        actor = cast(User, request.user)
        data = self.Input(data=request.data)  # a body that is not valid is refused before anything is read
        data.is_valid(raise_exception=True)
        # Those who take part only: an emergency reader sends nothing (404, as the page refuses them).
        granted = hub_access.access_plan_taking_part(actor, public_id, action=AccessAction.VIEW_MESSAGES)
        values = data.validated_data
        plan = granted.plan
        wanted = {values["sender_organisation"], *values["recipients"]}
        organisations = selectors.organisations_by_public_id(wanted)
        errors: dict[str, list[str]] = {}
        sender = organisations.get(values["sender_organisation"])
        if sender is None:
            errors["sender_organisation"] = [gettext("No such organisation.")]
        if any(public_id not in organisations for public_id in values["recipients"]):
            errors["recipients"] = [gettext("No such organisation.")]
        thread = access.access_thread(granted, values["thread"]) if values["thread"] else None
        task = hub_selectors.plan_task(plan, values["task"]) if values["task"] else None
        if values["task"] and task is None:
            errors["task"] = [gettext("The plan has no such task.")]
        if errors:
            raise exceptions.ValidationError(errors)
        assert sender is not None
        recipients = [organisations[public_id] for public_id in values["recipients"]]

        def write() -> idempotency.Answer:
            if thread is None:
                started = services.thread_start(
                    actor=actor,
                    plan=plan,
                    sender_organisation=sender,
                    recipients=recipients,
                    subject=values["subject"],
                    body=values["body"],
                    priority=values["priority"],
                    task=task,
                )
                message = started.messages.get()
            else:
                message = services.message_send(
                    actor=actor,
                    thread=thread,
                    sender_organisation=sender,
                    recipients=recipients,
                    body=values["body"],
                    priority=values["priority"],
                )
            message = selectors.message_for_api(message.pk)
            return idempotency.Answer(status=201, body=MessageOutput(message).data)

        return written(request, write)


# --- MedCom CareCommunication ---
# Out: one message of a plan as MedCom's CareCommunication message, for a signed-in user who may read the
# plan's messages. In: a CareCommunication from another system, with an integration credential, by the
# rules of the HospitalNotification ingest (pathways.api.MedcomHospitalNotificationApi, whose shape this
# copies: FHIR answers, the body read as sent).


class CareCommunicationApi(FhirApi):
    @extend_schema(
        responses={
            200: OpenApiResponse(
                FhirMessageOutput,
                "The message as a MedCom CareCommunication message Bundle: MessageHeader (its id the "
                "message's id; a reply names the message it answers in Provenance.entity), Communication, "
                "Patient (CPR), the organisations (SOR) and the author. A logged read of the plan's "
                "messages.",
            ),
            **FHIR_NOT_SIGNED_IN,
            404: outcome(
                "No such message in a plan the caller takes part in, or not written to that organisation."
            ),
        },
        parameters=[
            NO_FORMAT_PARAMETER,
            OpenApiParameter(
                "receiver",
                UUID,
                OpenApiParameter.QUERY,
                required=False,
                description="The organisation written to (MedCom has one receiver per message); the first "
                "by name when left out. One it was not written to: 404.",
            ),
        ],
        summary="A message between sectors as a MedCom CareCommunication",
    )
    def get(self, request: Request, public_id: UUID, message_id: UUID) -> Response:
        # What leaves the product goes to those who take part only (as the plan's FHIR export).
        granted = hub_access.access_plan_taking_part(
            cast(User, request.user), public_id, action=AccessAction.VIEW_MESSAGES
        )
        message = access.access_message(granted, message_id)
        receivers = carecommunication.message_receivers(message)
        wanted = request.query_params.get("receiver")
        receiver = next((o for o in receivers if str(o.public_id) == wanted), None) if wanted else None
        if (receiver is None and wanted is not None) or not receivers:
            raise exceptions.NotFound(gettext("The message was not written to that organisation."))
        bundle = carecommunication.message_bundle(
            message, receiver=receiver or receivers[0], answers=selectors.message_answered(message)
        )
        return Response(bundle)


class CareCommunicationReceiveApi(MedcomHospitalNotificationApi):
    """POST a MedCom CareCommunication (FHIR R4 message Bundle: MessageHeader, Communication, Patient,
    Organization, Practitioner, Provenance with activity new-message or reply-message) about a patient with
    an open plan in which the receiver takes part; the answer is MedCom's Acknowledgement. A new message
    starts a thread on the plan; a reply goes into the thread of the message it answers (Provenance.entity:
    MessageHeader/<id> of a message sent from here or received). The same message id again gets the same
    acknowledgement and changes nothing. The sender must be the credential's organisation (SOR). A refused
    message gets an OperationOutcome naming the problem, and nothing is kept."""

    @extend_schema(
        request=dict.fromkeys(MEDCOM_CONTENT_TYPES, FhirMessageOutput),
        responses=medcom_responses(
            "A FHIR resource, but no valid CareCommunication: wrong resource types, missing mandatory "
            "elements, unknown codes, a receiver that is not in Fælles forløb, a patient without an open "
            "plan in which both the sender and the receiver take part, or a reply to a message that is not "
            "there."
        ),
        parameters=[RETRY_AFTER_HEADER, NO_FORMAT_PARAMETER],
        summary="Receive a MedCom CareCommunication (korrespondancemeddelelse)",
    )
    def post(self, request: Request) -> Response:
        return self.receive(request, carecommunication.care_communication_receive)
