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

from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone

from pathways import access as hub_access
from pathways.choices import AccessAction
from pathways.models import PathwayPlan
from relatives.choices import SEEING_SCOPES, ConsentScope, RelativeChannel
from relatives.models import ChildChecklistItem, Relative, RelativeConsent, SupportReferral

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
    """What `relative` may see given their latest decision `consent`: NONE for a relative removed from the
    plan, for a child (children never get access of their own), without a decision, before it is valid or
    after its end date."""
    today = today or timezone.localdate()
    if consent is None or relative.ended_at is not None or relative.is_child:
        return ConsentScope.NONE
    if consent.valid_from > today or (consent.valid_until is not None and consent.valid_until < today):
        return ConsentScope.NONE
    return ConsentScope(consent.scope)


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


def appointment_recipients(plan: PathwayPlan) -> list[tuple[Relative, str]]:
    """Who among the relatives hears of the plan's appointments, and by which channel (the hub's outbox
    asks through pathways.extensions): those who may see the whole plan or its appointments, with a
    channel and an address for it."""
    recipients = []
    for relative in relatives_seeing(plan):
        channel = relative.preferred_channel
        if channel != RelativeChannel.NONE and relative.notification_address(channel):
            recipients.append((relative, str(channel)))
    return recipients


def may_manage_relatives(rights: hub_access.PlanRights, participating_ids: Iterable[int]) -> bool:
    """Who adds relatives and records the patient's consent: the plan's coordinator (or substitute), or
    staff acting for an organisation taking part in the plan. Services ask pathways.access.may_change."""
    return rights.is_coordinator or bool(rights.acting_organisation_ids & set(participating_ids))


def access_relative(plan_access: hub_access.PlanAccess, relative_id: UUID | str) -> Relative:
    """A relative on the plan (Http404 for one of another plan, or none)."""
    return hub_access._one_of(Relative.objects.filter(plan=plan_access.plan), relative_id)


# --- support: who sees a relative's own support record -----------------------------------------------------


def support_organisation_ids(relatives: Iterable[Relative]) -> dict[int, frozenset[int]]:
    """For each relative, the organisations that hold an offer they are referred to or are responsible for
    a referral of theirs (one query): {relative id: organisation ids}."""
    ids = [relative.pk for relative in relatives]
    found: dict[int, set[int]] = {pk: set() for pk in ids}
    rows = SupportReferral.objects.filter(relative_id__in=ids).values_list(
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


# --- children: the checklist for a child relative -----------------------------------------------------------


def access_checklist_item(plan_access: hub_access.PlanAccess, item_id: UUID | str) -> ChildChecklistItem:
    """A checklist item of the plan (Http404 for one of another plan, or none)."""
    return hub_access._one_of(
        ChildChecklistItem.objects.filter(plan=plan_access.plan).select_related("relative"), item_id
    )
