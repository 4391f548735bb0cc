"""Reads for the coordination pages and the hub's extension points. Each starts from the access policy
and reads in a constant number of queries, whatever the number of plans, tasks or messages."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db.models import (
    BooleanField,
    Case,
    Count,
    Exists,
    F,
    Func,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Greatest, Least
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from coordination import access as coordination_access
from coordination.choices import (
    RISK_LEVELS,
    RISK_WEIGHTS,
    DisputeStatus,
    MessagePriority,
    NeedCriterion,
    NeedOutcome,
    RiskLevel,
    RiskPart,
    WorkItemKind,
)
from coordination.models import (
    Dispute,
    EscalationStep,
    Message,
    MessageRecipient,
    MessageThread,
    NeedAssessment,
)
from pathways import access
from pathways.choices import PLAN_OPEN_STATUSES, TASK_OPEN_STATUSES, AccessAction, MembershipRole, TaskStatus
from pathways.extensions import CaseloadExtension, TaskMarker
from pathways.models import (
    EmergencyAccess,
    Membership,
    Organisation,
    PathwayPlan,
    PlanCondition,
    PlanParticipant,
    Task,
    User,
)
from pathways.selectors import emergency_alerts_for, plan_url, recent_hospital_events
from relatives.selectors import involved_relative_exists, open_child_checklists

# --- Worklist, risk and the caseload's columns -----------------------------------------------------------


def _count(rows: QuerySet[Any]) -> Subquery:
    """The number of `rows` (correlated to the outer plan) as an integer expression."""
    return Subquery(
        rows.order_by().values("plan").annotate(n=Count("id")).values("n"), output_field=IntegerField()
    )


def _risk_units(part: str, units: Any) -> Any:
    """The points a part scores: its units beyond the free ones, at most the cap, times the points."""
    weight = RISK_WEIGHTS[part]
    counted = Least(Greatest(units - Value(weight["free"]), Value(0)), Value(weight["cap"]))
    return counted * Value(weight["points"])


def _yes(condition: Q | Any) -> Case:
    return Case(When(condition, then=Value(1)), default=Value(0), output_field=IntegerField())


def annotate_coordination(plans: QuerySet[PathwayPlan], actor: Any) -> QuerySet[PathwayPlan]:
    """What the caseload and the worklist show of coordination per plan, in the plans' own query: the
    need flag, open disputes and the oldest one's age, unread messages for the actor's organisations, and
    the risk score with its parts (RISK_WEIGHTS)."""
    today = timezone.localdate()
    if "overdue_count" not in plans.query.annotations:
        overdue = Task.objects.filter(plan=OuterRef("pk"), status__in=TASK_OPEN_STATUSES, due_date__lt=today)
        plans = plans.annotate(overdue_count=Coalesce(_count(overdue), Value(0)))
    plans = plans.annotate(
        needs_coordinator=needs_coordinator_expression(),
        risk_admissions=Coalesce(latest_assessment_subquery("unplanned_admissions_12m"), Value(0)),
        latest_criteria=latest_assessment_subquery("criteria"),
        latest_outcome=latest_assessment_subquery("outcome"),
        latest_review_date=latest_assessment_subquery("review_date"),
        risk_conditions=Coalesce(_count(PlanCondition.objects.filter(plan=OuterRef("pk"))), Value(0)),
        risk_organisations=Coalesce(_count(PlanParticipant.objects.filter(plan=OuterRef("pk"))), Value(0)),
        open_disputes=Coalesce(open_dispute_count_subquery(), Value(0)),
        oldest_dispute_at=oldest_open_dispute_subquery(),
        unread_messages=Coalesce(unread_messages_subquery(actor), Value(0)),
        involved_relative=involved_relative_exists(),
    ).annotate(
        # No involved relative: the latest need assessment found none, and no relative has been involved
        # since (relatives: an adult on the plan whom the patient's latest decision involves).
        risk_no_relative=_yes(
            Q(latest_criteria__contains=[NeedCriterion.NO_RELATIVES]) & ~Q(involved_relative=True)
        ),
        risk_needs_coordinator=_yes(Q(latest_outcome=NeedOutcome.NEEDS_COORDINATOR)),
    )
    return plans.annotate(
        risk_score=_risk_units(RiskPart.ADMISSIONS, F("risk_admissions"))
        + _risk_units(RiskPart.CONDITIONS, F("risk_conditions"))
        + _risk_units(RiskPart.ORGANISATIONS, F("risk_organisations"))
        + _risk_units(RiskPart.OVERDUE, F("overdue_count"))
        + _risk_units(RiskPart.DISPUTES, F("open_disputes"))
        + _risk_units(RiskPart.NO_RELATIVE, F("risk_no_relative"))
        + _risk_units(RiskPart.NEEDS_COORDINATOR, F("risk_needs_coordinator"))
    )


@dataclass(frozen=True)
class RiskShare:
    part: str
    label: str
    value: int
    points: int

    @property
    def is_flag(self) -> bool:
        """A yes/no part (no involved relative, assessed need): shown without a number."""
        return RISK_WEIGHTS[self.part]["cap"] == 1


@dataclass(frozen=True)
class Risk:
    """A plan's risk level with the parts that make it up (from annotate_coordination's annotations)."""

    score: int
    level: RiskLevel
    parts: list[RiskShare]

    @property
    def scoring_parts(self) -> list[RiskShare]:
        return [share for share in self.parts if share.points]


_RISK_ANNOTATIONS = {
    RiskPart.ADMISSIONS: "risk_admissions",
    RiskPart.CONDITIONS: "risk_conditions",
    RiskPart.ORGANISATIONS: "risk_organisations",
    RiskPart.OVERDUE: "overdue_count",
    RiskPart.DISPUTES: "open_disputes",
    RiskPart.NO_RELATIVE: "risk_no_relative",
    RiskPart.NEEDS_COORDINATOR: "risk_needs_coordinator",
}


def risk_of(plan: PathwayPlan) -> Risk:
    """The risk of a plan read with annotate_coordination, part by part (no query)."""
    shares = []
    for part, attribute in _RISK_ANNOTATIONS.items():
        value = int(getattr(plan, attribute) or 0)
        weight = RISK_WEIGHTS[part]
        points = min(max(value - weight["free"], 0), weight["cap"]) * weight["points"]
        shares.append(RiskShare(part=part, label=str(RiskPart(part).label), value=value, points=points))
    score = sum(share.points for share in shares)
    level = next(level for floor, level in RISK_LEVELS if score >= floor)
    return Risk(score=score, level=level, parts=shares)


def _caseload_annotate(plans: QuerySet[PathwayPlan], actor: Any) -> QuerySet[PathwayPlan]:
    return annotate_coordination(plans, actor)


CASELOAD_EXTENSION = CaseloadExtension(
    key="coordination",
    annotate=_caseload_annotate,
    header_template="coordination/_partials/caseload_header.html",
    cells_template="coordination/_partials/caseload_cells.html",
    sorts={"risk": (_("Highest risk"), (F("risk_score").desc(), "patient__family_name", "id"))},
    filters={
        "needs_coordinator": (
            _("Only those who need a coordinator and have none"),
            lambda plans, _actor: plans.filter(needs_coordinator=True),
        ),
        "disputed": (_("Only with open disputes"), lambda plans, _actor: plans.filter(open_disputes__gt=0)),
    },
)


@dataclass(frozen=True)
class WorkItem:
    """One line of the worklist: what, for which patient, since or until when, and where on the plan."""

    kind: str
    plan: PathwayPlan
    title: str
    detail: str
    href: str
    when: date | None = None
    age_days: int | None = None
    urgent: bool = False


@dataclass
class WorkSection:
    kind: str
    label: str
    items: list[WorkItem]

    @property
    def count(self) -> int:
        return len(self.items)


@dataclass
class Worklist:
    """The coordinator's worklist (or, for others, the lines that concern their organisations)."""

    as_coordinator: bool
    sections: list[WorkSection]
    plans: list[tuple[PathwayPlan, Risk]]
    today: date
    shown: str = ""
    # The unseen emergency accesses, shown with the hub's own alert (mark as seen, the access log).
    emergency_alerts: list[EmergencyAccess] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(section.count for section in self.sections)

    @property
    def shown_sections(self) -> list[WorkSection]:
        return [section for section in self.sections if not self.shown or section.kind == self.shown]


