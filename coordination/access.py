"""Coordination's access: its objects are reached only through a plan the user may see
(pathways.access.access_plan), and 404 for missing and forbidden alike."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from coordination.models import Dispute, Message, MessageThread
from pathways import access as hub_access
from pathways.models import PathwayPlan

# --- Need assessment and coordinator handover ----------------------------------------------------------
# Who assesses the need for a coordinator: the plan's coordinator or substitute, or staff acting for an
# organisation taking part. Who hands the coordination over: the coordinator or substitute, or, while the
# plan has none, whoever sets the plan up (pathways.access.may_change). Pages ask these to decide what to
# show; the services ask pathways.access.may_change again.


def may_assess_need(rights: hub_access.PlanRights, participating_ids: Iterable[int]) -> bool:
    return rights.is_coordinator or bool(rights.acting_organisation_ids & set(participating_ids))


def may_hand_over(
    user: Any, plan: PathwayPlan, rights: hub_access.PlanRights, participating_ids: Iterable[int]
) -> bool:
    if rights.is_coordinator:
        return True
    if plan.coordinator_id is not None:
        return False
    return plan.created_by_id == user.pk or bool(rights.acting_organisation_ids & set(participating_ids))


def participating_ids(plan: PathwayPlan) -> frozenset[int]:
    """The organisations taking part in the plan (one query)."""
    return frozenset(plan.participants.values_list("organisation_id", flat=True))


# --- Responsibility disputes ---------------------------------------------------------------------------
# Who marks a task's responsibility as disputed: staff acting for an organisation taking part, or the plan's
# coordinator; who resolves it: the coordinator or substitute. The services ask may_change again.


def may_resolve(plan: PathwayPlan, rights: hub_access.PlanRights) -> bool:
    """The plan's coordinator (or substitute) decides a dispute. While a plan has no coordinator, the
    organisations taking part decide together (as they set the plan up): a dispute never waits for a
    coordinator who does not exist."""
    if rights.can_edit_plan:
        return True
    return plan.coordinator_id is None and bool(participating_ids(plan) & rights.acting_organisation_ids)


def access_dispute(plan_access: hub_access.PlanAccess, dispute_id: UUID | str) -> Dispute:
    """A dispute of the plan (Http404 for one of another plan, or none)."""
    return hub_access.one_of(
        plan_access.plan.disputes.select_related("task", "interim_organisation", "raised_by"), dispute_id
    )


# --- Messages between sectors ----------------------------------------------------------------------------
# Who reads a plan's messages: whoever may see the plan (access_plan logs the read with VIEW_MESSAGES).
# A break-the-glass reader may read them too (logged with the emergency purpose and reason, as every read
# of theirs), but neither sends nor marks read: they speak for no organisation in the plan, and a read
# receipt tells the sender that the organisation written to has seen the message, which they have not.


def access_thread(plan_access: hub_access.PlanAccess, thread_id: UUID | str) -> MessageThread:
    """A message thread of the plan (Http404 for a thread of another plan, or none)."""
    return hub_access.one_of(plan_access.plan.message_threads.select_related("task"), thread_id)


def access_message(plan_access: hub_access.PlanAccess, message_id: UUID | str) -> Message:
    """A message of the plan with what its CareCommunication names (Http404 for another plan's, or none)."""
    messages = plan_access.plan.messages.select_related(
        "thread", "plan__patient", "sender", "sender_organisation", "received_as"
    ).prefetch_related("recipients__organisation")
    return hub_access.one_of(messages, message_id)


def plan_organisation_ids(plan: PathwayPlan, participating: Iterable[int] | None = None) -> frozenset[int]:
    """The organisations taking part in the plan, the coordinator's among them: who may be written to.
    `participating`: the ids of the plan's participant organisations, where the caller has them already."""
    if participating is None:
        participating = plan.participants.values_list("organisation_id", flat=True)
    ids = set(participating)
    if plan.coordinator_organisation_id is not None:
        ids.add(plan.coordinator_organisation_id)
    return frozenset(ids)


def message_sender_organisation_ids(
    user: Any, plan: PathwayPlan, *, in_plan: frozenset[int] | None = None
) -> frozenset[int]:
    """The organisations the user may write for in this plan: those they act for that take part in it,
    and, for the plan's coordinator (or substitute), the coordinator's organisation. `in_plan`: the
    plan's organisations (plan_organisation_ids) where the caller has them already."""
    if in_plan is None:
        in_plan = plan_organisation_ids(plan)
    ids = set(hub_access.acting_organisation_ids(user) & in_plan)
    if hub_access.is_coordinator(user, plan) and plan.coordinator_organisation_id is not None:
        ids.add(plan.coordinator_organisation_id)
    return frozenset(ids)
