"""Relatives' writes: keyword-only, typed, atomic; each checks the actor's rights through
pathways.access.may_change, locks what it changes, writes the audit trail (the models are `audited`) and
raises its messages through the hub's outbox in the same transaction."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date, timedelta
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from pathways import access as hub_access
from pathways import outbox
from pathways.choices import PLAN_OPEN_STATUSES, NotificationChannel, NotificationKind, NotificationState
from pathways.models import Membership, Notification, Organisation, PathwayPlan, PlanParticipant, User
from pathways.numbers import ascii_digits, validate_phone
from pathways.services import VersionConflict
from relatives import access
from relatives.choices import (
    REFERRAL_OPEN_STATUSES,
    SEEING_SCOPES,
    CapacityLoss,
    ChecklistStatus,
    ChildCareStep,
    ConsentAction,
    ConsentDecider,
    ConsentMethod,
    ConsentScope,
    ReferralStatus,
    Relation,
    RelativeChannel,
    RepresentativeBasis,
)
from relatives.models import (
    ChildChecklistItem,
    Relative,
    RelativeConsent,
    RelativeNeed,
    StrainInstrument,
    StrainScreening,
    SupportOffer,
    SupportReferral,
)

# --- consent: relatives on a plan and the patient's consent decisions ---

RELATIVE_FIELDS = (
    "name",
    "relation",
    "relation_detail",
    "phone",
    "email",
    "address",
    "preferred_channel",
    "language",
    "is_child",
    "child_age",
    "is_closest",
    "note",
)
# The channel a relative hears from us by → the field that must hold its address, and what to say when it
# is empty (the form says it too).
CHANNEL_NEEDS = {
    RelativeChannel.EMAIL: (
        "email",
        gettext_lazy("Add their e-mail address, or choose another way to reach them."),
    ),
    RelativeChannel.SMS: (
        "phone",
        gettext_lazy("Add their mobile number, or choose another way to reach them."),
    ),
    RelativeChannel.LETTER: (
        "address",
        gettext_lazy("Add their postal address, or choose another way to reach them."),
    ),
}
LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}$")
NO_DECISION = "none"  # a consent form opened on a relative without any decision yet
_MAX_LENGTHS = {
    "name": 200,
    "relation_detail": 100,
    "phone": 30,
    "email": 254,
    "address": 300,
    "note": 2000,
    "coercion_note": 1000,
    "capacity_note": 1000,
    "representative_name": 200,
}


def too_long(count: int) -> str:
    return _("Keep it under %(count)s characters.") % {"count": count}


def _too_long(field: str) -> str:
    return too_long(_MAX_LENGTHS[field])


def _may_manage(actor: User | None, plan: PathwayPlan, *, admin_permission: str) -> frozenset[int]:
    """Refuse (PermissionDenied) unless `actor` may add relatives to `plan` and record the patient's
    decisions: its coordinator, or staff acting for an organisation taking part. Returns those
    organisations."""
    participating = access.participating_ids(plan)
    if not hub_access.may_change(
        actor,
        plan,
        lambda rights: access.may_manage_relatives(rights, participating),
        admin_permission=admin_permission,
    ):
        raise PermissionDenied
    return participating


def _recording_organisation(
    actor: User | None, plan: PathwayPlan, participating: frozenset[int], organisation: Organisation | None
) -> Organisation | None:
    """The organisation `actor` records for: `organisation` if they may (else a ValidationError), else
    the coordinator's organisation for the coordinator, else the first they act for in the plan."""
    if actor is None:
        return organisation
    allowed = access.recording_organisation_ids(hub_access.rights_for(actor, plan), plan, participating)
    if organisation is not None:
        if organisation.pk not in allowed:
            raise ValidationError(
                {"organisation": _("Choose an organisation you work for that takes part in the plan.")}
            )
        return organisation
    if plan.coordinator_organisation_id in allowed:
        return plan.coordinator_organisation
    return Organisation.objects.filter(pk__in=allowed).order_by("pk").first()


def _open_plan(plan: PathwayPlan) -> None:
    if plan.status not in PLAN_OPEN_STATUSES:
        raise ValidationError(_("The plan is closed: relatives are not added or involved any more."))


