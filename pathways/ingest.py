"""Receiving MedCom HospitalNotifications: the sender's credential, idempotency by message id, event-time
order (a message that arrives before the one it follows is held), citizens without a plan, and applying
each message to the plan through pathways.stays.

The flow of one message (`medcom_receive`):
1. Refused with an OperationOutcome, and nothing written, when it is too large (413), not a JSON object
   (400), not a HospitalNotification or against its rules (422, pathways.medcom), sent by another
   organisation than the credential's (403), or addressed to an organisation the product does not have
   (422). A revoked credential never gets here (401 at the door, pathways.api).
2. Idempotent by (sender, MessageHeader.id): the row is inserted first, under the unique constraint, so
   of two identical messages arriving at once the second waits for the first and then gets its stored
   acknowledgement; a repeat changes nothing.
3. The body is kept verbatim. A citizen the product does not know, or knows without an open plan, is
   `no_plan`: acknowledged and listed for the receiving organisation ("admissions without a plan"),
   counted by `citizen_key`, a keyed hash of the CPR number (salted_hmac with a fixed salt: it changes
   with SECRET_KEY, after which a citizen's earlier admissions are no longer counted with new ones).
4. A citizen with an open plan: the message is applied through pathways.stays (`applied`). A correction
   (RE_) or cancellation (AN_) finds the transition of the message it refers to (following corrections
   to the one in effect) and corrects or cancels it; a cancellation of something never applied is only
   `noted`; a correction of something never applied is applied as the event itself.

Order. Messages of one stay (one episode, forløbsid) can arrive out of order:
- A leave, leave end, discharge or death whose stay has not been seen (the patient has no open stay and
  no stay with that episode, and no admission message of that episode has arrived) is `held` for
  MEDCOM_HOLD_MINUTES. When the admission arrives, the held messages of its episode are applied right
  after it, in event-time order; corrections and cancellations after the events. `medcom_release_held`
  (beat, every minute) applies the holds that ran out on their own (a discharge with no admission then
  still ends in a discharge: pathways.stays decides what it does without a stay).
- A message whose event time is earlier than an event already applied to its stay (same patient and
  episode) is `noted`, not applied: the later event describes the stay as it is now. An admission
  arriving after its discharge was applied (the hold ran out) thus does not reopen a stay that has
  ended, and a late "leave ended" after a newer leave start does not bring the patient back.
- Whatever pathways.stays refuses (ValidationError: e.g. a leave with no open stay) is `noted` with the
  reason in the log, never an error for the sender: the message itself was valid.

The CPR number never appears in a log line, an exception or a URL: messages are named by public id.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

from pathways import medcom, stays
from pathways.choices import (
    MEDCOM_TRANSITIONS,
    STAY_OPEN_STATUSES,
    STAY_STARTS,
    MedcomCode,
    ReceivedState,
    StayClass,
    TransitionKind,
    TransitionSource,
    TransitionState,
)
from pathways.medcom import Issue, Notice, NoticeRefused, operation_outcome
from pathways.models import (
    HospitalStay,
    IntegrationCredential,
    Organisation,
    PathwayPlan,
    Patient,
    ReceivedMessage,
    Transition,
    User,
)

log = logging.getLogger("faelles_forloeb.ingest")

KEY_PREFIX = "ffm_"
_CITIZEN_SALT = "pathways.ingest.citizen_key"
# The credential's "last used" is written at most this often, so that concurrent messages of one sender
# do not queue on its row.
_TOUCH_EVERY = timedelta(minutes=1)

Answer = tuple[int, dict[str, Any]]


# --- Credentials -----------------------------------------------------------------------------------------


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _may_manage_credentials(actor: User | None, permission: str) -> bool:
    return actor is None or (actor.is_active and actor.is_staff and actor.has_perm(permission))


@transaction.atomic
def credential_issue(
    *, actor: User | None, organisation: Organisation, name: str, key: str | None = None
) -> tuple[IntegrationCredential, str]:
    """A new credential for a sending system of `organisation`, and its key, shown this once (only its
    SHA-256 hash and its first characters are kept). `key` is for the demo's published key only."""
    if not _may_manage_credentials(actor, "pathways.add_integrationcredential"):
        raise PermissionDenied
    if not organisation.sor_code:
        raise ValidationError(_("The organisation needs a SOR code: messages name their sender by it."))
    key = key or KEY_PREFIX + secrets.token_urlsafe(32)
    if IntegrationCredential.objects.filter(key_hash=_key_hash(key)).exists():
        raise ValidationError(_("This key is in use already."))
    credential = IntegrationCredential.objects.create(
        organisation=organisation,
        name=name.strip()[:200],
        key_prefix=key[:12],
        key_hash=_key_hash(key),
        created_by=actor,
    )
    log.info("integration credential %s issued for organisation %s", credential.public_id, organisation.pk)
    return credential, key


