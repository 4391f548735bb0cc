"""Coordination's demo data, on the hub's demo plans (pathways.demo): need assessments, a coordinator
handover, Helle's dispute about her needle-free glucose meter, and messages between the sectors.

Idempotent like the hub's step: each part looks for what it would create and leaves existing rows alone.
Writes go through coordination's services; a few timestamps are then moved into the past, as the demo
needs a dispute that is three weeks old.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import time, timedelta

import pgtrigger
from django.db.models import F
from django.utils import timezone

from coordination import services
from coordination.choices import DisputeQuestion, MessagePriority, NeedCriterion
from coordination.models import (
    Dispute,
    EscalationContact,
    EscalationStep,
    Message,
    MessageRecipient,
    MessageThread,
    Secretariat,
)
from pathways import outbox
from pathways import services as hub_services
from pathways.choices import NotificationChannel, NotificationKind, NotificationState
from pathways.models import Notification, Organisation, PathwayPlan, User

# --- Need assessment and coordinator handover ----------------------------------------------------------


@dataclass(frozen=True)
class _AssessmentSpec:
    cpr: str  # the demo patient (pathways.demo) whose current plan is assessed
    assessor: str  # username
    organisation: str  # SOR code of the organisation assessed for
    assessed_days_ago: int
    review_in_days: int  # from today; negative: the reassessment is overdue
    criteria: tuple[NeedCriterion, ...]
    admissions: int
    patient_present: bool = True
    note: str = ""


_ASSESSMENTS = [
    # Kirsten: COPD and diabetes, three admissions this year, seven organisations; she wants one person.
    _AssessmentSpec(
        "1403612126",
        "koordinator",
        "990200000000001",
        assessed_days_ago=40,
        review_in_days=140,
        criteria=(
            NeedCriterion.MULTIMORBIDITY,
            NeedCriterion.MANY_ORGANISATIONS,
            NeedCriterion.REPEATED_ADMISSIONS,
            NeedCriterion.PATIENT_WISH,
        ),
        admissions=3,
        note="Kirsten vil have én, hun kan ringe til. Vurderet hjemme hos hende.",
    ),
    # Ingrid: 88, heart failure and falls, no family left; wants to know whom to call.
    _AssessmentSpec(
        "1102381846",
        "koordinator",
        "990200000000001",
        assessed_days_ago=30,
        review_in_days=150,
        criteria=(NeedCriterion.MULTIMORBIDITY, NeedCriterion.NO_RELATIVES, NeedCriterion.PATIENT_WISH),
        admissions=1,
        note="Ingen pårørende. Aftaler sendes som brev.",
    ),
    # Fatma: after a stroke, readmitted; assessed with an interpreter half a year ago, now overdue.
    _AssessmentSpec(
        "2504684122",
        "kommune",
        "990200000000002",
        assessed_days_ago=200,
        review_in_days=-18,
        criteria=(NeedCriterion.MULTIMORBIDITY, NeedCriterion.MANY_ORGANISATIONS),
        admissions=2,
        note="Vurderet med tolk (tyrkisk).",
    ),
    # Jens: a draft plan across hospital, two Holbæk services and his GP; he and his wife want one
    # person to ask. Assessed as needing a coordinator, none assigned yet: the plan stands out.
    _AssessmentSpec(
        "0708551805",
        "holbaek",
        "990300000000002",
        assessed_days_ago=2,
        review_in_days=90,
        criteria=(NeedCriterion.MANY_ORGANISATIONS, NeedCriterion.PATIENT_WISH),
        admissions=0,
    ),
]


def _fatma_handover(plan: PathwayPlan) -> int:
    """Fatma's plan was first coordinated by Lars Nielsen (Roskilde Kommune), who handed it to the home
    nurse Mette Jensen a month ago and stays as her substitute. Returns the number of handovers made."""
    if plan.coordinator_handovers.exists():
        return 0
    lars, mette = User.objects.get(username="koordinator"), User.objects.get(username="kommune")
    roskilde = Organisation.objects.get(sor_code="990200000000001")
    home_nursing = Organisation.objects.get(sor_code="990200000000002")
    # How the plan stood before the handover (the hub's demo names the coordinator as it is today).
    plan = hub_services.coordinator_assign(
        actor=None, plan=plan, coordinator=lars, organisation=roskilde, substitute=mette
    )
    services.coordinator_handover(
        actor=lars,
        plan=plan,
        coordinator=mette,
        organisation=home_nursing,
        substitute=lars,
        phone="",
        note=(
            "Mette overtager, da hjemmesygeplejen kommer hos Fatma flere gange om ugen. Tolk (tyrkisk) "
            "bestilles til alle samtaler. Jeg er stedfortræder."
        ),
    )
    handed_over = timezone.now() - timedelta(days=30)
    plan.coordinator_handovers.update(handed_over_at=handed_over)
    return 1


def _seed_assessments(write: Callable[[str], None]) -> None:
    """Need assessments on the demo plans (Kirsten, Ingrid, Fatma overdue, Jens without a coordinator)
    and the handover of Fatma's plan. A plan that has an assessment (or a handover) is left alone."""
    today = timezone.localdate()
    made = handovers = 0
    fatma = PathwayPlan.objects.open().filter(patient__cpr="2504684122").first()
    if fatma is not None:
        handovers += _fatma_handover(fatma)
    for spec in _ASSESSMENTS:
        plan = PathwayPlan.objects.open().filter(patient__cpr=spec.cpr).first()
        if plan is None or plan.need_assessments.exists():
            continue
        services.need_assessment_record(
            actor=User.objects.get(username=spec.assessor),
            plan=plan,
            organisation=Organisation.objects.get(sor_code=spec.organisation),
            assessed_on=today - timedelta(days=spec.assessed_days_ago),
            patient_present=spec.patient_present,
            criteria=list(spec.criteria),
            unplanned_admissions_12m=spec.admissions,
            outcome=services.suggested_need_outcome(spec.criteria),
            note=spec.note,
            review_date=today + timedelta(days=spec.review_in_days),
        )
        made += 1
    write(f"Coordination, created this run: need assessments {made}, coordinator handovers {handovers}.")


