"""Who may read what in the portal: the one place a portal request becomes patient data.

A portal session (portal.models.PortalSession, its own cookie) holds readers fixed at sign-in: the patient
and/or relatives. Every request asks again:
- the session is open, was used within settings.PORTAL_SESSION_IDLE and began within
  settings.PORTAL_SESSION_ABSOLUTE (else it ends now);
- a relative is still on the plan, their sessions were not ended after this one began
  (`Relative.sessions_ended_at`), and the relatives app's one rule (`relatives.access.scope_of`, as
  `relative_scope` asks it, for all the session's relatives at once) lets them see the whole plan or its
  appointments; anything else is not a reader;
- the plan is one the patient may see (not a draft, not revoked).
A plan the session may not open is 404, the same as one that does not exist. Every plan opened is one
access-log row for the patient (pathways.audit.portal_read_log_write), and so is every patient the chooser
names (portal_list_log_write); a HEAD request, which shows nothing, writes none.

A printed plan (issue 15, the section "documents" below) is the reader's within the same rules and their
consent scope; opening its PDF is a read of the plan (AccessAction.PORTAL_DOCUMENT).

A questionnaire (issue 16, the section "questionnaires" below) is only ever its own person's: the patient's
(sent to the patient) or one relative's (about themselves) — never a relative's to see of the patient's, nor
the patient's of a relative's. Opening one to answer it is logged (AccessAction.PORTAL_QUESTIONNAIRE).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404, HttpRequest
from django.utils import timezone

from pathways.audit import portal_read_log_write
from pathways.choices import (
    DOCUMENT_PATIENT_KINDS,
    AccessAction,
    AccessPurpose,
    DocumentContent,
    DocumentState,
    PlanStatus,
)
from pathways.models import PathwayPlan, Patient, PlanDocument
from portal.choices import ReaderRole, SessionEnd
from portal.models import PortalSession, secret_hash
from quality.choices import RequestState
from quality.models import QuestionnaireRequest
from relatives.access import latest_consents, scope_of
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
    settings.PORTAL_SESSION_IDLE, or begun more than settings.PORTAL_SESSION_ABSOLUTE ago, is ended here
    (portal_session_touch); a live one is marked as used now."""
    key = request.COOKIES.get(settings.PORTAL_SESSION_COOKIE, "")
    if not key or len(key) > 200:
        return None
    session = PortalSession.objects.open().filter(key_hash=secret_hash(key)).first()
    if session is None:
        return None
    return portal_session_touch(session=session, now=timezone.now())


# A write in the access layer: portal.signin holds the other session writes (start, sign-out), but it sits
# above access in the layers (pyproject.toml, portal-layers), and session_from_request — which every portal
# request asks — must end or touch the session as it reads it.
def portal_session_touch(*, session: PortalSession, now: datetime) -> PortalSession | None:
    """End `session` when its time is up — idle too long (IDLE) or open too long (EXPIRED), whichever came
    first — and return None; else mark it used `now` and return it. Each is one conditional UPDATE of an
    open session: one ended meanwhile (signed out in another tab) stays as it ended, and is None here."""
    still_open = PortalSession.objects.filter(pk=session.pk, ended_at__isnull=True)
    ends_at, reason = min(
        (session.idle_until, SessionEnd.IDLE),
        (session.started_at + settings.PORTAL_SESSION_ABSOLUTE, SessionEnd.EXPIRED),
    )
    if ends_at <= now:
        still_open.update(ended_at=now, end_reason=reason)
        return None
    if not still_open.update(last_seen_at=now):
        return None
    session.last_seen_at = now
    return session


def _portal_plans() -> QuerySet[PathwayPlan]:
    return PathwayPlan.objects.filter(status__in=PORTAL_PLAN_STATUSES).select_related("patient")


def readers_of(session: PortalSession, *, plan_public_id: UUID | None = None) -> list[PortalReader]:
    """Every plan the session may open now (or only the plan `plan_public_id`), the patient's own first,
    then as each relative. Three queries at most, however many relatives the session holds: the own plans,
    the relatives (their plan, `ended_at` and `is_child` read fresh) and their latest consents, given to
    relatives.access.scope_of — the rule relative_scope applies to one relative."""
    readers: list[PortalReader] = []
    plans = _portal_plans()
    if plan_public_id is not None:
        plans = plans.filter(public_id=plan_public_id)
    if session.patient_id is not None:
        own = plans.filter(patient_id=session.patient_id).order_by("-created_at")
        readers += [
            PortalReader(plan=plan, role=ReaderRole.PATIENT, scope=ConsentScope.WHOLE_PLAN) for plan in own
        ]
    relatives = [
        relative
        for relative in session.relatives.filter(
            ended_at__isnull=True, is_child=False, plan__in=plans
        ).select_related("plan__patient")
        if relative.sessions_ended_at is None or relative.sessions_ended_at < session.started_at
    ]
    scopes = scopes_seeing(relatives)
    readers += [
        PortalReader(
            plan=relative.plan, role=ReaderRole.RELATIVE, scope=scopes[relative.pk], relative=relative
        )
        for relative in relatives
        if relative.pk in scopes
    ]
    return readers


