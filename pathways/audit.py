"""The two log writers: one for reads of patient data (the access log), one for security events.

Pages, the API, the admin and the services all write through these two functions, so every row has the
same shape and one place decides it. This module imports only the models; `access` and `services` build
on it (docs/architecture.md). The audit trail of changes is written by database triggers, not here.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db.models import Model

from pathways.choices import AccessAction, AccessPurpose, SecurityEventKind
from pathways.models import AccessLog, SecurityEvent, User

security_log = logging.getLogger("faelles_forloeb.security")


@dataclass(frozen=True)
class PatientRead:
    """One patient's data shown to someone: the patient, the plan if any, and the organisation the
    reader acted for (None: an administrator, or a plan seen as its coordinator only)."""

    patient_id: int
    plan_id: int | None = None
    organisation_id: int | None = None


def access_log_write(
    *,
    actor: User,
    reads: Iterable[PatientRead],
    action: AccessAction,
    purpose: AccessPurpose = AccessPurpose.TREATMENT,
    reason: str = "",
) -> None:
    """One access-log row per read, in one INSERT. Rows are only ever inserted (append-only table)."""
    rows = [
        AccessLog(
            actor=actor,
            patient_id=read.patient_id,
            plan_id=read.plan_id,
            organisation_id=read.organisation_id,
            action=action,
            purpose=purpose,
            reason=reason,
        )
        for read in reads
    ]
    if len(rows) == 1:
        # One round trip for the one row of a page about one plan: bulk_create would wrap its INSERT in
        # BEGIN … COMMIT outside a transaction, three round trips on every plan page.
        rows[0].save(force_insert=True)
    else:
        AccessLog.objects.bulk_create(rows)


def portal_read_log_write(
    *,
    reader: Model,
    patient_id: int,
    plan_id: int | None,
    action: AccessAction,
    purpose: AccessPurpose,
) -> None:
    """One access-log row for a read in the portal by the patient or a relative (`reader`: the Patient or
    the relatives app's Relative; the hub knows it only by its content type)."""
    AccessLog.objects.create(
        reader_type=ContentType.objects.get_for_model(reader),
        reader_id=reader.pk,
        patient_id=patient_id,
        plan_id=plan_id,
        action=action,
        purpose=purpose,
    )


@dataclass(frozen=True)
class RequestOrigin:
    """Where a request came from, as a security event records it. Services take this, never a request."""

    ip_address: str | None = None
    user_agent: str = ""
    path: str = ""

    @classmethod
    def of(cls, request: Any) -> RequestOrigin:
        meta = getattr(request, "META", {})
        return cls(
            ip_address=meta.get("REMOTE_ADDR") or None,
            user_agent=str(meta.get("HTTP_USER_AGENT", ""))[:300],
            path=str(getattr(request, "path", ""))[:300],
        )


def security_event_record(
    *,
    kind: SecurityEventKind,
    origin: RequestOrigin | None = None,
    user: User | None = None,
    username: str = "",
    detail: dict[str, Any] | None = None,
) -> SecurityEvent:
    """One row in the security log (and a line in the application log for the operations side)."""
    origin = origin or RequestOrigin()
    event = SecurityEvent.objects.create(
        kind=kind,
        user=user,
        username=(username or (user.get_username() if user else ""))[:150],
        ip_address=origin.ip_address,
        user_agent=origin.user_agent,
        path=origin.path,
        detail=detail or {},
    )
    security_log.info(
        "%s user=%s ip=%s path=%s", kind, event.username or "-", event.ip_address or "-", event.path or "-"
    )
    return event