def _relative_values(values: dict[str, Any], *, plan: PathwayPlan, relative_pk: int | None) -> dict[str, Any]:
    """The relative's fields checked and tidied (ValidationError with a message per field)."""
    errors: dict[str, str] = {}
    for name in ("name", "relation_detail", "email", "address", "language"):
        values[name] = str(values[name] or "").strip()
    values["note"] = str(values["note"] or "").strip()
    values["phone"] = ascii_digits(str(values["phone"] or "")).strip()
    values["is_child"], values["is_closest"] = bool(values["is_child"]), bool(values["is_closest"])
    for name in ("name", "relation_detail", "phone", "email", "address", "note"):
        if len(values[name]) > _MAX_LENGTHS[name]:
            errors[name] = _too_long(name)
    if not values["name"]:
        errors["name"] = _("Write the relative's name.")
    if values["relation"] not in Relation.values:
        errors["relation"] = _("Choose how they are related to the patient.")
    if "phone" not in errors:
        try:
            validate_phone(values["phone"])
        except ValidationError as invalid:
            errors["phone"] = invalid.messages[0]
    if values["email"] and "email" not in errors:
        try:
            validate_email(values["email"])
        except ValidationError:
            errors["email"] = _("Write a whole e-mail address, e.g. name@example.dk.")
    values["language"] = values["language"].lower() or "da"
    if not LANGUAGE_CODE.match(values["language"]):
        errors["language"] = _("Write the language as a short code, e.g. da, en, ar or tr.")
    age = values["child_age"]
    if not values["is_child"] and age is not None:
        errors["child_age"] = _("Give an age only for a child under 18.")
    elif age is not None and not 0 <= age <= 17:
        errors["child_age"] = _("A child relative is 0 to 17 years old.")
    channel = values["preferred_channel"]
    if values["is_child"]:
        values["preferred_channel"] = RelativeChannel.NONE  # children get no messages of their own
    elif channel not in RelativeChannel.values:
        errors["preferred_channel"] = _("Choose how they want to hear from us.")
    elif channel in CHANNEL_NEEDS and not values[CHANNEL_NEEDS[channel][0]]:
        errors["preferred_channel"] = str(CHANNEL_NEEDS[channel][1])
    if values["is_closest"]:
        others = Relative.objects.current().filter(plan=plan, is_closest=True)
        if relative_pk is not None:
            others = others.exclude(pk=relative_pk)
        closest = others.first()
        if closest is not None:
            errors["is_closest"] = _(
                "%(name)s is already the patient's closest relative. Untick it there first."
            ) % {"name": closest.name}
    if errors:
        raise ValidationError(errors)
    return values


def _checklist_create(relative: Relative) -> None:
    """The checklist of a child relative: one row per ChildCareStep, those still missing (the children's
    part works through them)."""
    ChildChecklistItem.objects.bulk_create(
        [
            ChildChecklistItem(plan_id=relative.plan_id, relative=relative, step=step)
            for step in ChildCareStep
        ],
        ignore_conflicts=True,
    )


def _messages_cancel(relative: Relative) -> int:
    """Cancel every message still waiting for the relative (rows a worker holds too: it checks again before
    it sends) and every letter to them not yet printed (it leaves the print queue), except the notice that
    their access has ended. Returns how many. (A letter in the queue is "sent" to the queue: cancelled,
    it has no sent_at, as the database requires.)"""
    waiting = Q(state__in=outbox.WAITING_STATES) | Q(
        channel=NotificationChannel.LETTER, state=NotificationState.SENT, read_at__isnull=True
    )
    return (
        Notification.objects.addressed_to(relative)
        .filter(waiting)
        .exclude(kind=NotificationKind.CONSENT_REVOKED)
        .update(state=NotificationState.CANCELLED, lease_until=None, sent_at=None)
    )


@transaction.atomic
def relative_add(
    *,
    actor: User | None,
    plan: PathwayPlan,
    name: str,
    relation: str,
    organisation: Organisation | None = None,
    relation_detail: str = "",
    phone: str = "",
    email: str = "",
    address: str = "",
    preferred_channel: str = RelativeChannel.SMS,
    language: str = "da",
    is_child: bool = False,
    child_age: int | None = None,
    is_closest: bool = False,
    note: str = "",
    consent: dict[str, Any] | None = None,
) -> Relative:
    """Put a relative on the plan, added by `actor` for `organisation` (one they act for that takes part;
    by default the coordinator's or the first such). A child (under 18) gets the checklist's rows at once
    and never a channel of their own. `consent`: the patient's first decision, recorded with it
    (relative_consent_record's arguments)."""
    locked = PathwayPlan.objects.select_for_update().get(pk=plan.pk)  # one closest relative at a time
    participating = _may_manage(actor, locked, admin_permission="relatives.add_relative")
    _open_plan(locked)
    recorder = _recording_organisation(actor, locked, participating, organisation)
    values = _relative_values(
        {
            "name": name,
            "relation": relation,
            "relation_detail": relation_detail,
            "phone": phone,
            "email": email,
            "address": address,
            "preferred_channel": preferred_channel,
            "language": language,
            "is_child": is_child,
            "child_age": child_age,
            "is_closest": is_closest,
            "note": note,
        },
        plan=locked,
        relative_pk=None,
    )
    relative = Relative(plan=locked, added_by=actor, added_by_organisation=recorder, **values)
    relative.full_clean()
    relative.save()
    if relative.is_child:
        _checklist_create(relative)
    if consent is not None:
        relative_consent_record(actor=actor, relative=relative, organisation=recorder, **consent)
    return relative


@transaction.atomic
def relative_update(
    *, actor: User | None, relative: Relative, expected_version: int, **fields: Any
) -> Relative:
    """Change the relative's details (RELATIVE_FIELDS). A save that changes nothing writes nothing. Made a
    child: the checklist's rows are made and their waiting messages cancelled. A new channel or address:
    the appointment reminders follow it."""
    unknown = set(fields) - set(RELATIVE_FIELDS)
    if unknown:
        raise TypeError(f"not a relative's field: {sorted(unknown)}")
    plan = PathwayPlan.objects.select_for_update().get(pk=relative.plan_id)
    _may_manage(actor, plan, admin_permission="relatives.change_relative")
    locked = Relative.objects.select_for_update().get(pk=relative.pk)
    if locked.version != expected_version:
        raise VersionConflict(locked)
    if locked.ended_at is not None:
        raise ValidationError(_("This relative has been removed from the plan."))
    current = {name: getattr(locked, name) for name in RELATIVE_FIELDS}
    values = _relative_values(current | fields, plan=plan, relative_pk=locked.pk)
    changed = [name for name in RELATIVE_FIELDS if values[name] != current[name]]
    if not changed:
        return locked
    became_child = values["is_child"] and not locked.is_child
    for name in changed:
        setattr(locked, name, values[name])
    locked.version += 1
    locked.full_clean()
    locked.save(update_fields=[*changed, "version", "updated_at"])
    if became_child:
        _checklist_create(locked)
        _messages_cancel(locked)
    if {"is_child", "preferred_channel", "phone", "email", "address"} & set(changed):
        outbox.plan_reminders_sync(plan=plan)
    return locked


