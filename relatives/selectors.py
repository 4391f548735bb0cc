"""Relatives' reads: the plan page's relatives section, a relative's page and the coordinator's worklist
lines. Each starts from relatives.access and reads in a fixed number of queries, whatever the number of
relatives."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db.models import Case, Exists, F, OuterRef, Q, QuerySet, Subquery, Value, When
from django.utils import timezone

from pathways import access as hub_access
from pathways.choices import AccessAction
from pathways.models import Membership, Organisation, PathwayPlan, User
from relatives import access
from relatives.choices import REFERRAL_OPEN_STATUSES, ChecklistStatus, ChildCareStep, ConsentScope
from relatives.instruments import CSI_KEY
from relatives.models import (
    ChildChecklistItem,
    Relative,
    RelativeConsent,
    RelativeNeed,
    StrainInstrument,
    StrainItem,
    StrainScreening,
    SupportOffer,
    SupportReferral,
)


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


# --- consent: a relative's page and the forms' choices ---


@dataclass
class RelativeDetail:
    """A relative's page: their details, the patient's decisions about them (newest first: the first is
    the one that counts) and what it lets them see now."""

    relative: Relative
    consents: list[RelativeConsent]
    scope: ConsentScope

    @property
    def current(self) -> RelativeConsent | None:
        return self.consents[0] if self.consents else None

    @property
    def may_revoke(self) -> bool:
        """Whether there is a consent to withdraw (one still involving the relative)."""
        current = self.current
        return (
            self.relative.ended_at is None
            and current is not None
            and current.scope != ConsentScope.NONE
            and (current.valid_until is None or current.valid_until >= timezone.localdate())
        )


def relative_detail(relative: Relative) -> RelativeDetail:
    """The relative with their whole consent history (two queries, however long it is)."""
    consents = list(
        relative.consents.select_related("recorded_by", "recorded_by_organisation").order_by(
            "-recorded_at", "-id"
        )
    )
    current = consents[0] if consents else None
    return RelativeDetail(relative=relative, consents=consents, scope=access.scope_of(relative, current))


def recording_organisations(granted: hub_access.PlanAccess) -> QuerySet[Organisation]:
    """The organisations the reader may add relatives and record decisions for in the plan."""
    plan = granted.plan
    ids = access.recording_organisation_ids(granted.rights, plan, access.participating_ids(plan))
    # The coordinator's organisation first: the coordinator records for it unless they choose another.
    coordinators = Case(When(pk=plan.coordinator_organisation_id, then=Value(0)), default=Value(1))
    return Organisation.objects.filter(pk__in=ids).order_by(coordinators, "name", "pk")


# --- support: the summary on the plan page ---


def _add_support(actor: Any, page: Any, rows: list[RelativeRow]) -> None:
    """Fill `support` for the rows whose support record the reader may see (a fixed number of queries);
    log one VIEW_RELATIVE_SUPPORT read when any is shown. A break-the-glass reader sees none."""
    if page.emergency is not None or not rows:
        return
    holding = access.support_organisation_ids([row.relative for row in rows])
    shown = {
        row.relative.pk: row
        for row in rows
        # A child's care is the checklist's (the Caregiver Strain Index is for adults who care).
        if not row.relative.is_child and access.may_see_support(page.rights, holding[row.relative.pk])
    }
    if not shown:
        return
    latest = (
        StrainScreening.objects.filter(relative_id__in=list(shown))
        .order_by("relative_id", "-screened_on", "-id")
        .distinct("relative_id")
    )
    screenings = {screening.relative_id: screening for screening in latest}
    referrals: dict[int, list[SupportReferral]] = {}
    for referral in open_referrals(shown):
        referrals.setdefault(referral.relative_id, []).append(referral)
    for pk, row in shown.items():
        screening = screenings.get(pk)
        row.support = SupportSummary(
            score=screening.score if screening else None,
            max_score=screening.max_score if screening else None,
            high_strain=screening.high_strain if screening else False,
            screened_on=screening.screened_on if screening else None,
            referrals=referrals.get(pk, []),
        )
    hub_access.access_log_plans(actor, [page.plan], action=AccessAction.VIEW_RELATIVE_SUPPORT)


def open_referrals(relative_ids: Iterable[int]) -> list[SupportReferral]:
    """The open referrals of the relatives, the next follow-up first (one query)."""
    return list(
        SupportReferral.objects.filter(relative_id__in=list(relative_ids), status__in=REFERRAL_OPEN_STATUSES)
        .select_related("offer", "responsible_organisation", "responsible_person")
        .order_by(F("follow_up_date").asc(nulls_last=True), "created_at", "id")
    )


@dataclass(frozen=True)
class ScreeningLine:
    """A screening as the support page shows it: its score, the threshold of its instrument and the
    items answered "yes" (each may point to a need for help in that area)."""

    screening: StrainScreening
    yes_items: list[str]

    @property
    def high_strain_from(self) -> int:
        return self.screening.instrument.high_strain_from


@dataclass(frozen=True)
class SupportRecord:
    """A relative's own support record: their screenings (newest first), the instruments used (for their
    attribution), their needs in their own words and their referrals (open first)."""

    relative: Relative
    screenings: list[ScreeningLine]
    instruments: list[StrainInstrument]
    needs: list[RelativeNeed]
    referrals: list[SupportReferral]


def _yes_texts(screening: StrainScreening, items: list[StrainItem]) -> list[str]:
    """The texts of the items answered "yes", in the instrument's order (the stored answers keep no
    order); an item since removed from the instrument shows by its key."""
    yes = {key for key, answer in screening.answers.items() if answer is True}
    known = [item for item in items if item.key in yes]
    return [item.text for item in known] + sorted(yes - {item.key for item in known})


def support_record(relative: Relative) -> SupportRecord:
    """The support record of a relative the caller has through access.access_support_record (logged
    there), in four queries whatever its length."""
    screenings = list(
        StrainScreening.objects.filter(relative=relative)
        .select_related("instrument", "screened_by", "screened_by_organisation")
        .order_by("-screened_on", "-id")
    )
    instruments = {screening.instrument_id: screening.instrument for screening in screenings}
    items: dict[int, list[StrainItem]] = {}
    for item in StrainItem.objects.filter(instrument_id__in=list(instruments)).order_by("position", "pk"):
        items.setdefault(item.instrument_id, []).append(item)
    lines = [
        ScreeningLine(screening, _yes_texts(screening, items.get(screening.instrument_id, [])))
        for screening in screenings
    ]
    needs = list(
        relative.needs.select_related("recorded_by").order_by(
            F("met_at").desc(nulls_first=True), "-recorded_on", "-id"
        )
    )
    referrals = sorted(
        access.referrals_of(relative).select_related("created_by"),
        key=lambda referral: (
            referral.status not in REFERRAL_OPEN_STATUSES,
            -referral.created_at.timestamp(),
        ),
    )
    return SupportRecord(
        relative=relative,
        screenings=lines,
        instruments=sorted(instruments.values(), key=lambda instrument: instrument.name),
        needs=needs,
        referrals=referrals,
    )


def screening_instrument(key: str = "") -> tuple[StrainInstrument, list[StrainItem]] | None:
    """The instrument to screen with and its items in order: the one in use named `key`, else the
    Caregiver Strain Index, else the first in use (None: no instrument is in use)."""
    in_use = list(StrainInstrument.objects.filter(is_active=True).order_by("name", "pk"))
    chosen = next((i for i in in_use if i.key == key), None) or next(
        (i for i in in_use if i.key == CSI_KEY), in_use[0] if in_use else None
    )
    if chosen is None:
        return None
    return chosen, list(chosen.items.order_by("position", "pk"))


@dataclass(frozen=True)
class ReferralChoices:
    """What a new referral may name: the offers offered now, the organisations that may be responsible
    (an offer's, or one taking part in the plan) and their staff."""

    offers: QuerySet[SupportOffer]
    organisations: QuerySet[Organisation]
    members: list[Membership]


def referral_choices(plan: PathwayPlan) -> ReferralChoices:
    offers = SupportOffer.objects.filter(is_active=True).select_related("organisation").order_by("name", "pk")
    # Responsible: an organisation taking part in the plan or the coordinator's (services.
    # responsible_organisation_ids): its staff follow up and see the record through the plan.
    organisations = (
        Organisation.objects.filter(Q(participations__plan=plan) | Q(pk=plan.coordinator_organisation_id))
        .distinct()
        .order_by("name", "pk")
    )
    members = list(
        Membership.objects.active()
        .filter(organisation__in=organisations, user__is_active=True)
        .select_related("user", "organisation")
        .order_by("organisation__name", "organisation_id", "user__first_name", "user__last_name", "pk")
    )
    return ReferralChoices(offers=offers, organisations=organisations, members=members)


def referral_people(referral: SupportReferral) -> QuerySet[User]:
    """Who may be named responsible for the referral: the staff of its organisation, and whoever is named
    now (kept even after leaving it, so the form saved unchanged changes nothing)."""
    members = Membership.objects.active().filter(
        user=OuterRef("pk"), organisation_id=referral.responsible_organisation_id
    )
    return User.objects.filter(
        Q(Exists(members), is_active=True) | Q(pk=referral.responsible_person_id)
    ).order_by("first_name", "last_name", "pk")


# --- children: the checklist on the plan page ---


_STEP_ORDER = {step: position for position, step in enumerate(ChildCareStep.values)}


def _step_position(step: str) -> int:
    return _STEP_ORDER.get(step, len(_STEP_ORDER))


def _add_checklists(rows: list[RelativeRow]) -> None:
    """Fill `checklist` for child relatives, in the order staff work through it (one query; none without
    a child)."""
    children = {row.relative.pk: row for row in rows if row.relative.is_child}
    if not children:
        return
    items = ChildChecklistItem.objects.filter(relative_id__in=list(children)).select_related("done_by")
    for item in sorted(items, key=lambda item: (_step_position(item.step), item.pk)):
        children[item.relative_id].checklist.append(item)


@dataclass(frozen=True)
class OpenChecklist:
    """A child relative whose checklist has open steps (a line of the coordinator's worklist)."""

    relative: Relative
    plan_id: int
    open_steps: list[str]  # the open steps' labels, in the checklist's order

    @property
    def since(self) -> date:
        return timezone.localdate(self.relative.created_at)


def open_child_checklists(plan_ids: Iterable[int]) -> list[OpenChecklist]:
    """The child relatives of the given plans with open checklist steps, oldest first (one query). The
    caller has the plans through the access policy (coordination's worklist: the plans one coordinates)."""
    items = (
        ChildChecklistItem.objects.filter(
            plan_id__in=list(plan_ids),
            status=ChecklistStatus.OPEN,
            relative__ended_at__isnull=True,
            relative__is_child=True,
        )
        .select_related("relative")
        .order_by("relative__created_at", "relative_id", "id")
    )
    first: dict[int, ChildChecklistItem] = {}
    steps: dict[int, list[str]] = {}
    for item in items:
        first.setdefault(item.relative_id, item)
        steps.setdefault(item.relative_id, []).append(item.step)
    return [
        OpenChecklist(
            item.relative,
            item.plan_id,
            [str(ChildCareStep(step).label) for step in sorted(steps[relative_id], key=_step_position)],
        )
        for relative_id, item in first.items()
    ]


# --- the coordinator's risk: is any relative involved? ---


def involved_relative_exists() -> Exists:
    """For a query on plans: whether an adult relative still on the plan is involved by the patient's latest
    decision (any scope but "not involved"; a decision may have ended, the relative is still someone to
    lean on). Coordination's risk asks it (no extra query: a subquery of the plans' own)."""
    latest_scope = (
        RelativeConsent.objects.filter(relative=OuterRef("pk"))
        .order_by("-recorded_at", "-id")
        .values("scope")[:1]
    )
    involved = (
        Relative.objects.current()
        .filter(plan=OuterRef("pk"), is_child=False)
        .annotate(latest_scope=Subquery(latest_scope))
        .exclude(latest_scope=ConsentScope.NONE)
        .filter(latest_scope__isnull=False)
    )
    return Exists(involved)
