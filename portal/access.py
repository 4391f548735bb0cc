"""Who may read what in the portal: the one place a portal request becomes patient data.

A portal session (portal.models.PortalSession, its own cookie) holds readers fixed at sign-in: the patient
and/or relatives. Every request asks again:
- the session is open and was used within settings.PORTAL_SESSION_IDLE (else it ends now);
- a relative is still on the plan, their sessions were not ended after this one began
  (`Relative.sessions_ended_at`), and `relatives.access.relative_scope` — the relatives app's one rule —
  lets them see the whole plan or its appointments; anything else is not a reader;
- the plan is one the patient may see (not a draft, not revoked).
A plan the session may not open is 404, the same as one that does not exist. Every plan opened is one
access-log row for the patient (pathways.audit.portal_read_log_write).
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from django.conf import settings
from django.db.models import QuerySet
from django.http import Http404, HttpRequest
from django.utils import timezone

from pathways.audit import portal_read_log_write
from pathways.choices import AccessAction, AccessPurpose, PlanStatus
from pathways.models import PathwayPlan, Patient
from portal.choices import ReaderRole, SessionEnd
from portal.models import PortalSession, secret_hash
from relatives.access import relative_scope
from relatives.choices import SEEING_SCOPES, ConsentScope
from relatives.models import Relative

# The plans the portal shows: an agreed plan, running, paused or finished; never a draft or a revoked one.
PORTAL_PLAN_STATUSES = (PlanStatus.ACTIVE, PlanStatus.ON_HOLD, PlanStatus.COMPLETED)


@dataclass(frozen=True)
class PortalReader:
    """One plan a portal session may open, and as whom: the patient (sees everything the portal shows) or
    a relative (sees their consent scope: WHOLE_PLAN or APPOINTMENTS)."""

    plan: PathwayPlan
    role: ReaderRole
    scope: ConsentScope
    relative: Relative | None = None

    @property
    def reader(self) -> Patient | Relative:
        return self.relative if self.relative is not None else self.plan.patient

    @property
    def sees_whole_plan(self) -> bool:
        return self.scope == ConsentScope.WHOLE_PLAN


def session_from_request(request: HttpRequest) -> PortalSession | None:
    """The open portal session of the request's portal cookie, or None. A session idle for longer than
    settings.PORTAL_SESSION_IDLE is ended here (end_reason IDLE); a live one is marked as used now."""
    key = request.COOKIES.get(settings.PORTAL_SESSION_COOKIE, "")
    if not key or len(key) > 200:
        return None
    session = PortalSession.objects.open().filter(key_hash=secret_hash(key)).first()
    if session is None:
        return None
    now = timezone.now()
    if session.idle_until <= now:
        PortalSession.objects.filter(pk=session.pk, ended_at__isnull=True).update(
            ended_at=now, end_reason=SessionEnd.IDLE
        )
        return None
    PortalSession.objects.filter(pk=session.pk).update(last_seen_at=now)
    session.last_seen_at = now
    return session


def _portal_plans() -> QuerySet[PathwayPlan]:
    return PathwayPlan.objects.filter(status__in=PORTAL_PLAN_STATUSES).select_related("patient")


def readers_of(session: PortalSession, *, plan_public_id: UUID | None = None) -> list[PortalReader]:
    """Every plan the session may open now (or only the plan `plan_public_id`), the patient's own first,
    then as each relative."""
    readers: list[PortalReader] = []
    plans = _portal_plans()
    if plan_public_id is not None:
        plans = plans.filter(public_id=plan_public_id)
    if session.patient_id is not None:
        own = plans.filter(patient_id=session.patient_id).order_by("-created_at")
        readers += [
            PortalReader(plan=plan, role=ReaderRole.PATIENT, scope=ConsentScope.WHOLE_PLAN) for plan in own
        ]
    relatives = session.relatives.filter(
        ended_at__isnull=True, is_child=False, plan__in=plans
    ).select_related("plan__patient")
    for relative in relatives:
        if relative.sessions_ended_at is not None and relative.sessions_ended_at >= session.started_at:
            continue
        scope = relative_scope(relative)
        if scope in SEEING_SCOPES:
            readers.append(
                PortalReader(
                    plan=relative.plan, role=ReaderRole.RELATIVE, scope=ConsentScope(scope), relative=relative
                )
            )
    return readers


def access_portal_plan(session: PortalSession, public_id: UUID, *, action: AccessAction) -> PortalReader:
    """The plan `public_id` as this session may read it, the read logged for the patient; 404 when the
    session may not (missing and forbidden alike). The patient's own reading wins over a relative's."""
    matches = readers_of(session, plan_public_id=public_id)
    if not matches:
        raise Http404
    reader = matches[0]
    portal_read_log_write(
        reader=reader.reader,
        patient_id=reader.plan.patient_id,
        plan_id=reader.plan.pk,
        action=action,
        purpose=AccessPurpose.OWN_DATA
        if reader.role == ReaderRole.PATIENT
        else AccessPurpose.RELATIVE_CONSENT,
    )
    return reader