WORKLIST_SHOWN_PER_SECTION = 50
# The lines only the plans one coordinates have (everyone else's worklist leaves them out).
COORDINATOR_ONLY_LINES = (
    WorkItemKind.REVIEW,
    WorkItemKind.EMERGENCY,
    WorkItemKind.HOSPITAL,
    WorkItemKind.CHILD_CHECKLIST,
)
RISK_TABLE_SIZE = 50  # the riskiest of a coordinator's plans; the caseload sorts them all by risk


def worklist_for_coordinator(actor: User, *, show: str = "") -> Worklist:
    """What needs doing across the actor's plans, in a fixed number of queries however many plans.

    A user with plans to coordinate (as coordinator or substitute) gets their whole plans' lines; anyone
    else gets the lines of the plans they see that concern the organisations they act for (their tasks,
    their commitments, messages to them, disputes they are party to). `show` narrows to one kind of line
    (WorkItemKind) on the page; the counts stay those of all lines. The patients shown are logged.
    """
    today = timezone.localdate()
    coordinated = access.plans_visible_to(actor).filter(
        access.coordinated_by(actor), status__in=PLAN_OPEN_STATUSES
    )
    as_coordinator = coordinated.exists()
    if as_coordinator:
        # Their own plans, riskiest first, with what the risk table shows.
        plans = list(
            annotate_coordination(coordinated.select_related("patient"), actor).order_by(
                F("risk_score").desc(), "patient__family_name", "id"
            )
        )
    else:
        # Everyone else: the plans their organisations take part in, only to name the lines' patients.
        plans = list(
            access.plans_visible_to(actor)
            .filter(status__in=PLAN_OPEN_STATUSES)
            .select_related("patient")
            .only("id", "public_id", "title", "review_date", "patient__given_name", "patient__family_name")
        )
    by_id = {plan.pk: plan for plan in plans}
    acting = access.acting_organisation_ids(actor)
    items: dict[str, list[WorkItem]] = {kind: [] for kind in WorkItemKind.values}

    # Tasks: overdue, due within 7 days, released (their dependency is done and they have not started).
    tasks = Task.objects.filter(plan_id__in=list(by_id), status__in=TASK_OPEN_STATUSES).filter(
        Q(due_date__lte=today + timedelta(days=7))
        | Q(depends_on__status=TaskStatus.COMPLETED, status__in=[TaskStatus.REQUESTED, TaskStatus.ACCEPTED])
    )
    if not as_coordinator:
        tasks = tasks.filter(Q(responsible_organisation_id__in=acting) | Q(responsible_person=actor))
    for task in tasks.select_related("responsible_organisation", "depends_on").order_by("due_date", "id"):
        plan = by_id[task.plan_id]
        href = plan_url(plan, f"task-{task.public_id}")
        who = task.responsible_organisation.name
        if task.due_date is not None and task.due_date < today:
            items[WorkItemKind.OVERDUE].append(
                WorkItem(
                    WorkItemKind.OVERDUE,
                    plan,
                    task.title,
                    who,
                    href,
                    task.due_date,
                    (today - task.due_date).days,
                )
            )
        elif task.due_date is not None and task.due_date <= today + timedelta(days=7):
            items[WorkItemKind.DUE_SOON].append(
                WorkItem(WorkItemKind.DUE_SOON, plan, task.title, who, href, task.due_date)
            )
        if (
            task.depends_on is not None
            and task.depends_on.status == TaskStatus.COMPLETED
            and task.status in (TaskStatus.REQUESTED, TaskStatus.ACCEPTED)
        ):
            items[WorkItemKind.READY].append(
                WorkItem(
                    WorkItemKind.READY,
                    plan,
                    task.title,
                    str(_("Waited for: %(task)s") % {"task": task.depends_on.title}),
                    href,
                    task.due_date,
                )
            )
    disputes = Dispute.objects.open().filter(plan_id__in=list(by_id)).select_related("task")
    if not as_coordinator:
        disputes = disputes.filter(
            Q(parties__in=acting)
            | Q(interim_organisation_id__in=acting)
            | Q(task__responsible_organisation_id__in=acting)
        ).distinct()
    for dispute in disputes.order_by("raised_at", "id"):
        plan = by_id[dispute.plan_id]
        raised = timezone.localdate(dispute.raised_at)
        items[WorkItemKind.DISPUTE].append(
            WorkItem(
                WorkItemKind.DISPUTE,
                plan,
                dispute.task.title,
                dispute.get_question_display(),
                plan_url(plan, f"dispute-{dispute.public_id}"),
                raised,
                (today - raised).days,
            )
        )
    own = access.active_organisation_ids(actor)
    unread = (
        MessageRecipient.objects.filter(
            plan_id__in=list(by_id), organisation_id__in=own, read_at__isnull=True
        )
        .select_related("message__thread", "message__sender_organisation")
        .order_by("message__sent_at", "id")
    )
    threads: dict[int, WorkItem] = {}
    for receipt in unread:
        message = receipt.message
        thread = message.thread
        if thread.pk in threads:
            continue
        plan = by_id[receipt.plan_id]
        threads[thread.pk] = WorkItem(
            WorkItemKind.UNREAD,
            plan,
            thread.subject,
            message.sender_organisation.name,
            reverse("coordination:thread-detail", args=[plan.public_id, thread.public_id]),
            timezone.localdate(message.sent_at),
            urgent=message.priority == MessagePriority.URGENT,
        )
    items[WorkItemKind.UNREAD] = list(threads.values())
    if as_coordinator:
        for plan in plans:
            due = plan.review_date
            if due is not None and due < today:
                items[WorkItemKind.REVIEW].append(
                    WorkItem(
                        WorkItemKind.REVIEW,
                        plan,
                        str(_("Review the plan")),
                        plan.title,
                        plan_url(plan),
                        due,
                        (today - due).days,
                    )
                )
            reassess = getattr(plan, "latest_review_date", None)
            if reassess is not None and reassess < today:
                items[WorkItemKind.REVIEW].append(
                    WorkItem(
                        WorkItemKind.REVIEW,
                        plan,
                        str(_("Reassess the need for a coordinator")),
                        plan.title,
                        plan_url(plan, "coordination"),
                        reassess,
                        (today - reassess).days,
                    )
                )
    if as_coordinator:
        # Admissions and discharges of the last 7 days: held tasks, follow-ups to see to.
        for event in recent_hospital_events(by_id):
            if event.plan_id is None:
                continue
            plan = by_id[event.plan_id]
            happened = timezone.localdate(event.occurred_at)
            items[WorkItemKind.HOSPITAL].append(
                WorkItem(
                    WorkItemKind.HOSPITAL,
                    plan,
                    event.get_kind_display(),
                    event.stay.hospital.name,
                    plan_url(plan, f"stay-event-{event.public_id}"),
                    happened,
                    (today - happened).days,
                )
            )
    if as_coordinator:
        # Children as relatives (relatives): each child whose checklist still has open steps.
        for child in open_child_checklists(by_id):
            plan, count = by_id[child.plan_id], len(child.open_steps)
            items[WorkItemKind.CHILD_CHECKLIST].append(
                WorkItem(
                    WorkItemKind.CHILD_CHECKLIST,
                    plan,
                    ngettext("%(name)s: %(count)d step open", "%(name)s: %(count)d steps open", count)
                    % {"name": child.relative.name, "count": count},
                    str(_("Next: %(step)s") % {"step": child.open_steps[0]}),
                    plan_url(plan, f"relative-{child.relative.public_id}"),
                    child.since,
                    (today - child.since).days,
                )
            )
    # Plans without a coordinator are nobody's to coordinate yet: every participant's worklist shows those
    # assessed as needing one.
    needing = list(
        access.plans_visible_to(actor)
        .filter(status__in=PLAN_OPEN_STATUSES)
        .annotate(needs=needs_coordinator_expression())
        .filter(needs=True)
        .select_related("patient")
        .order_by("patient__family_name", "id")
    )
    for plan in needing:
        items[WorkItemKind.NEEDS_COORDINATOR].append(
            WorkItem(
                WorkItemKind.NEEDS_COORDINATOR,
                plan,
                str(_("Assign a coordinator")),
                plan.title,
                plan_url(plan, "coordination"),
            )
        )
    waiting = PlanParticipant.objects.filter(plan_id__in=list(by_id), accepted_at__isnull=True)
    if not as_coordinator:
        waiting = waiting.filter(organisation_id__in=acting)
    for participant in waiting.select_related("organisation").order_by("added_at", "id"):
        plan = by_id[participant.plan_id]
        added = timezone.localdate(participant.added_at)
        items[WorkItemKind.NOT_ACCEPTED].append(
            WorkItem(
                WorkItemKind.NOT_ACCEPTED,
                plan,
                participant.organisation.name,
                participant.commitment,
                plan_url(plan, "participants"),
                added,
                (today - added).days,
            )
        )
    alerts = emergency_alerts_for(actor) if as_coordinator else []
    if as_coordinator:
        for grant in alerts:
            opened = by_id.get(grant.plan_id)
            if opened is None:
                continue
            granted = timezone.localdate(grant.granted_at)
            items[WorkItemKind.EMERGENCY].append(
                WorkItem(
                    WorkItemKind.EMERGENCY,
                    opened,
                    str(grant.actor),
                    grant.organisation.name,
                    plan_url(opened),
                    granted,
                    (today - granted).days,
                )
            )
    sections = [
        WorkSection(kind, str(WorkItemKind(kind).label), items[kind])
        for kind in WorkItemKind.values
        if as_coordinator or kind not in COORDINATOR_ONLY_LINES
    ]
    # Each patient the page names is a read: the lines' and the risk table's (the riskiest of one's own).
    risk_table = plans[:RISK_TABLE_SIZE] if as_coordinator else []
    listed = {
        item.plan.pk: item.plan for section in sections for item in section.items[:WORKLIST_SHOWN_PER_SECTION]
    }
    listed |= {plan.pk: plan for plan in risk_table}
    access.access_log_plans(actor, listed.values(), action=AccessAction.LIST)
    return Worklist(
        as_coordinator=as_coordinator,
        sections=sections,
        plans=[(plan, risk_of(plan)) for plan in risk_table],
        today=today,
        shown=show,
        emergency_alerts=[grant for grant in alerts if grant.plan_id in by_id],
    )