# --- Responsibility disputes ---------------------------------------------------------------------------


# Named escalation contacts (organisation SOR code → username). Endokrinologisk ambulatorium has none
# and no coordinators: its disputes reach the hospital's contact above it.
_ESCALATION_CONTACTS = {
    "990100000000001": "sygehus",  # Sygehus Sjælland Øst: Anne Holm
    "990200000000001": "koordinator",  # Roskilde Kommune: Lars Nielsen
    "990300000000001": "holbaek",  # Holbæk Kommune: Sofie Larsen
}
_HELLE_CPR = "0206842148"
_METER_TASK = "Nålefri blodsukkermåler"


def _escalation_settings() -> int:
    """The escalation contacts and the cross-sector secretariat, where none is set. Returns rows made."""
    made = 0
    for sor_code, username in _ESCALATION_CONTACTS.items():
        organisation = Organisation.objects.filter(sor_code=sor_code).first()
        person = User.objects.filter(username=username).first()
        if organisation is None or person is None:
            continue
        _contact, created = EscalationContact.objects.get_or_create(
            organisation=organisation, defaults={"person": person}
        )
        made += int(created)
    if not Secretariat.objects.exists():
        Secretariat.objects.create(
            name="Sundhedskoordinationsudvalget, Region Sjælland (fiktivt)",
            email="sekretariat@sundhedsaftale.example.invalid",
            phone="57 87 50 00",
        )
        made += 1
    return made


def _helle_meter_dispute() -> int:
    """Helle's needle-free glucose meter: region and municipality disagree about who pays; home nursing
    helps her measure in the meantime. Raised three weeks ago and escalated once (to the organisations'
    contacts, about two weeks ago). Returns the number of disputes made (0 when it is there already)."""
    plan = PathwayPlan.objects.open().filter(patient__cpr=_HELLE_CPR).first()
    if plan is None:
        return 0
    task = plan.tasks.filter(title__startswith=_METER_TASK).first()
    if task is None or Dispute.objects.filter(task=task).exists():
        return 0
    organisations = {
        o.sor_code: o
        for o in Organisation.objects.filter(
            sor_code__in=["990100000000004", "990300000000001", "990300000000002"]
        )
    }
    endocrinology = organisations["990100000000004"]
    municipality = organisations["990300000000001"]
    home_nursing = organisations["990300000000002"]
    dispute = services.dispute_raise(
        actor=User.objects.get(username="holbaek"),
        task=task,
        organisation=home_nursing,
        parties=[endocrinology, municipality],
        question=DisputeQuestion.WHO_PAYS,
        reason=task.description
        or "Region og kommune er uenige om, hvem der betaler for Helles nålefri blodsukkermåler.",
        interim_organisation=home_nursing,
        interim_note=(
            "Hjemmesygeplejen Holbæk hjælper med målinger to gange om ugen, indtil det er afklaret, hvem "
            "der betaler måleren."
        ),
    )
    raised_at = timezone.now() - timedelta(days=21)
    Dispute.objects.filter(pk=dispute.pk).update(raised_at=raised_at)
    # The beat job's run on the day the first step was reached (5 working days after raising it).
    first = EscalationStep.objects.order_by("step").first()
    if first is not None:
        raised_on = timezone.localtime(raised_at).date()
        day = raised_on
        while services.working_days_between(raised_on, day) < first.after_working_days:
            day += timedelta(days=1)
        services.disputes_escalate(now=outbox.local_moment(day, time(9, 0)))
    return 1