@transaction.atomic
def relative_remove(*, actor: User | None, relative: Relative, expected_version: int) -> Relative:
    """Take the relative off the plan: like a withdrawn consent, their access ends at once (portal
    sessions, waiting messages, reminders), but no one is told; their open referrals to support are
    cancelled with their follow-up reminders (the record stays, read on its logged page). Removing twice
    changes nothing."""
    plan = PathwayPlan.objects.select_for_update().get(pk=relative.plan_id)
    _may_manage(actor, plan, admin_permission="relatives.change_relative")
    locked = Relative.objects.select_for_update().get(pk=relative.pk)
    if locked.ended_at is not None:
        return locked
    if locked.version != expected_version:
        raise VersionConflict(locked)
    locked.ended_at = locked.sessions_ended_at = timezone.now()
    locked.version += 1
    locked.save(update_fields=["ended_at", "sessions_ended_at", "version", "updated_at"])
    _messages_cancel(locked)
    open_referrals = SupportReferral.objects.select_for_update(of=("self",)).filter(
        relative=locked, status__in=REFERRAL_OPEN_STATUSES
    )
    for referral in open_referrals.select_related("plan", "responsible_organisation", "responsible_person"):
        referral.status = ReferralStatus.CANCELLED
        referral.version += 1
        referral.save(update_fields=["status", "version", "updated_at"])
        _follow_up_reminders_sync(referral)
    outbox.plan_reminders_sync(plan=plan)
    return locked


def _still_involving(consent: RelativeConsent | None, today: date) -> bool:
    """Whether a decision involves the relative now or later (not NONE, not ended)."""
    return (
        consent is not None
        and consent.scope != ConsentScope.NONE
        and (consent.valid_until is None or consent.valid_until >= today)
    )


def _consent_action(previous: RelativeConsent | None, scope: str, today: date) -> ConsentAction:
    """What a new decision does, as the history shows it: involving someone not involved gives consent;
    "not involved" withdraws a consent still involving them, else refuses; the rest changes it."""
    involved = _still_involving(previous, today)
    if scope == ConsentScope.NONE:
        return ConsentAction.REVOKED if involved else ConsentAction.REFUSED
    return ConsentAction.CHANGED if involved else ConsentAction.GIVEN


def _consent_errors(
    *,
    relative: Relative,
    scope: str,
    method: str,
    decided_by: str,
    coercion_checked: bool,
    capacity_loss: str,
    capacity_note: str,
    representative_name: str,
    representative_basis: str,
    valid_from: date,
    valid_until: date | None,
    texts: dict[str, str],
) -> dict[str, str]:
    errors: dict[str, str] = {}
    for name, text in texts.items():
        if len(text) > _MAX_LENGTHS[name]:
            errors[name] = _too_long(name)
    if scope not in ConsentScope.values:
        errors["scope"] = _("Choose what the relative may see.")
    elif scope in SEEING_SCOPES and relative.is_child:
        errors["scope"] = _(
            "A child under 18 gets no access of their own. Choose 'Contact person only' or 'Not involved'."
        )
    elif scope != ConsentScope.NONE and not coercion_checked:
        errors["coercion_checked"] = _(
            "Confirm that you have checked the patient is not pressured into this."
        )
    if method not in ConsentMethod.values:
        errors["method"] = _("Choose how the decision was given.")
    if decided_by not in ConsentDecider.values:
        errors["decided_by"] = _("Choose who decided.")
    elif decided_by == ConsentDecider.REPRESENTATIVE:
        if not representative_name:
            errors["representative_name"] = _("Write the name of the person acting for the patient.")
        if representative_basis not in RepresentativeBasis.values:
            errors["representative_basis"] = _("Choose the legal basis they act on.")
        if capacity_loss not in CapacityLoss.values:
            errors["capacity_loss"] = _("Say whether the patient's loss of capacity is temporary or lasting.")
        elif capacity_loss == CapacityLoss.TEMPORARY and valid_until is None:
            errors["valid_until"] = _(
                "The patient may be able to decide again: give the date this decision ends."
            )
        if not capacity_note:
            errors["capacity_note"] = _("Write why the patient cannot decide for themselves.")
    if valid_until is not None and valid_until < valid_from:
        errors["valid_until"] = _("The end date cannot be before the start date.")
    return errors