def is_coordinator_user(actor: User) -> bool:
    """Whether the user works with the coordinator role anywhere (their start page is the worklist)."""
    return Membership.objects.active().filter(user=actor, role=MembershipRole.COORDINATOR).exists()


# --- Need assessment and coordinator handover ----------------------------------------------------------


def plans_with_coordinators() -> QuerySet[PathwayPlan]:
    """Plans read with their coordinator, organisation and substitute (for access.access_plan)."""
    return PathwayPlan.objects.select_related(
        "coordinator", "coordinator_organisation", "coordinator_substitute"
    )


def plan_as_saved(plan: PathwayPlan) -> PathwayPlan:
    """The plan as saved now (after a change or a conflict), with its coordinators. The caller has it
    from access.access_plan."""
    return plans_with_coordinators().get(pk=plan.pk)


HANDOVERS_SHOWN = 3  # the plan page shows the last few handovers; the plan's history has them all


def _latest_assessment_of_outer_plan() -> QuerySet[NeedAssessment]:
    """The latest assessment of the plan of the outer query (inside a subquery on plans)."""
    return NeedAssessment.objects.filter(plan=OuterRef("pk")).order_by("-assessed_on", "-id")


def latest_assessment_subquery(field: str) -> Subquery:
    """A field of the plan's latest need assessment (NULL when it has none), for `.annotate()` on plans."""
    return Subquery(_latest_assessment_of_outer_plan().values(field)[:1])


