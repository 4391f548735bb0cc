"""Relatives' access. Relatives are reached only through a plan the user may see
(pathways.access.access_plan), 404 for missing and forbidden alike.

Two rules live here and nowhere else:
- `relative_scope`: what a relative may see of the plan, from the patient's latest consent decision. The
  portal (issue 14) and the reminders to relatives call it on every request and every message: a withdrawn
  consent answers NONE at once.
- `may_see_support`: who sees a relative's own support record (strain screening, needs, referrals) — the
  plan's coordinator, and staff acting for an organisation holding an offer the relative is referred to.
  Never the patient's portal. Every read of it is logged (VIEW_RELATIVE_SUPPORT).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from pathways import access as hub_access
from pathways.choices import AccessAction
from pathways.models import EmergencyAccess, PathwayPlan
from relatives.choices import REFERRAL_OPEN_STATUSES, SEEING_SCOPES, ConsentScope, RelativeChannel
from relatives.models import (
    ChildChecklistItem,
    Relative,
    RelativeConsent,
    RelativeNeed,
    SupportReferral,
    consent_scope,
)

# --- consent: what a relative may see -----------------------------------------------------------------------


def latest_consents(relatives: Iterable[Relative]) -> dict[int, RelativeConsent]:
    """Each relative's latest consent decision (the one that counts), in one query: {relative id: consent}."""
    ids = [relative.pk for relative in relatives]
    if not ids:
        return {}
    rows = (
        RelativeConsent.objects.filter(relative_id__in=ids)
        .order_by("relative_id", "-recorded_at", "-id")
        .distinct("relative_id")
        .select_related("recorded_by", "recorded_by_organisation")
    )
    return {row.relative_id: row for row in rows}


def scope_of(
    relative: Relative, consent: RelativeConsent | None, *, today: date | None = None
) -> ConsentScope:
    """What `relative` may see given their latest decision `consent` (relatives.models.consent_scope)."""
    return consent_scope(relative, consent, today or timezone.localdate())


def relative_scope(relative: Relative, *, today: date | None = None) -> ConsentScope:
    """The one rule for what a relative may see of the plan, read fresh from the database (the portal asks
    it on every request)."""
    consent = latest_consents([relative]).get(relative.pk)
    fresh = Relative.objects.filter(pk=relative.pk).values_list("ended_at", "is_child").first()
    if fresh is None:
        return ConsentScope.NONE
    relative.ended_at, relative.is_child = fresh
    return scope_of(relative, consent, today=today)


def relatives_seeing(plan: PathwayPlan, *, scopes: Iterable[str] = SEEING_SCOPES) -> list[Relative]:
    """The plan's relatives whose consent now lets them see one of `scopes` (two queries)."""
    relatives = list(Relative.objects.current().filter(plan=plan, is_child=False))
    consents = latest_consents(relatives)
    wanted = set(scopes)
    return [r for r in relatives if scope_of(r, consents.get(r.pk)) in wanted]


def _reachable(relatives: Iterable[Relative]) -> list[tuple[Relative, str]]:
    """The relatives with a channel and an address for it, each with the channel."""
    recipients = []
    for relative in relatives:
        channel = relative.preferred_channel
        if channel != RelativeChannel.NONE and relative.notification_address(channel):
            recipients.append((relative, str(channel)))
    return recipients


def appointment_recipients(plan: PathwayPlan) -> list[tuple[Relative, str]]:
    """Who among the relatives hears of the plan's appointments, and by which channel (the hub's outbox
    asks through pathways.extensions): those who may see the whole plan or its appointments."""
    return _reachable(relatives_seeing(plan))


def plan_news_recipients(plan: PathwayPlan) -> list[tuple[Relative, str]]:
    """Who among the relatives hears news of the whole plan (a new coordinator), and by which channel: only
    those who may see the whole plan (appointments only: appointment reminders, nothing else)."""
    return _reachable(relatives_seeing(plan, scopes=[ConsentScope.WHOLE_PLAN]))


def may_manage_relatives(rights: hub_access.PlanRights, participating_ids: Iterable[int]) -> bool:
    """Who adds relatives and records the patient's consent: the plan's coordinator (or substitute), or
    staff acting for an organisation taking part in the plan. Services ask pathways.access.may_change."""
    return rights.is_coordinator or bool(rights.acting_organisation_ids & set(participating_ids))


def access_relative(plan_access: hub_access.PlanAccess, relative_id: UUID | str) -> Relative:
    """A relative on the plan (Http404 for one of another plan, or none)."""
    return hub_access.one_of(Relative.objects.filter(plan=plan_access.plan), relative_id)


def participating_ids(plan: PathwayPlan) -> frozenset[int]:
    """The organisations taking part in the plan (one query)."""
    return frozenset(plan.participants.values_list("organisation_id", flat=True))


def recording_organisation_ids(
    rights: hub_access.PlanRights, plan: PathwayPlan, participating: Iterable[int]
) -> frozenset[int]:
    """The organisations a user may add relatives and record decisions for in `plan`: those they act for
    that take part in it, and the coordinator's organisation for its coordinator (or substitute)."""
    allowed = set(participating)
    if rights.is_coordinator and plan.coordinator_organisation_id is not None:
        allowed.add(plan.coordinator_organisation_id)
    return frozenset(rights.acting_organisation_ids & allowed)