@transaction.atomic
def relative_consent_record(
    *,
    actor: User | None,
    relative: Relative,
    scope: str,
    method: str,
    decided_by: str = ConsentDecider.PATIENT,
    coercion_checked: bool = False,
    coercion_note: str = "",
    capacity_loss: str = "",
    capacity_note: str = "",
    representative_name: str = "",
    representative_basis: str = "",
    valid_from: date | None = None,
    valid_until: date | None = None,
    note: str = "",
    organisation: Organisation | None = None,
    expected_decision: str | None = None,
) -> RelativeConsent:
    """Record the patient's decision about a relative (or, for a patient who cannot consent, the decision of
    the person acting for them) as a new row: decisions are never changed, the latest counts. Involving
    the relative needs the check that the patient is not pressured (NHS proxy-access guidance); a
    representative's decision names who, on what basis and why, and ends where the loss of capacity is
    temporary. A decision that withdraws a consent, or narrows it so the relative sees nothing, takes
    effect at once (see relative_consent_revoke). The reminders follow the new scope.

    `expected_decision`: the public id of the decision the form was opened on (NO_DECISION for none; empty:
    not checked); another decision recorded since is a VersionConflict. The same decision again, with
    nothing new to note, writes nothing and returns the decision that counts."""
    plan = PathwayPlan.objects.select_related("patient").get(pk=relative.plan_id)
    participating = _may_manage(actor, plan, admin_permission="relatives.add_relativeconsent")
    locked = Relative.objects.select_for_update().get(pk=relative.pk)  # one decision at a time
    if locked.ended_at is not None:
        raise ValidationError(_("This relative has been removed from the plan. Add them again first."))
    if scope != ConsentScope.NONE:
        _open_plan(plan)
    recorder = _recording_organisation(actor, plan, participating, organisation)
    today = timezone.localdate()
    valid_from = valid_from or today
    texts = {
        "coercion_note": coercion_note.strip(),
        "capacity_note": capacity_note.strip(),
        "representative_name": representative_name.strip(),
        "note": note.strip(),
    }
    if decided_by != ConsentDecider.REPRESENTATIVE:
        # The patient decided: nothing of a representative is kept (the form may post what was typed).
        capacity_loss, texts["capacity_note"], texts["representative_name"], representative_basis = (
            "",
            "",
            "",
            "",
        )
    errors = _consent_errors(
        relative=locked,
        scope=scope,
        method=method,
        decided_by=decided_by,
        coercion_checked=coercion_checked,
        capacity_loss=capacity_loss,
        capacity_note=texts["capacity_note"],
        representative_name=texts["representative_name"],
        representative_basis=representative_basis,
        valid_from=valid_from,
        valid_until=valid_until,
        texts=texts,
    )
    if valid_from > today:
        errors["valid_from"] = _("A decision counts from today or an earlier day.")
    if errors:
        raise ValidationError(errors)
    previous = access.latest_consents([locked]).get(locked.pk)
    if expected_decision and expected_decision != (str(previous.public_id) if previous else NO_DECISION):
        raise VersionConflict(locked)
    decision = {
        "scope": scope,
        "method": method,
        "decided_by": decided_by,
        "capacity_loss": capacity_loss,
        "capacity_note": texts["capacity_note"],
        "representative_name": texts["representative_name"],
        "representative_basis": representative_basis,
        "valid_until": valid_until,
    }
    if (
        previous is not None
        and all(getattr(previous, name) == value for name, value in decision.items())
        and not texts["note"]
        and not texts["coercion_note"]
    ):
        return previous  # the same decision again: nothing new to record
    was_seeing = previous is not None and access.scope_of(locked, previous, today=today) in SEEING_SCOPES
    consent = RelativeConsent(
        plan=plan,
        relative=locked,
        action=_consent_action(previous, scope, today),
        scope=scope,
        method=method,
        decided_by=decided_by,
        coercion_checked=coercion_checked and scope != ConsentScope.NONE,
        coercion_note=texts["coercion_note"],
        capacity_loss=capacity_loss,
        capacity_note=texts["capacity_note"],
        representative_name=texts["representative_name"],
        representative_basis=representative_basis,
        valid_from=valid_from,
        valid_until=valid_until,
        note=texts["note"],
        recorded_by=actor,
        recorded_by_organisation=recorder,
    )
    consent.full_clean()
    consent.save()
    if consent.action == ConsentAction.REVOKED or (was_seeing and scope not in SEEING_SCOPES):
        _access_ended(relative=locked, plan=plan, consent=consent)
    outbox.plan_reminders_sync(plan=plan)
    return consent


def _access_ended(*, relative: Relative, plan: PathwayPlan, consent: RelativeConsent) -> None:
    """A withdrawn consent, at once: the relative's waiting messages are cancelled, their portal sessions
    end (relatives.access and the portal refuse a session started before `sessions_ended_at`), and — while
    the plan is open — the patient and the relative are told (the relative's notice written after the
    cancelling, so it is not cancelled itself)."""
    now = timezone.now()
    _messages_cancel(relative)
    relative.sessions_ended_at = now
    relative.save(update_fields=["sessions_ended_at", "updated_at"])
    if plan.status not in PLAN_OPEN_STATUSES:
        return  # a closed plan (the patient may have died): no one is told
    event = f"{access.REVOKED_EVENT_PREFIX}{consent.public_id}"
    patient = plan.patient
    outbox.notify(
        recipient=patient,
        kind=NotificationKind.CONSENT_REVOKED,
        channel=outbox.patient_channel(patient),
        plan=plan,
        due_at=now,
        event=event,
    )
    channel = relative.preferred_channel
    if channel != RelativeChannel.NONE and relative.notification_address(channel):
        outbox.notify(
            recipient=relative,
            kind=NotificationKind.CONSENT_REVOKED,
            channel=NotificationChannel(channel),
            plan=plan,
            due_at=now,
            event=event,
        )