@transaction.atomic
def credential_revoke(*, actor: User | None, credential: IntegrationCredential) -> IntegrationCredential:
    """The key stops working at once. Revoking twice changes nothing."""
    if not _may_manage_credentials(actor, "pathways.change_integrationcredential"):
        raise PermissionDenied
    locked = IntegrationCredential.objects.select_for_update().get(pk=credential.pk)
    if locked.revoked_at is None:
        locked.revoked_at = timezone.now()
        locked.save(update_fields=["revoked_at"])
        log.info("integration credential %s revoked", locked.public_id)
    return locked


def credential_authenticate(key: str) -> IntegrationCredential | None:
    """The active credential with this key (of an active organisation), else None."""
    if not key:
        return None
    return (
        IntegrationCredential.objects.select_related("organisation")
        .filter(key_hash=_key_hash(key), revoked_at__isnull=True, organisation__is_active=True)
        .first()
    )


def _touch(credential: IntegrationCredential) -> None:
    now = timezone.now()
    IntegrationCredential.objects.filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - _TOUCH_EVERY), pk=credential.pk
    ).update(last_used_at=now)


# --- Receiving -------------------------------------------------------------------------------------------


def citizen_key(cpr: str) -> str:
    """A keyed hash of the CPR number: counts a citizen's notices without keeping the number."""
    return salted_hmac(_CITIZEN_SALT, cpr, algorithm="sha256").hexdigest()


def _refused(status: int, code: str, diagnostics: str, expression: str = "") -> Answer:
    return status, operation_outcome([Issue(code=code, diagnostics=diagnostics, expression=expression)])


def _stored_answer(sender: Organisation, message_id: str) -> dict[str, Any] | None:
    found = (
        ReceivedMessage.objects.filter(sender=sender, message_id=message_id)
        .values_list("acknowledgement", flat=True)
        .first()
    )
    return dict(found) if found is not None else None


def too_large() -> Answer:
    return _refused(
        413,
        "too-long",
        _("The message is larger than %(limit)d bytes.") % {"limit": settings.MEDCOM_MAX_BODY_BYTES},
    )


def medcom_receive(*, credential: IntegrationCredential, body: bytes) -> Answer:
    """Receive one HospitalNotification sent with `credential`: (HTTP status, the acknowledgement or an
    OperationOutcome). See the module docstring for what happens to it."""
    if len(body) > settings.MEDCOM_MAX_BODY_BYTES:
        return too_large()
    if credential.revoked_at is not None:
        return _refused(401, "login", _("The credential has been revoked."))
    try:
        notice = medcom.notice_parse(body)
    except NoticeRefused as refused:
        return refused.status, operation_outcome(refused.issues)
    sender = credential.organisation
    if notice.sender_sor != sender.sor_code:
        return _refused(
            403,
            "forbidden",
            _("The credential belongs to another organisation than the message's sender."),
            "Bundle.entry[0].resource.sender",
        )
    receiver = Organisation.objects.filter(sor_code=notice.receiver_sor, is_active=True).first()
    if receiver is None:
        return _refused(
            422,
            "not-found",
            _("The receiver is not an organisation in Fælles forløb."),
            "Bundle.entry[0].resource.destination",
        )
    stored = _stored_answer(sender, notice.message_id)
    if stored is not None:
        return 200, stored
    try:
        message = _receive(credential=credential, receiver=receiver, notice=notice, body=body)
    except IntegrityError:
        # The same message, received at the same moment by another request: its answer stands.
        stored = _stored_answer(sender, notice.message_id)
        if stored is None:
            raise
        return 200, stored
    _touch(credential)
    return 200, message.acknowledgement