def needs_coordinator_expression() -> Case:
    """True where the plan's latest assessment says it needs a coordinator and it has none: the plan
    stands out on every participant's caseload until one is assigned. For `.annotate()` on plans."""
    latest_says_so = Exists(
        NeedAssessment.objects.filter(
            pk=Subquery(
                NeedAssessment.objects.filter(plan=OuterRef(OuterRef("pk")))
                .order_by("-assessed_on", "-id")
                .values("pk")[:1]
            ),
            outcome=NeedOutcome.NEEDS_COORDINATOR,
        )
    )
    return Case(
        When(Q(coordinator__isnull=True) & latest_says_so, then=Value(True)),
        default=Value(False),
        output_field=BooleanField(),
    )


@dataclass(frozen=True)
class LatestAssessment:
    """The plan's latest need assessment as the plan page shows it."""

    assessment: NeedAssessment
    criteria: list[str]  # the labels of the criteria met
    review_overdue: bool

    @property
    def needs_coordinator(self) -> bool:
        return self.assessment.outcome == NeedOutcome.NEEDS_COORDINATOR


def coordination_context(
    actor: User,
    plan: PathwayPlan,
    rights: access.PlanRights,
    participating: frozenset[int],
    *,
    read_only: bool,
) -> dict[str, Any]:
    """What the plan page's coordination section shows (coordination/_partials/plan_coordination.html),
    in two queries: the latest assessment and the last handovers. `plan` comes with its coordinator, the
    coordinator's organisation and the substitute loaded; `read_only` for a break-the-glass reader."""
    assessment = (
        plan.need_assessments.select_related("assessed_by", "assessed_by_organisation")
        .order_by("-assessed_on", "-id")
        .first()
    )
    latest = None
    if assessment is not None:
        labels = dict(NeedCriterion.choices)
        latest = LatestAssessment(
            assessment=assessment,
            criteria=[str(labels[c]) for c in assessment.criteria if c in labels],
            review_overdue=assessment.review_date < timezone.localdate(),
        )
    handovers = list(
        plan.coordinator_handovers.select_related(
            "from_coordinator",
            "to_coordinator",
            "organisation",
            "from_substitute",
            "to_substitute",
            "handed_over_by",
        ).order_by("-handed_over_at", "-id")[:HANDOVERS_SHOWN]
    )
    return {
        "plan": plan,
        "coordination": {
            "coordinator": plan.coordinator,
            "organisation": plan.coordinator_organisation,
            "substitute": plan.coordinator_substitute,
            "phone": plan.coordinator_phone,
            "latest": latest,
            "needs_coordinator_without_one": latest is not None
            and latest.needs_coordinator
            and plan.coordinator_id is None,
            "handovers": handovers,
            "may_assess": not read_only and coordination_access.may_assess_need(rights, participating),
            "may_hand_over": not read_only
            and coordination_access.may_hand_over(actor, plan, rights, participating),
        },
    }


