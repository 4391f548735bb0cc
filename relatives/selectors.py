"""Relatives' reads: the plan page's relatives section, a relative's page and the coordinator's worklist
lines. Each starts from relatives.access and reads in a fixed number of queries, whatever the number of
relatives."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from relatives import access
from relatives.choices import ConsentScope
from relatives.models import ChildChecklistItem, Relative, RelativeConsent


@dataclass
class SupportSummary:
    """What the plan page shows of a relative's support record, to those who may see it: the latest
    strain score and the open referrals with their follow-up dates."""

    # --- support: fields ---
    score: int | None = None
    max_score: int | None = None
    high_strain: bool = False
    screened_on: Any = None
    referrals: list[Any] = field(default_factory=list)


@dataclass
class RelativeRow:
    relative: Relative
    consent: RelativeConsent | None  # the latest decision (None: none recorded yet)
    scope: ConsentScope  # what they may see now (access.scope_of)
    support: SupportSummary | None = None  # None: the reader may not see the support record
    checklist: list[ChildChecklistItem] = field(default_factory=list)  # a child's checklist


def plan_relatives_section(actor: Any, page: Any) -> dict[str, Any] | None:
    """The plan page's relatives section (pathways.extensions.PlanSection): the relatives on the plan,
    each with the patient's consent and what it lets them see, a child's checklist, and — for those who
    may see it — the support summary."""
    plan = page.plan
    relatives = list(plan.relatives.current().order_by("-is_closest", "name", "id"))
    consents = access.latest_consents(relatives)
    rows = [
        RelativeRow(relative=r, consent=consents.get(r.pk), scope=access.scope_of(r, consents.get(r.pk)))
        for r in relatives
    ]
    participating = [participant.organisation_id for participant, _accept in page.participants]
    _add_support(actor, page, rows)
    _add_checklists(rows)
    return {
        "relative_rows": rows,
        "may_manage_relatives": page.emergency is None
        and access.may_manage_relatives(page.rights, participating),
    }


# --- support: the summary on the plan page ---


def _add_support(actor: Any, page: Any, rows: list[RelativeRow]) -> None:
    """Fill `support` for the rows whose support record the reader may see (a fixed number of queries);
    log one VIEW_RELATIVE_SUPPORT read when any is shown."""
    del actor, page, rows


# --- children: the checklist on the plan page ---


def _add_checklists(rows: list[RelativeRow]) -> None:
    """Fill `checklist` for child relatives (one query)."""
    del rows