@transaction.atomic
def relative_consent_revoke(
    *,
    actor: User | None,
    relative: Relative,
    method: str,
    note: str = "",
    organisation: Organisation | None = None,
) -> RelativeConsent:
    """The patient (or the person acting for a patient who cannot consent, as in the decision withdrawn)
    withdraws the relative's consent; it takes effect at once, in this transaction: a new decision
    "not involved", the relative's waiting messages cancelled, their portal sessions ended, the patient
    and the relative told, the reminders stopped. Withdrawing what involves no one is refused."""
    plan = PathwayPlan.objects.get(pk=relative.plan_id)
    _may_manage(actor, plan, admin_permission="relatives.add_relativeconsent")
    locked = Relative.objects.select_for_update().get(pk=relative.pk)
    today = timezone.localdate()
    previous = access.latest_consents([locked]).get(locked.pk)
    if previous is None or not _still_involving(previous, today):
        raise ValidationError(_("The relative has no consent to withdraw."))
    representative: dict[str, Any] = {}
    if previous.decided_by == ConsentDecider.REPRESENTATIVE:
        representative = {
            "decided_by": ConsentDecider.REPRESENTATIVE,
            "capacity_loss": previous.capacity_loss,
            "capacity_note": previous.capacity_note,
            "representative_name": previous.representative_name,
            "representative_basis": previous.representative_basis,
        }
        if previous.capacity_loss == CapacityLoss.TEMPORARY:
            representative["valid_until"] = max(previous.valid_until or today, today)
    return relative_consent_record(
        actor=actor,
        relative=locked,
        scope=ConsentScope.NONE,
        method=method,
        note=note,
        organisation=organisation,
        **representative,
    )


# --- support: strain screening, needs and referrals ---

SUPPORT_TEXT_MAX_LENGTH = 2000
# How far ahead a follow-up may be set: a date further off is most likely a typing error.
FOLLOW_UP_MAX_DAYS = 2 * 366
# How far back a screening may be dated: an older one is history, not a basis for support now.
SCREENING_MAX_AGE_DAYS = 366
# What a referral may become: an open one moves on or closes; a closed one stays closed (support offered
# again is a new referral).
REFERRAL_TRANSITIONS: dict[str, frozenset[str]] = {
    ReferralStatus.PROPOSED: frozenset(
        {
            ReferralStatus.REFERRED,
            ReferralStatus.STARTED,
            ReferralStatus.COMPLETED,
            ReferralStatus.DECLINED,
            ReferralStatus.CANCELLED,
        }
    ),
    ReferralStatus.REFERRED: frozenset(
        {ReferralStatus.STARTED, ReferralStatus.COMPLETED, ReferralStatus.DECLINED, ReferralStatus.CANCELLED}
    ),
    ReferralStatus.STARTED: frozenset(
        {ReferralStatus.COMPLETED, ReferralStatus.DECLINED, ReferralStatus.CANCELLED}
    ),
    ReferralStatus.COMPLETED: frozenset(),
    ReferralStatus.DECLINED: frozenset(),
    ReferralStatus.CANCELLED: frozenset(),
}


def _support_allowed(relative: Relative) -> Callable[[hub_access.PlanRights], bool]:
    """The rule for writing the relative's support record, as `may_change` asks it: who may see it
    (access.may_see_support) — the plan's coordinator (or substitute), alone until the relative has a
    referral, and staff acting for an organisation holding one of the relative's referrals."""
    organisations = access.support_organisation_ids([relative])[relative.pk]
    return lambda rights: access.may_see_support(rights, organisations)


def _require_support_writer(
    actor: User | None, plan: PathwayPlan, relative: Relative, *, admin_permission: str
) -> None:
    """PermissionDenied unless `actor` may write the relative's support record."""
    allowed = _support_allowed(relative)
    if not hub_access.may_change(actor, plan, allowed, admin_permission=admin_permission):
        raise PermissionDenied
    # may_change lets the organisations setting up a plan without a coordinator change it; the support
    # record is not theirs to see, so not theirs to write either.
    if actor is None or (actor.is_active and actor.is_staff and actor.has_perm(admin_permission)):
        return
    if not allowed(hub_access.rights_for(actor, plan)):
        raise PermissionDenied


def _writer_organisation(actor: User | None, plan: PathwayPlan, relative: Relative) -> Organisation | None:
    """The organisation `actor` writes the support record for: the coordinator's organisation for the
    plan's coordinator (or substitute), else one they act for that holds a referral of the relative."""
    if actor is None:
        return None
    if hub_access.is_coordinator(actor, plan) and plan.coordinator_organisation_id is not None:
        return Organisation.objects.get(pk=plan.coordinator_organisation_id)
    holding = access.support_organisation_ids([relative])[relative.pk]
    acting = hub_access.acting_organisation_ids(actor) & holding
    return Organisation.objects.filter(pk__in=acting).order_by("name", "pk").first()


def _locked_current_relative(relative: Relative) -> Relative:
    """The relative's row, locked (one support write at a time per relative); refused once they are no
    longer on the plan."""
    locked = Relative.objects.select_for_update().select_related("plan").get(pk=relative.pk)
    if locked.ended_at is not None:
        raise ValidationError(
            _("%(name)s is no longer on the plan.") % {"name": locked.name}, code="relative_removed"
        )
    return locked


def _check_length(errors: dict[str, str], field: str, value: str, *, required: bool = False) -> None:
    if required and not value:
        errors[field] = _("This field is required.")
    elif len(value) > SUPPORT_TEXT_MAX_LENGTH:
        errors[field] = too_long(SUPPORT_TEXT_MAX_LENGTH)


