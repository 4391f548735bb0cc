"""The access matrix's rows for responsibility disputes (merged by tests/test_access_matrix.py, PARTS)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from coordination import services
from coordination.choices import DisputeQuestion, EscalationTarget
from coordination.models import Dispute, EscalationContact, EscalationStep, Secretariat
from pathways import services as hub_services
from pathways.choices import TASK_OPEN_STATUSES, Sector
from pathways.models import Organisation, Task

STAFF = ["admin", "coordinator", "hospital_doctor", "home_nurse", "gp_doctor", "outsider"]
# The roles who see the world's own plan (Kirsten's): its three sectors and its coordinator.
IN_PLAN = {"coordinator", "hospital_doctor", "home_nurse", "gp_doctor"}
WORKS_IN = {
    "coordinator": "municipality",
    "home_nurse": "municipality",
    "hospital_doctor": "hospital",
    "gp_doctor": "gp",
    "outsider": "unrelated",
}
# The foreign plan has one organisation (the outsider's): build() adds a second to disagree with.
FOREIGN_PARTY = "Matrix Kommune (tvist)"


def _plan_rule(ok: int) -> dict[str, dict[str, int]]:
    """Own plan: every organisation taking part; foreign plan: only the outsider's."""
    return {
        "own": {role: ok if role in IN_PLAN else 404 for role in STAFF} | {"anonymous": 302},
        "other": {role: ok if role == "outsider" else 404 for role in STAFF} | {"anonymous": 302},
    }


def _coordinator_only(ok: int) -> dict[str, dict[str, int]]:
    """Only the plan's coordinator resolves; the plan's other sectors are refused, outsiders see nothing.
    The foreign plan has no coordinator: the organisations taking part (the outsider's) decide there."""
    return {
        "own": {role: 403 if role in IN_PLAN else 404 for role in STAFF}
        | {"coordinator": ok, "anonymous": 302},
        "other": {role: ok if role == "outsider" else 404 for role in STAFF} | {"anonymous": 302},
    }


ROWS: dict[str, tuple[str | None, dict[str, Any]]] = {
    # The section's own refresh (htmx polling): a logged read for everyone who sees the plan.
    "coordination:plan-disputes-partial": ("plan", {"GET": _plan_rule(200)}),
    # Everyone acting for an organisation taking part may mark a task disputed.
    "coordination:dispute-create": ("plan", {"GET": _plan_rule(200), "POST": _plan_rule(302)}),
    "coordination:dispute-resolve": (
        "plan-dispute",
        {"GET": _coordinator_only(200), "POST": _coordinator_only(302)},
    ),
}


def _dispute(plan: Any) -> Dispute:
    """The plan's first dispute; made where there is none (a world other than the matrix's own, such as
    tests/test_hostile_input.py's), as build() makes them."""
    dispute = plan.disputes.order_by("pk").first()
    if dispute is None:
        dispute = _raise_in(plan)
    return dispute


def _raise_in(plan: Any) -> Dispute:
    """A dispute about a new task between the plan's first organisation and another one taking part (a
    second organisation is added to a plan that has only one), raised by its coordinator or creator."""
    organisations = [p.organisation for p in plan.participants.select_related("organisation").order_by("pk")]
    if len(organisations) < 2:
        second, _created = Organisation.objects.get_or_create(
            sor_code="9301", defaults={"name": FOREIGN_PARTY, "sector": Sector.MUNICIPALITY}
        )
        hub_services.participant_add(actor=None, plan=plan, organisation=second)
        organisations.append(second)
    own, other = organisations[0], organisations[1]
    if plan.coordinator_organisation is not None:
        own = plan.coordinator_organisation
        other = next(o for o in organisations if o != own)
    task = hub_services.task_create(
        actor=None, plan=plan, title="Matrix: nålefri måler", responsible_organisation=other
    )
    return services.dispute_raise(
        actor=plan.coordinator or plan.created_by,
        task=task,
        organisation=own,
        parties=[own, other],
        question=DisputeQuestion.WHO_PAYS,
        reason="Uenige om betalingen.",
        interim_organisation=own,
    )