def plan_coordination_section(actor: Any, page: Any) -> dict[str, Any] | None:
    """The plan page's coordination section (pathways.extensions.PlanSection): who coordinates, the need
    assessment, the last handovers and, for those who may, the ways to change them."""
    participating = frozenset(participant.organisation_id for participant, _accept in page.participants)
    return coordination_context(
        actor, page.plan, page.rights, participating, read_only=page.emergency is not None
    )


def coordinator_candidates(plan: PathwayPlan) -> QuerySet[User]:
    """Who can be the plan's coordinator or substitute: active users with the coordinator role in an
    organisation taking part in the plan (pathways.services.coordinator_assign checks it again)."""
    return (
        User.objects.filter(
            is_active=True,
            memberships__role=MembershipRole.COORDINATOR,
            memberships__ended_at__isnull=True,
            memberships__organisation__participations__plan=plan,
        )
        .distinct()
        .order_by("first_name", "last_name", "id")
    )


def assessment_organisations(actor: User, plan: PathwayPlan) -> QuerySet[Organisation]:
    """The organisations the actor may assess for in this plan: those they act for that take part, the
    ones they work in first (the form proposes the first), then the units under them."""
    own = list(access.active_organisation_ids(actor)) or [0]
    return (
        Organisation.objects.filter(pk__in=access.acting_organisation_ids(actor), participations__plan=plan)
        .annotate(not_own=_yes(~Q(pk__in=own)))
        .order_by("not_own", "name")
    )


def plan_organisations(plan: PathwayPlan) -> QuerySet[Organisation]:
    """The organisations taking part in the plan (where its coordinator may work)."""
    return Organisation.objects.filter(participations__plan=plan).order_by("name")


# --- Responsibility disputes ---------------------------------------------------------------------------

# How often an open plan page asks for its disputes again (seconds); the browser test shortens it.
DISPUTES_POLL_SECONDS = 30
# Resolved disputes stay in the plan's section this long (all of them remain in the plan's history).
DISPUTES_RESOLVED_SHOWN_FOR = timedelta(days=30)


def days_label(days: int) -> str:
    return ngettext("%(count)d day", "%(count)d days", days) % {"count": days}


def _age_days(raised_at: datetime, today: date) -> int:
    return max((today - timezone.localtime(raised_at).date()).days, 0)


@dataclass(frozen=True)
class DisputeRow:
    """A dispute as the plan page shows it: its parties, its age and how far it has been escalated."""

    dispute: Dispute
    parties: list[Organisation]
    age_days: int
    age_label: str
    escalation_label: str