def _seed_disputes(write: Callable[[str], None]) -> None:
    """Escalation contacts, the secretariat, and Helle's dispute about her needle-free glucose meter."""
    settings_made = _escalation_settings()
    disputes = _helle_meter_dispute()
    write(f"Coordination, created this run: disputes {disputes}, escalation settings {settings_made}.")


# --- Messages between sectors ----------------------------------------------------------------------------


_KIRSTEN_CPR = "1403612126"
_FATMA_CPR = "2504684122"
_SOR = {
    "medicinsk": "990100000000002",
    "roskilde": "990200000000001",
    "hjsp_roskilde": "990200000000002",
    "algade": "990400000000001",
}


@dataclass(frozen=True)
class _MessageSpec:
    username: str  # who writes
    sender: str  # key of _SOR: the organisation they write for
    recipients: tuple[str, ...]
    minutes_ago: int
    body: str
    priority: MessagePriority = MessagePriority.ROUTINE
    # (recipient organisation, who read it there, minutes ago); an organisation not named: not read yet.
    read_by: tuple[tuple[str, str, int], ...] = ()


@dataclass(frozen=True)
class _ThreadSpec:
    cpr: str
    subject: str
    task_title: str  # "" for none
    messages: tuple[_MessageSpec, ...]


_THREADS = [
    _ThreadSpec(
        cpr=_KIRSTEN_CPR,
        subject="Hjemmebesøg efter udskrivelse: vægt og vanddrivende medicin",
        task_title="Hjemmesygeplejebesøg inden for 24 timer efter udskrivelse",
        messages=(
            _MessageSpec(
                username="kommune",
                sender="hjsp_roskilde",
                recipients=("algade",),
                minutes_ago=55,
                body=(
                    "Kære Peter Madsen\n\n"
                    "Vi kommer hos Kirsten Poulsen i morgen formiddag til besøget efter udskrivelsen. "
                    "Ifølge epikrisen er hendes vanddrivende medicin (furosemid) sat op under "
                    "indlæggelsen.\n\n"
                    "Skal vi veje hende dagligt den første uge, og ved hvilken vægtstigning vil du have "
                    "besked? Hun har haft hævede ankler før.\n\n"
                    "Venlig hilsen\nMette Jensen, sygeplejerske\nHjemmesygeplejen Roskilde, tlf. 46 31 74 10"
                ),
            ),
        ),
    ),
    _ThreadSpec(
        cpr=_KIRSTEN_CPR,
        subject="Udskrivelse: epikrise og genoptræningsplan er sendt",
        task_title="",
        messages=(
            _MessageSpec(
                username="sygehus",
                sender="medicinsk",
                recipients=("roskilde",),
                minutes_ago=26 * 60,
                body=(
                    "Kirsten Poulsen udskrives i morgen kl. 11 efter KOL-forværring. Epikrisen er sendt "
                    "til egen læge, og genoptræningsplanen er sendt til Genoptræning Roskilde.\n\n"
                    "Hun ønsker selv at klare trapperne derhjemme. Kan I sikre, at hjemmesygeplejen kommer "
                    "inden for et døgn?\n\nAnne Holm, overlæge, Medicinsk afdeling"
                ),
                read_by=(("roskilde", "koordinator", 25 * 60 + 30),),
            ),
            _MessageSpec(
                username="koordinator",
                sender="roskilde",
                recipients=("medicinsk",),
                minutes_ago=25 * 60,
                body=(
                    "Tak. Hjemmesygeplejen har besøget i kalenderen dagen efter udskrivelsen, og "
                    "genoptræningen er sat i gang.\n\n"
                    "Ring gerne til mig på 46 31 30 10, hvis udskrivelsen bliver flyttet.\n\n"
                    "Lars Nielsen, forløbskoordinator, Roskilde Kommune"
                ),
                read_by=(("medicinsk", "sygehus", 24 * 60),),
            ),
        ),
    ),
    _ThreadSpec(
        cpr=_FATMA_CPR,
        subject="Fatma udskrives i morgen: tolk og hjælp i hjemmet",
        task_title="",
        messages=(
            _MessageSpec(
                username="sygehus",
                sender="medicinsk",
                recipients=("hjsp_roskilde",),
                minutes_ago=35,
                priority=MessagePriority.URGENT,
                body=(
                    "Fatma Yilmaz er færdigbehandlet for sin lungebetændelse og udskrives i morgen kl. 10. "
                    "Hun er svagere end før indlæggelsen og kan ikke selv komme ud af sengen om natten.\n\n"
                    "Kan I vurdere hjælpen i hjemmet i morgen eftermiddag? Der skal være tyrkisk tolk med; "
                    "hendes datter kan ikke være til stede.\n\nAnne Holm, overlæge, Medicinsk afdeling"
                ),
            ),
        ),
    ),
]


