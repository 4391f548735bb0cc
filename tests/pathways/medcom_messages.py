"""HospitalNotification messages for the tests (pathways.medcom.notification_bundle with the world's
organisations and patients), posting them, and the sending hospital's credential."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

from django.urls import reverse
from django.utils import timezone

from pathways import ingest, medcom
from pathways.choices import StayClass
from pathways.models import IntegrationCredential, Notification, Organisation, ReceivedMessage, Transition

HOSPITAL = ("1001", "Medicinsk afdeling")  # the world's hospital
MUNICIPALITY = ("2001", "Hjemmesygeplejen Roskilde")  # the world's municipality
KIRSTEN_CPR = "0707614285"  # the world's patient with a plan
NO_PLAN_CPR = "0512431234"  # a citizen the product does not know
URL = reverse("api:medcom-hospital-notification")


def bundle(
    code: str,
    *,
    at: datetime | None = None,
    cpr: str = KIRSTEN_CPR,
    episode: str = "forloeb-1",
    message_id: str | None = None,
    refers_to: str = "",
    admitted_at: datetime | None = None,
    stay_class: str | None = None,
    sender: tuple[str, str] = HOSPITAL,
    receiver: tuple[str, str] = MUNICIPALITY,
    given_name: str = "Kirsten",
    family_name: str = "Testesen",
    **extra: Any,
) -> dict[str, Any]:
    """A message of type `code` about an event at `at` (default: now): the admission's time for STAA and
    STIN, the leave's start or end for STOR and SLOR, the end of the stay for SLHJ and MORS."""
    at = at or timezone.now().replace(microsecond=0)
    base = medcom.base_code(code)
    times: dict[str, Any] = {
        "admitted_at": admitted_at or (at if base in medcom.STARTS else at - timedelta(days=2))
    }
    if base == "STOR":
        times["leave"] = (at, None)
    elif base == "SLOR":
        times["leave"] = (at - timedelta(hours=3), at)
    elif base in ("SLHJ", "MORS") and not code.startswith("AN_"):
        times["ended_at"] = at
    return medcom.notification_bundle(
        code=code,
        message_id=message_id or str(uuid4()),
        sender=sender,
        receiver=receiver,
        cpr=cpr,
        given_name=given_name,
        family_name=family_name,
        episode_id=episode,
        sent_at=at + timedelta(seconds=2),
        stay_class=stay_class or (StayClass.ACUTE_AMBULANT if base == "STAA" else StayClass.INPATIENT),
        refers_to=refers_to,
        **times,
        **extra,
    )


def message_id(message: dict[str, Any]) -> str:
    return str(message["entry"][0]["resource"]["id"])


def body(message: dict[str, Any]) -> bytes:
    return json.dumps(message).encode("utf-8")


@dataclass(frozen=True)
class Sender:
    credential: IntegrationCredential
    key: str

    def receive(self, message: dict[str, Any] | bytes) -> tuple[int, dict[str, Any]]:
        """Through the service, as the endpoint calls it."""
        raw = message if isinstance(message, bytes) else body(message)
        return ingest.medcom_receive(credential=self.credential, body=raw)

    def post(
        self,
        client: Any,
        message: dict[str, Any] | bytes,
        *,
        content_type: str = medcom.FHIR_JSON,
        **headers: Any,
    ) -> Any:
        """Through the endpoint."""
        raw = message if isinstance(message, bytes) else body(message)
        headers.setdefault("HTTP_AUTHORIZATION", f"Bearer {self.key}")
        headers.setdefault("HTTP_ACCEPT", medcom.FHIR_JSON)
        return client.generic("POST", URL, raw, content_type=content_type, **headers)


def sender_for(organisation: Organisation) -> Sender:
    """A new credential of `organisation`'s sending system."""
    credential, key = ingest.credential_issue(actor=None, organisation=organisation, name="EPJ")
    return Sender(credential, key)


def counts() -> dict[str, int]:
    """The rows a refused message must not add."""
    return {
        "messages": ReceivedMessage.objects.count(),
        "transitions": Transition.objects.count(),
        "notifications": Notification.objects.count(),
    }