@dataclass(frozen=True)
class DisputesSection:
    plan: PathwayPlan
    open: list[DisputeRow]
    resolved: list[DisputeRow]
    can_raise: bool  # the reader may mark a task's responsibility as disputed (and there is a task to mark)
    can_resolve: bool  # the plan's coordinator (or substitute)
    poll_seconds: int
    # What the list shows, in one word: the poll sends it back and hears "nothing new" (204) while it
    # still holds (see disputes_fingerprint).
    fingerprint: str = ""


def _shown_disputes(plan_id: int) -> QuerySet[Dispute]:
    """The disputes the section lists: open ones, and those resolved in the last 30 days."""
    return Dispute.objects.filter(plan_id=plan_id).filter(
        Q(status=DisputeStatus.OPEN)
        | Q(status=DisputeStatus.RESOLVED, resolved_at__gte=timezone.now() - DISPUTES_RESOLVED_SHOWN_FOR)
    )


def _fingerprint(rows: list[tuple[int, int, int]]) -> str:
    """(id, version, escalation step) of the listed disputes, and today (ages are shown in days)."""
    parts = [
        timezone.localdate().isoformat(),
        len(rows),
        max((row[0] for row in rows), default=0),
        sum(row[1] for row in rows),
        sum(row[2] for row in rows),
    ]
    return "-".join(str(part) for part in parts)


def disputes_fingerprint(plan_id: int) -> str:
    """A word that changes whenever the plan's disputes list would: a dispute raised, resolved,
    escalated or dropping off the list, or a new day. One small query, no patient data."""
    return _fingerprint(list(_shown_disputes(plan_id).values_list("id", "version", "escalation_step")))


def unchanged_disputes(actor: User, public_id: Any, fingerprint: str) -> bool:
    """Whether the plan's disputes list is as the reader's page shows it (`fingerprint`). Only for a
    plan the reader takes part in (an emergency reader always gets the list, logged); it shows nothing,
    so it is no read of patient data and writes no access-log row."""
    if not fingerprint:
        return False
    plan_id = access.plans_visible_to(actor).filter(public_id=public_id).values_list("pk", flat=True).first()
    return plan_id is not None and disputes_fingerprint(plan_id) == fingerprint


def _may_raise(plan: PathwayPlan, rights: access.PlanRights, open_task_ids: set[int]) -> bool:
    if not open_task_ids:
        return False
    if rights.is_coordinator:
        return True
    if not rights.acting_organisation_ids:
        return False
    return PlanParticipant.objects.filter(
        plan=plan, organisation_id__in=rights.acting_organisation_ids
    ).exists()


def disputes_section_for(
    plan: PathwayPlan, rights: access.PlanRights, tasks: list[Task] | None = None
) -> DisputesSection:
    """The plan's open disputes (oldest first) and those resolved in the last 30 days (newest first), with
    what the reader may do. The caller has the plan from access.access_plan. At most five queries."""
    now = timezone.now()
    today = timezone.localdate()
    disputes = list(
        _shown_disputes(plan.pk)
        .select_related(
            "task",
            "interim_organisation",
            "raised_by",
            "raised_by_organisation",
            "resolved_by",
            "decided_organisation",
        )
        .prefetch_related(Prefetch("parties", queryset=Organisation.objects.order_by("name")))
        .order_by("raised_at", "id")
    )
    ladder: dict[int, str] = {}
    if any(d.escalation_step for d in disputes if d.status == DisputeStatus.OPEN):
        ladder = {s.step: str(s.get_target_display()) for s in EscalationStep.objects.all()}

    def row(dispute: Dispute) -> DisputeRow:
        age = _age_days(dispute.raised_at, today)
        escalation = ""
        if dispute.escalation_step:
            escalation = _("Escalated (step %(step)d): %(target)s") % {
                "step": dispute.escalation_step,
                "target": ladder.get(dispute.escalation_step, ""),
            }
        return DisputeRow(dispute, list(dispute.parties.all()), age, days_label(age), str(escalation))

    open_rows = [row(d) for d in disputes if d.status == DisputeStatus.OPEN]
    resolved = sorted(
        (d for d in disputes if d.status == DisputeStatus.RESOLVED),
        key=lambda d: d.resolved_at or now,
        reverse=True,
    )
    open_task_ids: set[int] = set()
    disputed = {r.dispute.task_id for r in open_rows}
    if tasks is not None:  # the plan page has its tasks already
        open_task_ids = {t.pk for t in tasks if t.status in TASK_OPEN_STATUSES and t.pk not in disputed}
    elif rights.is_coordinator or rights.acting_organisation_ids:
        open_task_ids = set(
            plan.tasks.filter(status__in=TASK_OPEN_STATUSES)
            .exclude(pk__in=disputed)
            .values_list("pk", flat=True)
        )
    return DisputesSection(
        plan=plan,
        open=open_rows,
        resolved=[row(d) for d in resolved[:10]],
        can_raise=_may_raise(plan, rights, open_task_ids),
        can_resolve=rights is not access.READ_ONLY and coordination_access.may_resolve(plan, rights),
        poll_seconds=int(getattr(settings, "DISPUTES_POLL_SECONDS", DISPUTES_POLL_SECONDS)),
        fingerprint=_fingerprint([(d.pk, d.version, d.escalation_step) for d in disputes]),
    )