@transaction.atomic
def _receive(
    *, credential: IntegrationCredential, receiver: Organisation, notice: Notice, body: bytes
) -> ReceivedMessage:
    sender = credential.organisation
    referred = (
        ReceivedMessage.objects.filter(sender=sender, message_id=notice.refers_to)
        .only("code", "plan")
        .first()
        if notice.refers_to
        else None
    )
    notice = medcom.code_after(notice, referred.code if referred else None)
    patient = Patient.objects.filter(cpr=notice.cpr).first()
    plan = PathwayPlan.objects.open().filter(patient=patient).first() if patient else None
    if plan is None and referred is not None and _replaces(notice.code):
        # A correction or cancellation acts on the plan its message acted on, even when that plan is no
        # longer open (a cancelled death reopens it).
        plan = referred.plan
        patient = patient or (plan.patient if plan is not None else None)
    message = ReceivedMessage.objects.create(
        message_id=notice.message_id,
        sender=sender,
        receiver=receiver,
        credential=credential,
        code=notice.code,
        event_at=notice.event_at,
        body=body.decode("utf-8"),
        episode_id=notice.episode_id,
        encounter_id=notice.encounter_id,
        stay_class=notice.stay_class,
        refers_to=notice.refers_to,
        citizen_key=citizen_key(notice.cpr),
        citizen_name=notice.name,
        citizen_birth_date=notice.birth_date,
        patient=patient,
        plan=plan,
        state=ReceivedState.NO_PLAN if plan is None else ReceivedState.NOTED,
        acknowledgement=medcom.acknowledgement(notice),
    )
    if plan is not None:
        _process(message, alone=False)
    log.info(
        "medcom %s %s from organisation %s: %s", message.code, message.public_id, sender.pk, message.state
    )
    return message


def _replaces(code: str) -> bool:
    """A correction or cancellation: it replaces the effect of the message it refers to."""
    return medcom.is_correction(code) or medcom.is_cancellation(code)


def _set_state(message: ReceivedMessage, state: ReceivedState, *, hold: bool = False) -> None:
    now = timezone.now()
    message.state = state
    message.hold_until = now + timedelta(minutes=settings.MEDCOM_HOLD_MINUTES) if hold else None
    if state == ReceivedState.APPLIED:
        message.applied_at = now
    message.save(update_fields=["state", "hold_until", "applied_at", "plan"])


def _in_effect(transition: Transition | None) -> Transition | None:
    """The transition that stands for `transition` now: its latest correction where it was corrected."""
    seen = 0
    while transition is not None and transition.state == TransitionState.CORRECTED and seen < 50:
        transition = transition.corrections.order_by("-id").first()
        seen += 1
    return transition


def _transition_of(message: ReceivedMessage) -> Transition | None:
    referred = ReceivedMessage.objects.filter(
        sender_id=message.sender_id, message_id=message.refers_to
    ).first()
    if referred is None:
        return None
    return _in_effect(referred.transitions.order_by("-id").first())