def scopes_seeing(relatives: list[Relative]) -> dict[int, ConsentScope]:
    """The relatives (read fresh by the caller) whose consent lets them see the plan now, by id, each with
    its scope: one query for their latest consents, given to relatives.access.scope_of — the rule
    relative_scope applies to one relative."""
    consents = latest_consents(relatives)
    today = timezone.localdate()
    scopes = {
        relative.pk: scope_of(relative, consents.get(relative.pk), today=today) for relative in relatives
    }
    return {pk: ConsentScope(scope) for pk, scope in scopes.items() if scope in SEEING_SCOPES}


def _purpose(reader: PortalReader) -> AccessPurpose:
    return AccessPurpose.OWN_DATA if reader.role == ReaderRole.PATIENT else AccessPurpose.RELATIVE_CONSENT


def access_portal_plan(
    session: PortalSession,
    *,
    public_id: UUID,
    action: AccessAction,
    log: bool = True,
    roles: Collection[ReaderRole] = (ReaderRole.PATIENT, ReaderRole.RELATIVE),
) -> PortalReader:
    """The plan `public_id` as this session may read it, the read logged for the patient (unless `log` is
    False: a HEAD request shows nothing); 404 when the session may not (missing and forbidden alike), or
    reads it in none of `roles` (the access log: the patient only; refused unlogged). The patient's own
    reading wins over a relative's."""
    matches = readers_of(session, plan_public_id=public_id)
    if not matches or matches[0].role not in roles:
        raise Http404
    reader = matches[0]
    if log:
        portal_read_log_write(
            reader=reader.reader,
            patient_id=reader.plan.patient_id,
            plan_id=reader.plan.pk,
            action=action,
            purpose=_purpose(reader),
        )
    return reader


@transaction.atomic
def portal_list_log_write(*, readers: Iterable[PortalReader]) -> None:
    """The chooser names whose plans the session may open (a patient's name, to a relative): one
    access-log row (LIST, "saw you in a list") per patient listed, with the first plan and reader that
    listed them. Nothing else of a plan is shown there; opening it is logged as a read of the plan."""
    listed: dict[int, PortalReader] = {}
    for reader in readers:
        listed.setdefault(reader.plan.patient_id, reader)
    for reader in listed.values():
        portal_read_log_write(
            reader=reader.reader,
            patient_id=reader.plan.patient_id,
            plan_id=reader.plan.pk,
            action=AccessAction.LIST,
            purpose=_purpose(reader),
        )


# --- documents (issue 15: the printable plan) ---
# A document of the plan is the reader's to open when they may open the plan, it is one of the kinds made
# for the patient (pathways.choices.DOCUMENT_PATIENT_KINDS: the plan and its large print; never the staff's
# complete plan or a letter), and its content is within the reader's scope: the patient and a relative with
# the whole plan may open both contents, a relative with appointments only the appointments document. Any
# other document — missing, another plan's, another kind or content — is 404, the same as a plan one may not
# open, and writes no access-log row.


def portal_document_contents(reader: PortalReader) -> tuple[DocumentContent, ...]:
    """The contents of the plan's documents `reader` may open."""
    if reader.sees_whole_plan:
        return (DocumentContent.WHOLE_PLAN, DocumentContent.APPOINTMENTS)
    return (DocumentContent.APPOINTMENTS,)


def portal_document_content(reader: PortalReader) -> DocumentContent:
    """The content of the document `reader` asks for: what they see of the plan in the portal."""
    return DocumentContent.WHOLE_PLAN if reader.sees_whole_plan else DocumentContent.APPOINTMENTS


def portal_documents(reader: PortalReader) -> QuerySet[PlanDocument]:
    """The plan's documents `reader` may open (without their HTML and PDF: PlanDocument.objects.listed)."""
    return PlanDocument.objects.listed().filter(
        plan=reader.plan, kind__in=DOCUMENT_PATIENT_KINDS, content__in=portal_document_contents(reader)
    )