def numbered_list(numbers: list[int]) -> str:
    """1, 3 and 7 (in the active language)."""
    words = [str(number) for number in numbers]
    if len(words) < 2:
        return "".join(words)
    return _("%(first)s and %(last)s") % {"first": ", ".join(words[:-1]), "last": words[-1]}


@transaction.atomic
def strain_screening_record(
    *,
    actor: User | None,
    relative: Relative,
    instrument: StrainInstrument,
    answers: Mapping[str, bool],
    screened_on: date,
    note: str = "",
) -> StrainScreening:
    """Record the relative's answers to `instrument`. Every item is answered yes or no (the error names
    the questions, by number, that are not); the score is the number of "yes", high strain when it
    reaches the instrument's threshold; both are kept with the answers as they were given, so a later
    change of the instrument's items changes future screenings only.

    A child relative may be screened too: a child can be strained by a parent's illness. The instrument
    was made for adult carers, which the form says; the child checklist is the main care for a child."""
    locked = _locked_current_relative(relative)
    plan = locked.plan
    _require_support_writer(actor, plan, locked, admin_permission="relatives.change_strainscreening")
    items = list(instrument.items.order_by("position", "pk"))
    note = note.strip()
    errors: dict[str, str] = {}
    if not instrument.is_active:
        errors["instrument"] = _("This instrument is no longer in use.")
    elif not items:
        errors["instrument"] = _("This instrument has no questions.")
    keys = {item.key for item in items}
    missing = [number for number, item in enumerate(items, 1) if not isinstance(answers.get(item.key), bool)]
    if missing:
        errors["answers"] = _("Answer every question yes or no. Not answered: %(numbers)s.") % {
            "numbers": numbered_list(missing)
        }
    elif set(answers) - keys:
        errors["answers"] = _("The answers are to questions this instrument does not have.")
    today = timezone.localdate()
    if screened_on > today:
        errors["screened_on"] = _("The screening date cannot be in the future.")
    elif screened_on < today - timedelta(days=SCREENING_MAX_AGE_DAYS):
        errors["screened_on"] = _("The screening date can be at most a year ago.")
    _check_length(errors, "note", note)
    if errors:
        raise ValidationError(errors)
    score = sum(1 for item in items if answers[item.key])
    screening = StrainScreening(
        plan=plan,
        relative=locked,
        instrument=instrument,
        answers={item.key: bool(answers[item.key]) for item in items},
        score=score,
        max_score=len(items),
        high_strain=score >= instrument.high_strain_from,
        screened_on=screened_on,
        note=note,
        screened_by=actor,
        screened_by_organisation=_writer_organisation(actor, plan, locked),
    )
    screening.full_clean()
    screening.save()
    return screening


@transaction.atomic
def relative_need_record(*, actor: User | None, relative: Relative, text: str) -> RelativeNeed:
    """Record a need in the relative's own words (as they said it: the text is kept as written)."""
    locked = _locked_current_relative(relative)
    _require_support_writer(actor, locked.plan, locked, admin_permission="relatives.change_relativeneed")
    text = text.strip()
    errors: dict[str, str] = {}
    _check_length(errors, "text", text, required=True)
    if errors:
        raise ValidationError(errors)
    need = RelativeNeed(plan=locked.plan, relative=locked, text=text, recorded_by=actor)
    need.full_clean()
    need.save()
    return need


@transaction.atomic
def relative_need_met(*, actor: User | None, need: RelativeNeed) -> RelativeNeed:
    """Mark the need met (when the relative says so). Marking it again changes nothing."""
    locked = (
        RelativeNeed.objects.select_for_update(of=("self",)).select_related("relative__plan").get(pk=need.pk)
    )
    relative = locked.relative
    _require_support_writer(actor, relative.plan, relative, admin_permission="relatives.change_relativeneed")
    if locked.met_at is None:
        locked.met_at = timezone.now()
        locked.save(update_fields=["met_at"])
    return locked


def _is_member(person: User, organisation: Organisation) -> bool:
    return (
        person.is_active
        and Membership.objects.active().filter(user=person, organisation=organisation).exists()
    )


def _follow_up_errors(errors: dict[str, str], follow_up_date: date | None) -> None:
    if follow_up_date is None:
        return
    today = timezone.localdate()
    if follow_up_date < today:
        errors["follow_up_date"] = _("The follow-up date cannot be in the past.")
    elif follow_up_date > today + timedelta(days=FOLLOW_UP_MAX_DAYS):
        errors["follow_up_date"] = _("The follow-up date can be at most two years ahead.")


def responsible_organisation_ids(plan: PathwayPlan) -> set[int]:
    """Who may be responsible for a referral: an organisation taking part in the plan, or the coordinator's
    (being responsible lets its staff see the relative's support record, which they reach through the
    plan; an offer's organisation outside the plan, such as a patient association, is followed up by one
    inside it)."""
    participating = PlanParticipant.objects.filter(plan=plan).values_list("organisation_id", flat=True)
    return {*participating} | (
        {plan.coordinator_organisation_id} if plan.coordinator_organisation_id else set()
    )


def default_responsible_organisation(plan: PathwayPlan, offer: SupportOffer) -> Organisation | None:
    """The offer's organisation where it may be responsible, else the coordinator's."""
    if offer.organisation_id in responsible_organisation_ids(plan):
        return offer.organisation
    return plan.coordinator_organisation