def _stay_seen(message: ReceivedMessage) -> bool:
    """Whether the stay of a leave, discharge or death is known: an open stay of the patient, a stay with
    its episode, or an admission message of its episode."""
    stays_known = HospitalStay.objects.filter(patient=message.patient).filter(
        Q(status__in=STAY_OPEN_STATUSES) | Q(episode_id=message.episode_id)
    )
    admissions = ReceivedMessage.objects.filter(
        sender_id=message.sender_id,
        episode_id=message.episode_id,
        code__in=[MedcomCode.STAA, MedcomCode.STIN, MedcomCode.RE_STAA, MedcomCode.RE_STIN],
    ).exclude(pk=message.pk)
    return stays_known.exists() or admissions.exists()


def _superseded(message: ReceivedMessage) -> bool:
    """An event older than one already applied to its stay (same patient and episode)."""
    return Transition.objects.filter(
        stay__patient=message.patient,
        stay__episode_id=message.episode_id,
        state=TransitionState.APPLIED,
        occurred_at__gt=message.event_at,
    ).exists()


def _process(message: ReceivedMessage, *, alone: bool) -> None:
    """Apply, hold or note one message of a citizen with a plan (its row locked or just inserted).
    `alone`: its hold ran out, so it is applied without waiting for the message it follows. Then the
    corrections and cancellations that arrived before it and waited for it."""
    _process_one(message, alone=alone)
    if message.state == ReceivedState.HELD:
        return
    waiting = list(
        ReceivedMessage.objects.select_for_update(of=("self",), skip_locked=True)
        .select_related("sender", "patient")
        .filter(state=ReceivedState.HELD, sender_id=message.sender_id, refers_to=message.message_id)
    )
    for later in sorted(waiting, key=_release_order):
        _process(later, alone=False)


def _process_one(message: ReceivedMessage, *, alone: bool) -> None:
    if message.refers_to:
        referred = ReceivedMessage.objects.filter(
            sender_id=message.sender_id, message_id=message.refers_to
        ).first()
        if referred is None and not alone:
            # A correction or cancellation before the message it replaces: it waits for it (MedCom
            # messages may overtake each other), else the replaced message would win when it comes.
            _set_state(message, ReceivedState.HELD, hold=True)
            return
        if referred is not None:
            # Its type may depend on the referred message's (a "not deceased" after a death cancels it).
            final = medcom.code_after(medcom.notice_parse(message.body.encode("utf-8")), referred.code)
            if final.code != message.code:
                message.code, message.event_at = final.code, final.event_at
                message.save(update_fields=["code", "event_at"])
    code = str(message.code)
    if _replaces(code):
        referred = ReceivedMessage.objects.filter(
            sender_id=message.sender_id, message_id=message.refers_to
        ).first()
        if referred is not None and referred.state == ReceivedState.HELD and not alone:
            _set_state(message, ReceivedState.HELD, hold=True)
            return
        transition = _transition_of(message)
        if transition is not None:
            message.plan_id = transition.plan_id
            _apply_to(message, transition)
            return
        if medcom.is_cancellation(code):
            _set_state(message, ReceivedState.NOTED)  # nothing was applied that could be undone
            return
    patient = message.patient
    plan = PathwayPlan.objects.open().filter(patient=patient).first() if patient is not None else None
    if patient is None or plan is None:
        _set_state(message, ReceivedState.NOTED)
        return
    message.plan = plan
    kind = TransitionKind(MEDCOM_TRANSITIONS[medcom.base_code(code)])
    unseen = kind not in STAY_STARTS and not _stay_seen(message)
    if unseen and not alone:
        _set_state(message, ReceivedState.HELD, hold=True)
        return
    if _superseded(message):
        _set_state(message, ReceivedState.NOTED)
        return
    try:
        with transaction.atomic():
            if unseen:
                _admit_as_described(message)
            stays.transition_record(
                actor=None,
                patient=patient,
                kind=kind,
                occurred_at=message.event_at,
                hospital=message.sender,
                stay_class=StayClass(message.stay_class),
                episode_id=message.episode_id,
                source=TransitionSource.MEDCOM,
                message=message,
            )
    except ValidationError as refused:
        _noted_because(message, refused)
        return
    _set_state(message, ReceivedState.APPLIED)
    if kind in STAY_STARTS:
        _release_episode(message)