def plan_disputes_section(actor: Any, page: Any) -> dict[str, Any] | None:  # noqa: ARG001 (the hook's shape)
    """The plan page's "Responsibility disputes" section (pathways.extensions.PlanSection)."""
    tasks = [row.task for row in page.rows]
    return {"disputes_section": disputes_section_for(page.plan, page.rights, tasks)}


def dispute_task_markers(actor: Any, plan: Any, tasks: list[Any]) -> dict[int, list[TaskMarker]]:  # noqa: ARG001
    """The marker "Responsibility disputed · 21 days" on each task with an open dispute, linking to it
    (one query for all tasks; the hook's shape includes the reader)."""
    if not tasks:
        return {}
    today = timezone.localdate()
    markers: dict[int, list[TaskMarker]] = {}
    rows = (
        Dispute.objects.open()
        .filter(plan=plan, task_id__in=[task.pk for task in tasks])
        .values_list("task_id", "public_id", "raised_at")
    )
    for task_id, public_id, raised_at in rows:
        age = _age_days(raised_at, today)
        label = (
            _("Responsibility disputed since today")
            if age == 0
            else _("Responsibility disputed · %(age)s") % {"age": days_label(age)}
        )
        markers.setdefault(task_id, []).append(TaskMarker(str(label), "warning", f"#dispute-{public_id}"))
    return markers


@dataclass(frozen=True)
class DisputeChoices:
    """What the dispute forms offer: the plan's open tasks not already disputed, the organisations the
    reader may raise a dispute for, and all organisations taking part (querysets, read when the form is)."""

    tasks: QuerySet[Task]
    raise_for: QuerySet[Organisation]
    participating: QuerySet[Organisation]


def dispute_choices(plan: PathwayPlan, rights: access.PlanRights) -> DisputeChoices:
    participating = Organisation.objects.filter(participations__plan=plan).order_by("name")
    tasks = (
        plan.tasks.filter(status__in=TASK_OPEN_STATUSES)
        .exclude(pk__in=Dispute.objects.open().filter(plan=plan).values("task_id"))
        .select_related("responsible_organisation")
        .order_by("due_date", "id")
    )
    raise_for = (
        participating
        if rights.is_coordinator
        else participating.filter(pk__in=rights.acting_organisation_ids)
    )
    return DisputeChoices(tasks=tasks, raise_for=raise_for, participating=participating)


def _open_disputes_of_plan() -> QuerySet[Dispute]:
    return Dispute.objects.open().filter(plan=OuterRef("pk"))