@transaction.atomic
def support_referral_create(
    *,
    actor: User | None,
    relative: Relative,
    offer: SupportOffer,
    responsible_organisation: Organisation | None = None,
    responsible_person: User | None = None,
    status: ReferralStatus | str = ReferralStatus.REFERRED,
    follow_up_date: date | None = None,
    note: str = "",
) -> SupportReferral:
    """Refer the relative to a support offer. Responsible: `responsible_organisation` (by default the
    offer's where it takes part in the plan, else the coordinator's; it must take part or coordinate)
    and, if named, `responsible_person`, an active member of it. A follow-up date (today or later)
    reminds them at 08:00 that day (`_follow_up_reminders_sync`). The relative's first referral is made
    by the plan's coordinator; from then on the organisations holding a referral may add more. Refused:
    an offer no longer offered, a second open referral to the same offer."""
    locked = _locked_current_relative(relative)
    plan = locked.plan
    _require_support_writer(actor, plan, locked, admin_permission="relatives.change_supportreferral")
    organisation = responsible_organisation or default_responsible_organisation(plan, offer)
    note = note.strip()
    errors: dict[str, str] = {}
    if not offer.is_active:
        errors["offer"] = _("This offer is not offered any more. Choose another.")
    elif SupportReferral.objects.filter(
        relative=locked, offer=offer, status__in=REFERRAL_OPEN_STATUSES
    ).exists():
        errors["offer"] = _("The relative already has an open referral to this offer.")
    if organisation is None or organisation.pk not in responsible_organisation_ids(plan):
        errors["responsible_organisation"] = _("Choose an organisation taking part in the plan.")
    elif responsible_person is not None and not _is_member(responsible_person, organisation):
        errors["responsible_person"] = _("Choose a person who works in the responsible organisation.")
    if status not in REFERRAL_OPEN_STATUSES:
        errors["status"] = _("A new referral is proposed, referred or started.")
    _follow_up_errors(errors, follow_up_date)
    _check_length(errors, "note", note)
    if errors:
        raise ValidationError(errors)
    referral = SupportReferral(
        plan=plan,
        relative=locked,
        offer=offer,
        status=status,
        responsible_organisation=organisation,
        responsible_person=responsible_person,
        follow_up_date=follow_up_date,
        note=note,
        created_by=actor,
    )
    referral.full_clean()
    referral.save()
    _follow_up_reminders_sync(referral)
    return referral


@transaction.atomic
def support_referral_update(
    *,
    actor: User | None,
    referral: SupportReferral,
    expected_version: int,
    status: ReferralStatus | str,
    responsible_person: User | None,
    follow_up_date: date | None,
    note: str,
) -> SupportReferral:
    """Move the referral on (REFERRAL_TRANSITIONS), change who is responsible in its organisation, its
    follow-up date and note. A stale `expected_version` is a VersionConflict. A new follow-up date must be
    today or later (an unchanged date already passed is kept); the waiting reminder moves with the date
    and the person, and a closed referral (completed, declined, cancelled) has none. A closed referral
    keeps everything but its note. Nothing changed: nothing written."""
    locked = (
        SupportReferral.objects.select_for_update(of=("self",))
        .select_related("relative__plan", "responsible_organisation")
        .get(pk=referral.pk)
    )
    relative = locked.relative
    _require_support_writer(
        actor, relative.plan, relative, admin_permission="relatives.change_supportreferral"
    )
    if locked.version != expected_version:
        raise VersionConflict(locked)
    note = note.strip()
    changes: dict[str, Any] = {}
    if status != locked.status:
        changes["status"] = status
    if (responsible_person.pk if responsible_person else None) != locked.responsible_person_id:
        changes["responsible_person"] = responsible_person
    if follow_up_date != locked.follow_up_date:
        changes["follow_up_date"] = follow_up_date
    if note != locked.note:
        changes["note"] = note
    errors: dict[str, str] = {}
    if locked.status not in REFERRAL_OPEN_STATUSES and set(changes) - {"note"}:
        errors["status"] = _(
            "This referral is closed. Make a new referral if the relative needs support again."
        )
    elif "status" in changes and status not in REFERRAL_TRANSITIONS[locked.status]:
        errors["status"] = _("A referral cannot go from %(from)s to %(to)s.") % {
            "from": locked.get_status_display().lower(),
            "to": str(ReferralStatus(status).label).lower() if status in ReferralStatus.values else status,
        }
    if (
        responsible_person is not None
        and "responsible_person" in changes
        and not _is_member(responsible_person, locked.responsible_organisation)
    ):
        errors["responsible_person"] = _("Choose a person who works in the responsible organisation.")
    if "follow_up_date" in changes:
        _follow_up_errors(errors, follow_up_date)
    _check_length(errors, "note", note)
    if errors:
        raise ValidationError(errors)
    if not changes:
        return locked
    for name, value in changes.items():
        setattr(locked, name, value)
    locked.full_clean(exclude=["version"])
    locked.version = F("version") + 1
    locked.save(update_fields=[*changes, "version", "updated_at"])
    locked.refresh_from_db()
    _follow_up_reminders_sync(locked)
    return locked


def _follow_up_recipients(referral: SupportReferral) -> list[User]:
    """Who is reminded: the responsible person while they work in the responsible organisation, else its
    coordinators, else (an organisation without coordinators in the product, such as a patient
    association) the plan's coordinator."""
    person = referral.responsible_person
    if person is not None and _is_member(person, referral.responsible_organisation):
        return [person]
    coordinators = outbox.coordinators_of(referral.responsible_organisation_id)
    if coordinators:
        return coordinators
    plan = referral.plan
    return [plan.coordinator] if plan.coordinator is not None and plan.coordinator.is_active else []