def _open_task(plan: Any) -> Task:
    task = (
        plan.tasks.filter(status__in=TASK_OPEN_STATUSES)
        .exclude(disputes__status="open")
        .order_by("pk")
        .first()
    )
    assert task is not None
    return task


def _organisation(asker: Any) -> Organisation:
    organisations = [
        p.organisation for p in asker.plan.participants.select_related("organisation").order_by("pk")
    ]
    own = getattr(asker.world, WORKS_IN.get(asker.role, ""), None)
    if own is not None and own in organisations:
        return own
    return organisations[0]


def _parties(asker: Any) -> list[Organisation]:
    """The asker's organisation and another one taking part in the plan."""
    own = _organisation(asker)
    other = (
        asker.plan.participants.exclude(organisation=own)
        .select_related("organisation")
        .order_by("pk")
        .first()
    )
    return [own, other.organisation]


BODIES: dict[str, Callable[[Any], dict[str, Any]]] = {
    "coordination:dispute-create": lambda asker: {
        "task": _open_task(asker.plan).public_id,
        "organisation": _organisation(asker).public_id,
        "parties": [organisation.public_id for organisation in _parties(asker)],
        "question": DisputeQuestion.WHO_PAYS,
        "reason": "Uenige om, hvem der betaler.",
        "interim_organisation": _organisation(asker).public_id,
    },
    "coordination:dispute-resolve": lambda asker: {
        "decision": "Kommunen betaler.",
        "responsible_organisation": _organisation(asker).public_id,
        "version": Dispute.objects.values_list("version", flat=True).get(pk=_dispute(asker.plan).pk),
    },
}
CHANGES: set[str] = {"coordination:dispute-create", "coordination:dispute-resolve"}
URL_KINDS: dict[str, Callable[[Any, Any], list[Any]]] = {
    "plan-dispute": lambda _world, plan: [plan.public_id, _dispute(plan).public_id],
}
# admin model ("app_model") → (the ADMIN_ROWS_OF name its object URLs use or None, what an
# administrator may do besides reading: a frozenset of "add", "change", "delete")
ADMIN_MODELS: dict[str, tuple[str | None, frozenset[str]]] = {
    # The ladder, the contacts and the secretariat are settings; the secretariat is one row (no second).
    "coordination_escalationstep": ("escalation_step", frozenset({"add", "change", "delete"})),
    "coordination_escalationcontact": ("escalation_contact", frozenset({"add", "change", "delete"})),
    "coordination_secretariat": ("secretariat", frozenset({"change", "delete"})),
    # Disputes are raised and resolved on the plan page: read-only in the admin.
    "coordination_dispute": ("dispute", frozenset()),
}
ADMIN_ADD_BODIES: dict[str, Callable[[Any], dict[str, Any]]] = {
    "coordination_escalationstep": lambda _: {
        "step": "9",
        "after_working_days": "40",
        "target": "secretariat",
    },
    "coordination_escalationcontact": lambda world: {
        "organisation": world.gp.pk,
        "person": world.gp_doctor.pk,
    },
}
ADMIN_ROWS_OF: dict[str, Callable[[Any], Any]] = {
    "escalation_step": lambda _: EscalationStep.objects.order_by("step").first(),
    "escalation_contact": lambda _: EscalationContact.objects.order_by("pk").first(),
    "secretariat": lambda _: Secretariat.objects.order_by("pk").first(),
    "dispute": lambda world: _dispute(world.plan),
}


def build(world: Any) -> None:
    """A task with an open dispute in each plan (the own plan's between the hospital and the
    municipality; the foreign plan's between the outsider's organisation and a second one added there),
    the escalation ladder, a contact and the secretariat."""
    for step, days, target in (
        (1, 5, EscalationTarget.ORGANISATION_CONTACTS),
        (2, 10, EscalationTarget.SECRETARIAT),
    ):
        EscalationStep.objects.get_or_create(
            step=step, defaults={"after_working_days": days, "target": target}
        )
    EscalationContact.objects.get_or_create(
        organisation=world.municipality, defaults={"person": world.coordinator}
    )
    if not Secretariat.objects.exists():
        Secretariat.objects.create(name="Matrixsekretariatet", email="sekretariat@example.invalid")
    for plan in (world.plan, world.other_plan):
        _raise_in(plan)
