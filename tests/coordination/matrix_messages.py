"""The access matrix's rows for messages between sectors (merged by tests/test_access_matrix.py, PARTS)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from coordination import services
from coordination.choices import MessagePriority
from coordination.models import MessageThread
from pathways import services as hub_services
from pathways.choices import Sector
from pathways.models import Organisation

STAFF = ["admin", "coordinator", "hospital_doctor", "home_nurse", "gp_doctor", "outsider"]
# The roles who see the world's own plan (Kirsten's): its three sectors and its coordinator.
IN_PLAN = {"coordinator", "hospital_doctor", "home_nurse", "gp_doctor"}
# The organisation each role writes for in the plan it takes part in.
WRITES_FOR = {
    "coordinator": "municipality",
    "home_nurse": "municipality",
    "hospital_doctor": "hospital",
    "gp_doctor": "gp",
    "outsider": "unrelated",
}
# The foreign plan has one organisation (the outsider's): build() adds a second to write to.
FOREIGN_SECOND = "Lægehuset Matrix"


def _plan_rule(ok: int, anonymous: int = 302) -> dict[str, dict[str, int]]:
    """Own plan: every organisation taking part reads and writes. Foreign plan: only the outsider's."""
    return {
        "own": {role: ok if role in IN_PLAN else 404 for role in STAFF} | {"anonymous": anonymous},
        "other": {role: ok if role == "outsider" else 404 for role in STAFF} | {"anonymous": anonymous},
    }


def _refused_method() -> dict[str, dict[str, int]]:
    rule = dict.fromkeys(STAFF, 405) | {"anonymous": 302}
    return {"own": rule, "other": rule}


ROWS: dict[str, tuple[str | None, dict[str, Any]]] = {
    "coordination:thread-create": ("plan", {"GET": _plan_rule(200), "POST": _plan_rule(302)}),
    # Reading a thread is a logged read; it marks the thread read for the reader's organisations.
    "coordination:thread-detail": ("plan-thread", {"GET": _plan_rule(200)}),
    # Replies are POST only; a GET is refused before anything is looked up.
    "coordination:thread-reply": ("plan-thread", {"GET": _refused_method(), "POST": _plan_rule(302)}),
    # A message as MedCom's CareCommunication: a logged read of the plan's messages, through the API.
    "api-coordination:message-care-communication": ("plan-message", {"GET": _plan_rule(200, anonymous=403)}),
    # CareCommunications from hospitals' systems come with an integration key, never a user: a signed-in
    # user has none (401). Other methods are refused before anyone is asked for a key.
    "api-coordination:medcom-care-communication": (
        None,
        {
            "GET": dict.fromkeys([*STAFF, "anonymous"], 405),
            "POST": dict.fromkeys([*STAFF, "anonymous"], 401),
        },
    ),
}


def _thread(world: Any, plan: Any) -> MessageThread:
    """The plan's first thread, made where there is none: in the own plan from the home nurse to the GP and
    the hospital; in the foreign plan from the outsider to a second organisation taking part there (it
    had only theirs)."""
    found = plan.message_threads.order_by("pk").first()
    if found is not None:
        return found
    if plan == world.plan:
        return services.thread_start(
            actor=world.home_nurse,
            plan=plan,
            sender_organisation=world.municipality,
            recipients=[world.gp, world.hospital],
            subject="Hjemmebesøg efter udskrivelse",
            body="Vi ser Kirsten i morgen formiddag.",
            priority=MessagePriority.ROUTINE,
        )
    second, _created = Organisation.objects.get_or_create(
        sor_code="3009", defaults={"name": FOREIGN_SECOND, "sector": Sector.GENERAL_PRACTICE}
    )
    hub_services.participant_add(actor=None, plan=plan, organisation=second)
    return services.thread_start(
        actor=world.outsider,
        plan=plan,
        sender_organisation=world.unrelated,
        recipients=[second],
        subject="Medicin efter udskrivelse",
        body="Har I fået epikrisen?",
        priority=MessagePriority.ROUTINE,
    )


def _sender_and_recipient(asker: Any) -> tuple[Organisation, Organisation]:
    """The role's organisation in the plan (else the plan's first), and another organisation in it."""
    organisations = [
        p.organisation for p in asker.plan.participants.select_related("organisation").order_by("pk")
    ]
    own: Organisation | None = getattr(asker.world, WRITES_FOR.get(asker.role, ""), None)
    sender = own if own is not None and own in organisations else organisations[0]
    recipient = next(o for o in organisations if o != sender)
    return sender, recipient


def _message_body(asker: Any) -> dict[str, Any]:
    sender, recipient = _sender_and_recipient(asker)
    return {
        "sender_organisation": sender.public_id,
        "recipients": recipient.public_id,
        "priority": MessagePriority.ROUTINE,
        "body": "Kirsten er kommet hjem. Kan I se hende i morgen?",
    }


BODIES: dict[str, Callable[[Any], dict[str, Any]]] = {
    "coordination:thread-create": lambda asker: _message_body(asker) | {"subject": "Hjemmebesøg"},
    "coordination:thread-reply": _message_body,
}
CHANGES: set[str] = {"coordination:thread-create", "coordination:thread-reply"}
URL_KINDS: dict[str, Callable[[Any, Any], list[Any]]] = {
    "plan-thread": lambda world, plan: [plan.public_id, _thread(world, plan).public_id],
    "plan-message": lambda world, plan: [
        plan.public_id,
        _thread(world, plan).messages.order_by("pk").values_list("public_id", flat=True).first(),
    ],
}
# admin model ("app_model") → (the ADMIN_ROWS_OF name its object URLs use or None, what an
# administrator may do besides reading: a frozenset of "add", "change", "delete")
ADMIN_MODELS: dict[str, tuple[str | None, frozenset[str]]] = {
    # Sent is sent: threads and messages are read-only in the admin, for superusers too.
    "coordination_messagethread": ("message_thread", frozenset()),
    "coordination_message": ("message", frozenset()),
}
ADMIN_ADD_BODIES: dict[str, Callable[[Any], dict[str, Any]]] = {}
ADMIN_ROWS_OF: dict[str, Callable[[Any], Any]] = {
    "message_thread": lambda world: _thread(world, world.plan),
    "message": lambda world: _thread(world, world.plan).messages.order_by("pk").first(),
}


def build(world: Any) -> None:
    """A thread in each plan (`_thread`), made once in the matrix's world."""
    for plan in (world.plan, world.other_plan):
        _thread(world, plan)
