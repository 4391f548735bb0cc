"""CareCommunication messages as a hospital's system sends them (tests of the ingest and of the API's
schema)."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from django.utils import timezone

CATEGORY_SYSTEM = "http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-careCommunication-categoryCodes"


def inbound(
    *,
    sender_sor: str,
    receiver_sor: str,
    cpr: str,
    text: str = "Kirsten udskrives i morgen kl. 10. Kan hjemmesygeplejen komme om eftermiddagen?",
    message_id: str = "",
    activity: str = "new-message",
    answers: str = "",
    topic: str = "Udskrivelse",
    priority: str = "routine",
    sent: str = "",
) -> dict[str, Any]:
    """A CareCommunication as a hospital's system sends it (sent now unless told)."""
    sent = sent or timezone.localtime().isoformat()
    ids = {
        name: str(uuid4())
        for name in ("header", "communication", "patient", "sender", "receiver", "author", "prov")
    }
    provenance: dict[str, Any] = {
        "resourceType": "Provenance",
        "id": ids["prov"],
        "target": [{"reference": f"urn:uuid:{ids['header']}"}],
        "occurredDateTime": sent,
        "recorded": sent,
        "activity": {
            "coding": [
                {
                    "system": "http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-messaging-activityCodes",
                    "code": activity,
                }
            ]
        },
        "agent": [{"who": {"reference": f"urn:uuid:{ids['sender']}"}}],
    }
    if answers:
        provenance["entity"] = [{"role": "revision", "what": {"reference": f"MessageHeader/{answers}"}}]
    return {
        "resourceType": "Bundle",
        "id": str(uuid4()),
        "type": "message",
        "timestamp": sent,
        "entry": [
            {
                "fullUrl": f"urn:uuid:{ids['header']}",
                "resource": {
                    "resourceType": "MessageHeader",
                    "id": message_id or ids["header"],
                    "eventCoding": {
                        "system": "http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-messaging-eventCodes",
                        "code": "care-communication-message",
                    },
                    "destination": [
                        {
                            "endpoint": f"https://sor2.sum.dsdn.dk/#id={receiver_sor}",
                            "receiver": {"reference": f"urn:uuid:{ids['receiver']}"},
                        }
                    ],
                    "sender": {"reference": f"urn:uuid:{ids['sender']}"},
                    "source": {"endpoint": f"https://sor2.sum.dsdn.dk/#id={sender_sor}"},
                    "focus": [{"reference": f"urn:uuid:{ids['communication']}"}],
                },
            },
            {
                "fullUrl": f"urn:uuid:{ids['communication']}",
                "resource": {
                    "resourceType": "Communication",
                    "id": ids["communication"],
                    "status": "unknown",
                    "category": [{"coding": [{"system": CATEGORY_SYSTEM, "code": "discharge"}]}],
                    "priority": priority,
                    "subject": {"reference": f"urn:uuid:{ids['patient']}"},
                    "topic": {"text": topic},
                    "payload": [{"contentString": text}],
                    "sent": sent,
                    "sender": {"reference": f"urn:uuid:{ids['author']}"},
                },
            },
            {
                "fullUrl": f"urn:uuid:{ids['patient']}",
                "resource": {
                    "resourceType": "Patient",
                    "id": ids["patient"],
                    "identifier": [{"system": "urn:oid:1.2.208.176.1.2", "value": cpr}],
                },
            },
            *(
                {
                    "fullUrl": f"urn:uuid:{ids[role]}",
                    "resource": {
                        "resourceType": "Organization",
                        "id": ids[role],
                        "identifier": [{"system": "urn:oid:1.2.208.176.1.1", "value": sor}],
                    },
                }
                for role, sor in (("sender", sender_sor), ("receiver", receiver_sor))
            ),
            {
                "fullUrl": f"urn:uuid:{ids['author']}",
                "resource": {
                    "resourceType": "Practitioner",
                    "id": ids["author"],
                    "name": [{"text": "Anne Holm"}],
                },
            },
            {"fullUrl": f"urn:uuid:{ids['prov']}", "resource": provenance},
        ],
    }
