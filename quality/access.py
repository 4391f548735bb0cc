"""Quality's access: who sees and does what with the questionnaires on a plan. Everything starts from the
hub's policy (pathways.access.access_plan → PlanAccess); 404 for missing and forbidden alike.

Two kinds of response, two rules:
- The patient's own responses belong to the plan: every participating sector sees the wellbeing trend and
  opens a response (a logged read, AccessAction.VIEW_RESPONSE). A break-the-glass reader reads them too,
  as they read the rest of the plan page.
- A relative's responses are the relative's own data, like the strain screening in relatives: only those
  who may see the relative's support record see them (relatives.access.may_see_support — the plan's
  coordinator or substitute, staff acting for an organisation holding one of the relative's open
  referrals), never a break-the-glass reader. Each read is logged as a read of the support record
  (AccessAction.VIEW_RELATIVE_SUPPORT), which the patient's own access log leaves out.

Who does what: staff taking part in the plan (or its coordinator) enter a response on a person's behalf;
only the coordinator (or substitute) marks a flag seen; the coordinator or the staff member who entered it
marks a response entered in error. quality.services asks the same questions before it writes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q, QuerySet

from pathways import access as hub_access
from pathways.access import PlanAccess, PlanRights
from pathways.choices import AccessAction
from quality.models import QuestionnaireResponse, QuestionnaireResponseQuerySet
from relatives import access as relatives_access
from relatives.choices import REFERRAL_OPEN_STATUSES
from relatives.models import Relative, SupportReferral

PublicId = UUID | str


# --- the relative's own data: whose support record the reader may see ---------------------------------------


def supported_relatives(plan_access: PlanAccess) -> QuerySet[Relative]:
    """The plan's relatives whose support record (and so whose responses) the reader may see, as a
    queryset (relatives.access.may_see_support as a filter): all of them for the coordinator (or
    substitute), those with an open referral held by an organisation the reader acts for otherwise, none
    for a break-the-glass reader."""
    relatives = Relative.objects.filter(plan=plan_access.plan)
    if plan_access.emergency is not None:
        return relatives.none()
    rights = plan_access.rights
    if rights.is_coordinator:
        return relatives
    acting = rights.acting_organisation_ids
    if not acting:
        return relatives.none()
    holding = SupportReferral.objects.filter(
        Q(offer__organisation_id__in=acting) | Q(responsible_organisation_id__in=acting),
        relative=OuterRef("pk"),
        status__in=REFERRAL_OPEN_STATUSES,
    )
    return relatives.filter(Exists(holding))


def may_see_relative(plan_access: PlanAccess, relative: Relative) -> bool:
    """Whether the reader may see this relative's responses (their support record): one query, none for the
    coordinator."""
    if plan_access.emergency is not None:
        return False
    organisations = relatives_access.support_organisation_ids([relative])[relative.pk]
    return relatives_access.may_see_support(plan_access.rights, organisations)


# --- responses ----------------------------------------------------------------------------------------------


def responses_visible(plan_access: PlanAccess) -> QuestionnaireResponseQuerySet:
    """The plan's responses the reader may see: the patient's, and those of the relatives whose support
    record they may see."""
    return QuestionnaireResponse.objects.filter(plan=plan_access.plan).filter(
        Q(relative__isnull=True) | Q(relative__in=supported_relatives(plan_access))
    )


def _relative_of(response_id: PublicId) -> UUID | None:
    """The public id of the relative whose response `response_id` is (None: the patient's, or none)."""
    try:
        return (
            QuestionnaireResponse.objects.filter(public_id=response_id, relative__isnull=False)
            .values_list("relative__public_id", flat=True)
            .first()
        )
    except (ValidationError, ValueError):
        return None


def access_plan_for_response(
    user: Any, public_id: PublicId, response_id: PublicId, *, write: bool = False
) -> PlanAccess:
    """The plan, opened for reading — or, with `write`, changing — one of its responses, logged in one row:
    VIEW_RESPONSE (EDIT_PLAN for a change) for the patient's response, VIEW_RELATIVE_SUPPORT for a
    relative's. For a relative's response only the plans in which the user may see that relative's support
    record (or holds a break-the-glass access, refused by access_response) are looked in, so a participant
    without a reason is refused at the plan, as for the support record
    (relatives.access.plans_showing_support). Http404 as access_plan gives it; then ask access_response."""
    relative_id = _relative_of(response_id)
    if relative_id is not None:
        plans = relatives_access.plans_showing_support(user, relative_id)
        return hub_access.access_plan(
            user, public_id, action=AccessAction.VIEW_RELATIVE_SUPPORT, queryset=plans
        )
    action = AccessAction.EDIT_PLAN if write else AccessAction.VIEW_RESPONSE
    return hub_access.access_plan(user, public_id, action=action)


def access_response(plan_access: PlanAccess, public_id: PublicId) -> QuestionnaireResponse:
    """One of the plan's responses the reader may see, with its questionnaire, relative and who entered
    it; Http404 for another plan's, a relative's the reader may not see, and one that does not exist."""
    responses = responses_visible(plan_access).select_related(
        "questionnaire", "relative", "entered_by", "entered_by_organisation", "flag_seen_by", "request"
    )
    return hub_access.one_of(responses, public_id)


# --- who does what ------------------------------------------------------------------------------------------


def may_enter_response(plan_access: PlanAccess, *, participating: Iterable[int] | None = None) -> bool:
    """Who enters a response on a person's behalf: the plan's coordinator (or substitute) and staff acting
    for an organisation taking part in the plan (`participating`: the plan's organisations when the caller
    has them, else one query); never a break-the-glass reader."""
    if plan_access.emergency is not None:
        return False
    if plan_access.rights.is_coordinator:
        return True
    if participating is None:
        participating = relatives_access.participating_ids(plan_access.plan)
    return bool(plan_access.rights.acting_organisation_ids & frozenset(participating))


def may_mark_flag_seen(rights: PlanRights, response: QuestionnaireResponse) -> bool:
    """Only the plan's coordinator (or substitute) marks a flagged response seen."""
    return rights.is_coordinator and response.flagged and response.flag_seen_at is None


def may_mark_error(plan_access: PlanAccess, actor: Any, response: QuestionnaireResponse) -> bool:
    """The coordinator (or substitute), or the staff member who entered it, marks a response entered in
    error; never a break-the-glass reader."""
    if plan_access.emergency is not None:
        return False
    return plan_access.rights.is_coordinator or (
        response.entered_by_id is not None and response.entered_by_id == getattr(actor, "pk", None)
    )