# A withdrawn consent is told to the patient and the relative with this event (relatives.services), so the
# patient's message can name the relative (pathways.extensions.notice_words).
REVOKED_EVENT_PREFIX = "consent-revoked:"


def revoked_relative_words(row: Any) -> dict[str, str]:
    """{"relative": name} for a message about a withdrawn consent (found by its event), else {}."""
    event = str(row.dedupe_key).rsplit("|", 1)[-1]
    if not event.startswith(REVOKED_EVENT_PREFIX):
        return {}
    consent_id = event.removeprefix(REVOKED_EVENT_PREFIX)
    try:
        found = (
            RelativeConsent.objects.filter(plan_id=row.plan_id, public_id=consent_id)
            .values_list("relative__name", flat=True)
            .first()
        )
    except (ValueError, ValidationError):
        return {}
    return {"relative": found} if found else {}


# --- support: who sees a relative's own support record -----------------------------------------------------


def support_organisation_ids(relatives: Iterable[Relative]) -> dict[int, frozenset[int]]:
    """For each relative, the organisations that hold an offer they are referred to or are responsible for
    a referral of theirs, while the referral is open (one query): {relative id: organisation ids}. A closed
    referral gives no more reason to read the record."""
    ids = [relative.pk for relative in relatives]
    found: dict[int, set[int]] = {pk: set() for pk in ids}
    rows = SupportReferral.objects.filter(relative_id__in=ids, status__in=REFERRAL_OPEN_STATUSES).values_list(
        "relative_id", "offer__organisation_id", "responsible_organisation_id"
    )
    for relative_id, offer_organisation, responsible in rows:
        found[relative_id] |= {offer_organisation, responsible}
    return {pk: frozenset(organisations) for pk, organisations in found.items()}


def may_see_support(rights: hub_access.PlanRights, support_organisations: frozenset[int]) -> bool:
    """The plan's coordinator (or substitute), or staff acting for an organisation holding an offer for the
    relative (`support_organisations`, from support_organisation_ids). A break-the-glass reader: no."""
    return rights.is_coordinator or bool(rights.acting_organisation_ids & support_organisations)


def access_support_record(user: Any, plan_access: hub_access.PlanAccess, relative_id: UUID | str) -> Relative:
    """The relative, for reading or writing their support record: Http404 unless the user may see it
    (`may_see_support`) — the same answer as for a relative who does not exist. The read is logged."""
    relative = access_relative(plan_access, relative_id)
    if plan_access.emergency is not None:
        raise Http404
    organisations = support_organisation_ids([relative])[relative.pk]
    if not may_see_support(plan_access.rights, organisations):
        raise Http404
    hub_access.access_log_plans(user, [plan_access.plan], action=AccessAction.VIEW_RELATIVE_SUPPORT)
    return relative


def referrals_of(relative: Relative) -> QuerySet[SupportReferral]:
    return relative.referrals.select_related("offer", "responsible_organisation", "responsible_person")


def plans_showing_support(user: Any, relative_id: UUID | str) -> QuerySet[PathwayPlan]:
    """The support pages' plans, for access_plan's `queryset`: those in which `user` has a reason to see
    the support record of the relative `relative_id` (may_see_support as a filter: coordinator or
    substitute, or acting for an organisation holding one of the relative's referrals), and those they
    hold a break-the-glass access to (opened read only, then refused by access_support_record). A
    participant without a reason is refused at the plan, as an outsider is: a security event, nothing of
    the plan read."""
    acting = hub_access.acting_organisation_ids(user)
    holding = SupportReferral.objects.filter(
        Q(offer__organisation_id__in=acting) | Q(responsible_organisation_id__in=acting),
        status__in=REFERRAL_OPEN_STATUSES,
        plan=OuterRef("pk"),
        relative__public_id=relative_id,
    )
    emergency = EmergencyAccess.objects.current().filter(actor=user, plan=OuterRef("pk"))
    return PathwayPlan.objects.filter(hub_access.coordinated_by(user) | Exists(holding) | Exists(emergency))


def access_referral(relative: Relative, referral_id: UUID | str) -> SupportReferral:
    """One of the relative's referrals (Http404 for another's, or none)."""
    return hub_access.one_of(referrals_of(relative).select_related("plan"), referral_id)


def access_need(relative: Relative, need_id: UUID | str) -> RelativeNeed:
    """One of the relative's needs (Http404 for another's, or none)."""
    return hub_access.one_of(relative.needs.all(), need_id)


# --- children: the checklist for a child relative -----------------------------------------------------------


def may_work_checklist(plan_access: hub_access.PlanAccess) -> bool:
    """Whether the reader works through the plan's child checklists on its pages: those who manage its
    relatives (`may_manage_relatives`), never a break-the-glass reader. The service asks again."""
    if plan_access.emergency is not None:
        return False
    return may_manage_relatives(plan_access.rights, participating_ids(plan_access.plan))


def access_checklist_item(plan_access: hub_access.PlanAccess, item_id: UUID | str) -> ChildChecklistItem:
    """A checklist item of the plan (Http404 for one of another plan, or none)."""
    return hub_access.one_of(
        ChildChecklistItem.objects.filter(plan=plan_access.plan).select_related("relative"), item_id
    )