def _seed_thread(spec: _ThreadSpec, organisations: dict[str, Organisation]) -> int:
    """The thread with its messages as if written `minutes_ago`, and its receipts read as the story
    has them. Returns the number of threads made (0 when it is there already or its plan is missing)."""
    plan = PathwayPlan.objects.open().filter(patient__cpr=spec.cpr).first()
    if plan is None or plan.message_threads.filter(subject=spec.subject).exists():
        return 0
    users = {u.username: u for u in User.objects.filter(username__in=_DEMO_MESSAGE_USERS)}
    task = plan.tasks.filter(title=spec.task_title).first() if spec.task_title else None
    now = timezone.now()
    thread: MessageThread | None = None
    for message_spec in spec.messages:
        actor = users[message_spec.username]
        sender = organisations[message_spec.sender]
        recipients = [organisations[key] for key in message_spec.recipients]
        if thread is None:
            thread = services.thread_start(
                actor=actor,
                plan=plan,
                sender_organisation=sender,
                recipients=recipients,
                subject=spec.subject,
                body=message_spec.body,
                priority=message_spec.priority,
                task=task,
            )
            message = thread.messages.get()
        else:
            message = services.message_send(
                actor=actor,
                thread=thread,
                sender_organisation=sender,
                recipients=recipients,
                body=message_spec.body,
                priority=message_spec.priority,
            )
        sent_at = now - timedelta(minutes=message_spec.minutes_ago)
        # Sent is sent, on the page: only the demo's own story moves a message back in time.
        with pgtrigger.ignore("coordination.Message:message_not_edited"):
            Message.objects.filter(pk=message.pk).update(sent_at=sent_at)
        Notification.objects.filter(dedupe_key__endswith=f"|message:{message.pk}").update(due_at=sent_at)
        for organisation_key, username, minutes_ago in message_spec.read_by:
            receipt = MessageRecipient.objects.filter(
                message=message, organisation=organisations[organisation_key]
            )
            receipt.update(read_at=now - timedelta(minutes=minutes_ago), read_by=users[username])
            Notification.objects.addressed_to(users[username]).filter(
                dedupe_key__endswith=f"|message:{message.pk}"
            ).update(read_at=now - timedelta(minutes=minutes_ago))
    assert thread is not None
    first, last = spec.messages[0], spec.messages[-1]
    MessageThread.objects.filter(pk=thread.pk).update(
        started_at=now - timedelta(minutes=first.minutes_ago),
        last_message_at=now - timedelta(minutes=last.minutes_ago),
    )
    return 1


_DEMO_MESSAGE_USERS = ("kommune", "sygehus", "koordinator", "egenlaege")


def _seed_messages(write: Callable[[str], None]) -> None:
    """Messages between sectors on Kirsten's and Fatma's plans: home nursing asks the GP about the home
    visit after discharge (unread: the GP's count and bell show it), the hospital and the coordinator
    about the discharge (read, with a reply), and an urgent one to home nursing about Fatma.

    The recipients' in-app notices are delivered here the way the outbox worker's claim delivers them
    (state "sent"), so the bell shows them without a worker running; their e-mails wait for the worker."""
    found = {key: Organisation.objects.filter(sor_code=sor).first() for key, sor in _SOR.items()}
    organisations = {key: organisation for key, organisation in found.items() if organisation is not None}
    if len(organisations) < len(_SOR) or User.objects.filter(username__in=_DEMO_MESSAGE_USERS).count() < len(
        _DEMO_MESSAGE_USERS
    ):
        write("Coordination: the hub's demo organisations or logins are missing; no messages made.")
        return
    made = sum(_seed_thread(spec, organisations) for spec in _THREADS)
    Notification.objects.filter(
        kind=NotificationKind.MESSAGE_RECEIVED,
        channel=NotificationChannel.IN_APP,
        state=NotificationState.PENDING,
        due_at__lte=timezone.now(),
    ).update(state=NotificationState.SENT, sent_at=F("due_at"), attempts=1)
    write(f"Coordination, created this run: message threads {made}.")


def seed(write: Callable[[str], None]) -> None:
    _seed_assessments(write)
    _seed_disputes(write)
    _seed_messages(write)