def _admit_as_described(message: ReceivedMessage) -> None:
    """The admission of a stay whose admission message never came, from what the message says of its
    stay (Encounter.period.start, class, episode): a discharge on its own still ends a stay, resumes what
    the stay held and makes its follow-ups."""
    assert message.patient is not None
    notice = medcom.notice_parse(message.body.encode("utf-8"))
    acute = message.stay_class == StayClass.ACUTE_AMBULANT
    stays.transition_record(
        actor=None,
        patient=message.patient,
        kind=TransitionKind.ADMISSION_ACUTE if acute else TransitionKind.ADMISSION,
        occurred_at=notice.admitted_at,
        hospital=message.sender,
        stay_class=StayClass(message.stay_class),
        episode_id=message.episode_id,
        source=TransitionSource.MEDCOM,
        message=message,
        note=_("The admission message did not come; the time is the one this message gives."),
    )


def _apply_to(message: ReceivedMessage, transition: Transition) -> None:
    """A correction or cancellation of `transition` (the one in effect for the message referred to)."""
    try:
        with transaction.atomic():
            if medcom.is_cancellation(str(message.code)):
                stays.transition_cancel(actor=None, transition=transition, message=message)
            else:
                stays.transition_correct(
                    actor=None, transition=transition, occurred_at=message.event_at, message=message
                )
    except ValidationError as refused:
        _noted_because(message, refused)
        return
    _set_state(message, ReceivedState.APPLIED)


def _noted_because(message: ReceivedMessage, refused: ValidationError) -> None:
    log.info("medcom %s %s not applied: %s", message.code, message.public_id, " ".join(refused.messages))
    _set_state(message, ReceivedState.NOTED)


def _release_order(message: ReceivedMessage) -> tuple[bool, datetime, datetime]:
    code = str(message.code)
    return (medcom.is_correction(code) or medcom.is_cancellation(code), message.event_at, message.received_at)


def _release_episode(start: ReceivedMessage) -> None:
    """After an admission: the held messages of its episode, in event-time order."""
    held = list(
        ReceivedMessage.objects.select_for_update(of=("self",), skip_locked=True)
        .select_related("sender", "patient")
        .filter(
            state=ReceivedState.HELD,
            sender_id=start.sender_id,
            patient=start.patient,
            episode_id=start.episode_id,
        )
    )
    for message in sorted(held, key=_release_order):
        _process(message, alone=False)


def medcom_release_held(*, now: datetime | None = None) -> int:
    """Apply the held messages whose wait is over, each on its own (beat, every minute). Each message in
    its own transaction, its row locked (a message another worker has is skipped); safe to run twice."""
    moment = now or timezone.now()
    due = sorted(
        ReceivedMessage.objects.filter(state=ReceivedState.HELD, hold_until__lte=moment).only(
            "id", "code", "event_at", "received_at"
        ),
        key=_release_order,
    )
    released = 0
    for candidate in due:
        with transaction.atomic():
            message = (
                ReceivedMessage.objects.select_for_update(of=("self",), skip_locked=True)
                .select_related("sender", "patient")
                .filter(pk=candidate.pk, state=ReceivedState.HELD)
                .first()
            )
            if message is None:
                continue
            _process(message, alone=True)
            released += 1
    return released


def medcom_prune(*, now: datetime | None = None) -> int:
    """Delete the notices about citizens without a plan received more than MEDCOM_NO_PLAN_KEEP_DAYS ago
    (beat, nightly). Returns how many went."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.MEDCOM_NO_PLAN_KEEP_DAYS)
    deleted, _by_model = ReceivedMessage.objects.filter(
        state=ReceivedState.NO_PLAN, received_at__lt=cutoff
    ).delete()
    if deleted:
        log.info("medcom: %d notices about citizens without a plan pruned", deleted)
    return deleted