def open_dispute_count_subquery() -> Coalesce:
    """The number of the plan's open disputes, as an expression on a PathwayPlan queryset."""
    counted = _open_disputes_of_plan().order_by().values("plan").annotate(n=Count("id")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def oldest_open_dispute_subquery() -> Subquery:
    """When the plan's oldest open dispute was raised (None without one), on a PathwayPlan queryset."""
    return Subquery(_open_disputes_of_plan().order_by("raised_at").values("raised_at")[:1])


# --- Messages between sectors ----------------------------------------------------------------------------


def _number_of(rows: QuerySet[Any]) -> Coalesce:
    """How many `rows` there are (a subquery correlated to the outer query), 0 for none."""
    counted = rows.order_by().annotate(n=Func(F("pk"), function="COUNT")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def _unread_receipts(actor: Any) -> QuerySet[MessageRecipient]:
    return MessageRecipient.objects.filter(
        organisation_id__in=access.active_organisation_ids(actor), read_at__isnull=True
    )


def unread_messages_subquery(actor: Any) -> Any:
    """For `.annotate()` on plans: the number of the plan's unread messages addressed to the actor's
    organisations (their receipts not yet read by anyone there). One subquery in the plans' query."""
    if not access.active_organisation_ids(actor):
        return Value(0, output_field=IntegerField())
    return _number_of(_unread_receipts(actor).filter(plan=OuterRef("pk")))


def unread_message_total(actor: Any) -> int:
    """The actor's organisations' unread messages over every plan the actor may see (one query)."""
    if not access.active_organisation_ids(actor):
        return 0
    return _unread_receipts(actor).filter(plan__in=access.plans_visible_to(actor)).count()


@dataclass(frozen=True)
class ThreadRow:
    """A thread as the plan's message list shows it. The thread is annotated with `message_count`,
    `unread_count` (for the reader's organisations), `last_priority` and `urgent_unread`."""

    thread: MessageThread
    url: str

    @property
    def is_urgent(self) -> bool:
        thread: Any = self.thread
        return bool(thread.urgent_unread) or thread.last_priority == MessagePriority.URGENT


@dataclass(frozen=True)
class MessageSection:
    threads: list[ThreadRow]
    can_send: bool
    new_url: str
    unread: int


def plan_threads(actor: Any, plan: PathwayPlan) -> list[ThreadRow]:
    """The plan's threads, latest first, with what the list shows: one query, however many threads and
    messages."""
    messages = Message.objects.filter(thread=OuterRef("pk"))
    unread = _unread_receipts(actor).filter(message__thread=OuterRef("pk"))
    threads = (
        plan.message_threads.select_related("task")
        .annotate(
            message_count=_number_of(messages),
            unread_count=_number_of(unread),
            urgent_unread=_number_of(unread.filter(message__priority=MessagePriority.URGENT)),
            last_priority=Subquery(messages.order_by("-sent_at", "-id").values("priority")[:1]),
        )
        .order_by("-last_message_at", "-id")
    )
    return [
        ThreadRow(
            thread=thread, url=reverse("coordination:thread-detail", args=[plan.public_id, thread.public_id])
        )
        for thread in threads
    ]


def plan_messages_section(actor: Any, page: Any) -> dict[str, Any] | None:
    """The plan page's messages between sectors: every reader of the plan sees its threads (an emergency
    reader too); those who write for an organisation in the plan may start one."""
    plan = page.plan
    threads = plan_threads(actor, plan)
    in_plan = coordination_access.plan_organisation_ids(
        plan, participating=(participant.organisation_id for participant, _can_accept in page.participants)
    )
    senders = coordination_access.message_sender_organisation_ids(actor, plan, in_plan=in_plan)
    can_send = page.emergency is None and bool(senders)
    section = MessageSection(
        threads=threads,
        can_send=can_send,
        new_url=reverse("coordination:thread-create", args=[plan.public_id]),
        unread=sum(row.thread.unread_count for row in threads),  # type: ignore[attr-defined]
    )
    return {"message_section": section}


def message_form_organisations(
    actor: Any, plan: PathwayPlan
) -> tuple[QuerySet[Organisation], QuerySet[Organisation]]:
    """(the organisations the actor may write for in the plan, those they may write to), by name."""
    sender_ids = coordination_access.message_sender_organisation_ids(actor, plan)
    senders = Organisation.objects.filter(pk__in=sender_ids)
    recipients = Organisation.objects.filter(pk__in=coordination_access.plan_organisation_ids(plan))
    return senders.order_by("name"), recipients.order_by("name")


@dataclass(frozen=True)
class ThreadPage:
    """A thread as its page shows it: the messages in order, each with its sender and its receipts."""

    plan: PathwayPlan
    thread: MessageThread
    messages: list[Message]
    emergency: Any
    can_reply: bool
    # Who a reply goes to unless the writer changes it: the last message's sender and recipients, except
    # the organisation the reader writes from.
    reply_sender: Organisation | None
    reply_recipients: list[Organisation]


def thread_page(actor: Any, plan_access: access.PlanAccess, thread: MessageThread) -> ThreadPage:
    """Everything the thread page shows, in three queries whatever the number of messages. The caller
    has the plan from access_plan (which logs the read) and the thread from access_thread."""
    plan = plan_access.plan
    receipts = MessageRecipient.objects.select_related("organisation", "read_by").order_by(
        "organisation__name"
    )
    messages = list(
        thread.messages.select_related("sender", "sender_organisation")
        .prefetch_related(Prefetch("recipients", queryset=receipts))
        .order_by("sent_at", "id")
    )
    senders: frozenset[int] = frozenset()
    if plan_access.emergency is None:  # an emergency reader writes for no organisation in the plan
        senders = coordination_access.message_sender_organisation_ids(actor, plan)
    reply_sender: Organisation | None = None
    reply_recipients: list[Organisation] = []
    if senders and messages:
        last = messages[-1]
        involved = [last.sender_organisation, *(r.organisation for r in last.recipients.all())]
        if last.sender_id == actor.pk and last.sender_organisation_id in senders:
            # A follow-up to one's own message: from where one wrote, not from a unit one also acts for
            # that happens to be among the recipients.
            reply_sender = last.sender_organisation
        else:
            reply_sender = next((o for o in involved[1:] if o.pk in senders), None)
        if reply_sender is None and len(senders) == 1:
            reply_sender = Organisation.objects.get(pk=next(iter(senders)))
        seen: set[int] = set()
        for organisation in involved:
            if organisation.pk not in seen and (reply_sender is None or organisation.pk != reply_sender.pk):
                seen.add(organisation.pk)
                reply_recipients.append(organisation)
    return ThreadPage(
        plan=plan,
        thread=thread,
        messages=messages,
        emergency=plan_access.emergency,
        can_reply=bool(senders),
        reply_sender=reply_sender,
        reply_recipients=reply_recipients,
    )


def message_answered(message: Message) -> Message | None:
    """The message before `message` in its thread (the one a reply answers), None for a thread's first."""
    return (
        Message.objects.filter(thread_id=message.thread_id)
        .filter(Q(sent_at__lt=message.sent_at) | Q(sent_at=message.sent_at, pk__lt=message.pk))
        .select_related("received_as")
        .order_by("-sent_at", "-pk")
        .first()
    )


def organisations_by_public_id(public_ids: Iterable[UUID]) -> dict[UUID, Organisation]:
    """The active organisations of these public ids, by public id (those that do not exist are missing)."""
    return {
        o.public_id: o for o in Organisation.objects.filter(public_id__in=list(public_ids), is_active=True)
    }


def message_for_api(message_id: int) -> Message:
    """A message as the API answers it after posting it (the caller has been through the access policy)."""
    return (
        Message.objects.select_related("thread__task", "plan", "sender_organisation")
        .prefetch_related("recipients__organisation")
        .get(pk=message_id)
    )