def follow_up_event(referral: SupportReferral) -> str:
    """The event part of a referral's reminders' dedupe keys (its prefix finds them all)."""
    day = referral.follow_up_date.isoformat() if referral.follow_up_date else ""
    return f"referral:{referral.pk}:{day}"


def _follow_up_reminders_sync(referral: SupportReferral) -> None:
    """Make the referral's waiting follow-up reminder match it as saved, in the caller's transaction: at
    08:00 on the follow-up date (at once when that is today and later than 08:00) to the people of
    `_follow_up_recipients`; a moved date or a new person moves it; a closed referral, or one without a
    date, has none. Rows a worker holds are cancelled too: it checks before it sends. An unchanged date
    already passed keeps what was sent."""
    day = referral.follow_up_date
    is_open = referral.status in REFERRAL_OPEN_STATUSES
    if is_open and day is not None and day < timezone.localdate():
        return
    wanted: set[str] = set()
    if is_open and day is not None:
        wanted = outbox.notify_staff(
            _follow_up_recipients(referral),
            kind=NotificationKind.RELATIVE_FOLLOW_UP,
            plan=referral.plan,
            due_at=max(outbox.local_moment(day), timezone.now()),
            event=follow_up_event(referral),
        )
    Notification.objects.filter(
        plan_id=referral.plan_id,
        kind=NotificationKind.RELATIVE_FOLLOW_UP,
        state__in=outbox.WAITING_STATES,
        dedupe_key__contains=f"|referral:{referral.pk}:",
    ).exclude(dedupe_key__in=wanted).update(state=NotificationState.CANCELLED, lease_until=None)


# --- children: the checklist for a child relative ---


def _may_work_checklist(actor: User | None, item: ChildChecklistItem) -> bool:
    """Who works through a child's checklist: those who manage the plan's relatives (the coordinator, staff
    acting for an organisation taking part in the plan)."""
    participating = access.participating_ids(item.plan)
    return hub_access.may_change(
        actor,
        item.plan,
        lambda rights: access.may_manage_relatives(rights, participating),
        admin_permission="relatives.change_childchecklistitem",
    )


@transaction.atomic
def checklist_item_update(
    *,
    actor: User | None,
    item: ChildChecklistItem,
    expected_version: int,
    status: str,
    contact_name: str = "",
    consent_confirmed: bool = False,
    note: str = "",
) -> ChildChecklistItem:
    """Work one step of a child's checklist: done, not relevant, or open again, with a note. The school or
    daycare step is done only with consent to tell them; the contact step only with the contact's name
    (each step keeps only the detail it asks for). Done records who and when; any other status clears it.

    Saving what is already saved writes nothing, whatever version the form had (a second click is no
    conflict); a change on a stale version is a VersionConflict."""
    locked = (
        ChildChecklistItem.objects.select_for_update(of=("self",))
        .select_related("plan", "relative")
        .get(pk=item.pk)
    )
    if not _may_work_checklist(actor, locked):
        raise PermissionDenied
    if status not in ChecklistStatus.values:
        raise ValidationError({"status": _("Choose open, done or not relevant.")})
    values: dict[str, Any] = {
        "status": status,
        "contact_name": contact_name.strip() if locked.step == ChildCareStep.NAMED_CONTACT else "",
        "consent_confirmed": bool(consent_confirmed) if locked.step == ChildCareStep.SCHOOL else False,
        "note": note.strip(),
    }
    if status != ChecklistStatus.DONE:
        values |= {"done_by": None, "done_at": None}
    elif locked.status != ChecklistStatus.DONE:
        values |= {"done_by": actor, "done_at": timezone.now()}
    changed = [name for name, value in values.items() if _differs(locked, name, value)]
    if not changed:
        return locked
    if locked.version != expected_version:
        raise VersionConflict(locked)
    relative = locked.relative
    if relative.ended_at is not None or not relative.is_child:
        raise ValidationError(_("The checklist is closed: the child is no longer on the plan as a child."))
    errors: dict[str, str] = {}
    for name, longest in (("contact_name", 200), ("note", 1000)):
        if len(values[name]) > longest:
            errors[name] = too_long(longest)
        elif "\x00" in values[name]:
            errors[name] = _("Remove the invisible control characters from the text.")
    done = status == ChecklistStatus.DONE
    if done and locked.step == ChildCareStep.SCHOOL and not values["consent_confirmed"]:
        errors["consent_confirmed"] = _(
            "School or daycare may only be told with the consent of the patient and the parent with custody."
        )
    if done and locked.step == ChildCareStep.NAMED_CONTACT and not values["contact_name"]:
        errors["contact_name"] = _("Write the name of the child's contact person to mark this step done.")
    if errors:
        raise ValidationError(errors)
    for name, value in values.items():
        setattr(locked, name, value)
    locked.full_clean(exclude=["version", "plan", "relative", "done_by"])
    locked.version = F("version") + 1
    locked.save(update_fields=[*changed, "version"])
    locked.refresh_from_db()
    return locked


def _differs(instance: ChildChecklistItem, name: str, value: Any) -> bool:
    """Whether `value` would change the field `name` (a foreign key compared by id: no query)."""
    if name == "done_by":
        return instance.done_by_id != (value.pk if value is not None else None)
    return bool(getattr(instance, name) != value)
