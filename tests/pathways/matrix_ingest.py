"""The access matrix's rows for ingest (issue 12) (merged by tests/test_access_matrix.py,
see its PARTS)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.utils import timezone

from pathways import ingest, medcom
from pathways.models import IntegrationCredential, ReceivedMessage

STAFF = ["admin", "coordinator", "hospital_doctor", "home_nurse", "gp_doctor", "outsider"]


def _everyone(status: int, anonymous: int = 302) -> dict[str, int]:
    return dict.fromkeys(STAFF, status) | {"anonymous": anonymous}


ROWS: dict[str, tuple[str | None, dict[str, Any]]] = {
    # Every signed-in user has the list (empty for those whose organisations receive no hospital notices);
    # the home nurse's and the coordinator's municipality has the matrix world's notice.
    "pathways:admissions-without-plan": (None, {"GET": _everyone(200)}),
    # Hospitals' systems post here with an integration key, never a user: a signed-in user has none (401).
    # Other methods are refused before anyone is asked for a key.
    "api:medcom-hospital-notification": (
        None,
        {"GET": _everyone(405, anonymous=405), "POST": _everyone(401, anonymous=401)},
    ),
}
BODIES: dict[str, Callable[[Any], dict[str, Any]]] = {}
CHANGES: set[str] = set()
URL_KINDS: dict[str, Callable[[Any, Any], list[Any]]] = {}
# admin model ("app_model") → (the ADMIN_ROWS_OF name its object URLs use or None, what an
# administrator may do besides reading: a frozenset of "add", "change", "delete")
ADMIN_MODELS: dict[str, tuple[str | None, frozenset[str]]] = {
    # Credentials are issued (the key shown once) and revoked (a list action), never edited or deleted:
    # received messages name the credential they came with.
    "pathways_integrationcredential": ("credential", frozenset({"add"})),
    # Received messages are kept as they came: read-only, for superusers too.
    "pathways_receivedmessage": ("received_message", frozenset()),
}
ADMIN_ADD_BODIES: dict[str, Callable[[Any], dict[str, Any]]] = {
    "pathways_integrationcredential": lambda world: {"organisation": world.hospital.pk, "name": "Matrix EPJ"},
}
ADMIN_ROWS_OF: dict[str, Callable[[Any], Any]] = {
    "credential": lambda world: IntegrationCredential.objects.filter(organisation=world.hospital).first(),
    "received_message": lambda _world: ReceivedMessage.objects.order_by("pk").first(),
}


def build(world: Any) -> None:
    """The hospital's credential and a notice it sent about a citizen without a plan to the municipality."""
    credential, _key = ingest.credential_issue(actor=None, organisation=world.hospital, name="EPJ")
    at = timezone.now() - timedelta(hours=2)
    message = medcom.notification_bundle(
        code="STIN",
        message_id="matrix-stin",
        sender=(world.hospital.sor_code, world.hospital.name),
        receiver=(world.municipality.sor_code, world.municipality.name),
        cpr="0512431234",
        given_name="Erik",
        family_name="Hansen",
        episode_id="matrix-forloeb",
        admitted_at=at,
        sent_at=at,
    )
    status, answer = ingest.medcom_receive(credential=credential, body=json.dumps(message).encode())
    assert status == 200, answer