def access_portal_document(
    session: PortalSession, *, public_id: UUID, document_id: UUID, pdf: bool = False, log: bool = True
) -> tuple[PortalReader, PlanDocument]:
    """The document `document_id` of the plan `public_id` as this session may open it; 404 otherwise, as
    for the plan, with no access-log row. The pages about a document (its progress) show none of the plan
    and write no row. With `pdf` — the PDF itself is sent — only a document that is done, its PDF loaded,
    and one access-log row for the patient (AccessAction.PORTAL_DOCUMENT: opening a printed plan is a read
    of everything printed in it; unless `log` is False: a HEAD request sends nothing)."""
    reader = access_portal_plan(session, public_id=public_id, action=AccessAction.PORTAL_DOCUMENT, log=False)
    documents = portal_documents(reader).filter(public_id=document_id)
    if pdf:
        documents = documents.filter(state=DocumentState.DONE).defer(None).defer("html", "attachment_html")
    document = documents.first()
    if document is None:
        raise Http404
    if pdf and log:
        portal_read_log_write(
            reader=reader.reader,
            patient_id=reader.plan.patient_id,
            plan_id=reader.plan.pk,
            action=AccessAction.PORTAL_DOCUMENT,
            purpose=_purpose(reader),
        )
    return reader, document


# --- questionnaires (issue 16: wellbeing, answered in the portal) ---
# A questionnaire request (quality.models.QuestionnaireRequest) is the reader's own when it was sent to them:
# to the patient (`relative` empty) for the patient reading their own plan, to that relative for a relative
# on the plan — whatever their consent scope (whole plan or appointments: both may be asked about their own
# wellbeing). Any other request — another person's on the same plan, another plan's, one that does not
# exist — is 404, the same as a plan one may not open, and writes no access-log row. Opening an answerable
# one (open, its answer-by day not passed) to answer it is one access-log row (PORTAL_QUESTIONNAIRE): for
# the patient's own, her own read; a relative's own is the relative's data, left out of the patient's log
# (portal.selectors, section "access log").


def portal_questionnaire_requests(reader: PortalReader) -> QuerySet[QuestionnaireRequest]:
    """The questionnaires sent to `reader` themselves on their plan (every state)."""
    requests = QuestionnaireRequest.objects.filter(plan=reader.plan)
    if reader.relative is None:
        return requests.filter(relative__isnull=True)
    return requests.filter(relative=reader.relative)


# A plan that has ended invites no answers (quality's hourly job then closes its questionnaires).
ANSWERING_PLAN_STATUSES = (PlanStatus.ACTIVE, PlanStatus.ON_HOLD)


def questionnaire_answerable(asked: QuestionnaireRequest, *, today: date | None = None) -> bool:
    """Still to be answered: open, its answer-by day not passed and its plan not ended (the hourly jobs
    may not have closed it yet)."""
    return (
        asked.state == RequestState.OPEN
        and asked.expires_on >= (today or timezone.localdate())
        and asked.plan.status in ANSWERING_PLAN_STATUSES
    )


def access_portal_questionnaire(
    session: PortalSession, *, public_id: UUID, request_id: UUID, log: bool = True
) -> tuple[PortalReader, QuestionnaireRequest]:
    """The questionnaire `request_id` on the plan `public_id`, when it was sent to one of the session's
    readers of that plan (the patient, or that relative), with that reader; 404 otherwise. In any state:
    the page says thanks for one answered and "too late" for one closed. Opening an answerable one is
    logged for the patient (unless `log` is False: a HEAD request or a POST, which shows only what was
    sent)."""
    readers = readers_of(session, plan_public_id=public_id)
    if not readers:
        raise Http404
    asked = (
        QuestionnaireRequest.objects.filter(plan=readers[0].plan, public_id=request_id)
        .select_related("questionnaire", "plan")
        .first()
    )
    if asked is None:
        raise Http404
    reader = next(
        (
            reader
            for reader in readers
            if (reader.relative.pk if reader.relative is not None else None) == asked.relative_id
        ),
        None,
    )
    if reader is None:
        raise Http404
    if log and questionnaire_answerable(asked):
        portal_read_log_write(
            reader=reader.reader,
            patient_id=reader.plan.patient_id,
            plan_id=reader.plan.pk,
            action=AccessAction.PORTAL_QUESTIONNAIRE,
            purpose=_purpose(reader),
        )
    return reader, asked
