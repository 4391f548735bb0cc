"""Coordination's data: the need for a coordinator, coordinator handovers, responsibility disputes and
their escalation ladder, and messages between sectors on a plan.

Invariants live here as database constraints; writes go through coordination.services, reads through
coordination.access and coordination.selectors. Every model here hangs off a pathway plan and is under
the hub's audit trail (`audited`), so the plan's history shows it.
Names follow FHIR/MedCom where there is a counterpart: a message thread and its messages map onto
MedCom's CareCommunication (FHIR Communication), a dispute onto nothing yet.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import uuid4

import pgtrigger
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from coordination.choices import (
    DisputeQuestion,
    DisputeStatus,
    EscalationTarget,
    MessagePriority,
    NeedCriterion,
    NeedOutcome,
)
from pathways.channels import PermanentSendError
from pathways.choices import NotificationChannel
from pathways.models import (
    IntegrationCredential,
    Notification,
    Organisation,
    PathwayPlan,
    Task,
    User,
    audited,
    choices_check,
)
from pathways.numbers import NumericTextField, validate_phone


def _day(value: Any) -> str:
    """A date or moment as YYYY-MM-DD (local day), also when it comes as text from the audit trail."""
    if isinstance(value, datetime):
        value = timezone.localdate(value)
    return str(value)[:10]


@audited()
class NeedAssessment(models.Model):
    """An assessment, with the patient, of whether the plan needs a named coordinator. The plan's latest
    assessment is the one that counts; earlier ones stay on record."""

    public_id = models.UUIDField(default=uuid4, unique=True, editable=False)
    plan = models.ForeignKey(PathwayPlan, on_delete=models.CASCADE, related_name="need_assessments")
    assessed_by = models.ForeignKey(
        User, verbose_name=_("assessed by"), on_delete=models.PROTECT, related_name="+"
    )
    assessed_by_organisation = models.ForeignKey(
        Organisation, verbose_name=_("organisation"), on_delete=models.PROTECT, related_name="+"
    )
    assessed_on = models.DateField(_("assessed on"), default=timezone.localdate)
    patient_present = models.BooleanField(_("the patient took part"), default=True)
    criteria = ArrayField(
        models.CharField(max_length=40, choices=NeedCriterion.choices),
        verbose_name=_("criteria met"),
        default=list,
        blank=True,
    )
    unplanned_admissions_12m = models.PositiveSmallIntegerField(
        _("unplanned admissions in the last 12 months"), default=0
    )
    outcome = models.CharField(_("outcome"), max_length=32, choices=NeedOutcome.choices)
    note = models.TextField(_("note"), blank=True, max_length=2000)
    review_date = models.DateField(_("reassess by"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("need assessment")
        verbose_name_plural = _("need assessments")
        ordering = ["-assessed_on", "-id"]
        constraints = [
            choices_check("outcome", NeedOutcome, "needassessment_outcome_valid"),
            models.CheckConstraint(
                condition=Q(review_date__gt=F("assessed_on")), name="needassessment_review_after_assessment"
            ),
        ]
        indexes = [models.Index(fields=["plan", "-assessed_on", "-id"], name="needassessment_latest_idx")]

    def __str__(self) -> str:
        # Also named from the audit trail's stored columns (pathways.history), where dates are text.
        return f"{_day(self.assessed_on)} {self.get_outcome_display()}"


@audited()
class CoordinatorHandover(models.Model):
    """A change of coordinator (or substitute): who had it, who has it now, who handed over and why.
    Append-only: the plan's coordinator fields say who it is now, these rows how it came to be."""

    public_id = models.UUIDField(default=uuid4, unique=True, editable=False)
    plan = models.ForeignKey(PathwayPlan, on_delete=models.CASCADE, related_name="coordinator_handovers")
    from_coordinator = models.ForeignKey(
        User, verbose_name=_("from"), on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    to_coordinator = models.ForeignKey(User, verbose_name=_("to"), on_delete=models.PROTECT, related_name="+")
    organisation = models.ForeignKey(
        Organisation, verbose_name=_("coordinator's organisation"), on_delete=models.PROTECT, related_name="+"
    )
    from_substitute = models.ForeignKey(
        User,
        verbose_name=_("substitute before"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    to_substitute = models.ForeignKey(
        User, verbose_name=_("substitute"), on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    note = models.TextField(_("handover note"), blank=True, max_length=2000)
    handed_over_by = models.ForeignKey(
        User,
        verbose_name=_("handed over by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    handed_over_at = models.DateTimeField(_("handed over"), default=timezone.now)

    class Meta:
        verbose_name = _("coordinator handover")
        verbose_name_plural = _("coordinator handovers")
        ordering = ["-handed_over_at", "-id"]

    def __str__(self) -> str:
        # Named from its own columns only: the plan's history names it from the audit trail's stored
        # columns (pathways.history), without its people and with the time as text.
        return f"{_day(self.handed_over_at)} {_('coordinator handover')}"


class EscalationStep(models.Model):
    """One rung of the escalation ladder for responsibility disputes (data, edited in the admin): after
    `after_working_days` working days open, the dispute is escalated to `target`."""

    step = models.PositiveSmallIntegerField(_("step"), unique=True)
    after_working_days = models.PositiveSmallIntegerField(_("after working days"))
    target = models.CharField(_("escalate to"), max_length=32, choices=EscalationTarget.choices)

    class Meta:
        verbose_name = _("escalation step")
        verbose_name_plural = _("escalation ladder")
        ordering = ["step"]
        constraints = [
            choices_check("target", EscalationTarget, "escalationstep_target_valid"),
            models.UniqueConstraint(fields=["after_working_days"], name="escalationstep_days_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.step}: {self.after_working_days} · {self.get_target_display()}"


class EscalationContact(models.Model):
    """An organisation's named escalation contact for responsibility disputes (set in the admin). An
    organisation without one escalates to its coordinators, or to its parent's contact."""

    organisation = models.OneToOneField(
        Organisation,
        verbose_name=_("organisation"),
        on_delete=models.CASCADE,
        related_name="escalation_contact",
    )
    person = models.ForeignKey(
        User, verbose_name=_("escalation contact"), on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = _("escalation contact")
        verbose_name_plural = _("escalation contacts")

    def __str__(self) -> str:
        return f"{self.organisation}: {self.person}"


class Secretariat(models.Model):
    """The cross-sector secretariat (e.g. the health agreement's secretariat between region and
    municipalities): the last rung of the escalation ladder. One row, set in the admin; reached by
    e-mail, it has no sign-in of its own."""

    name = models.CharField(_("name"), max_length=200)
    email = models.EmailField(_("e-mail"))
    phone = NumericTextField(_("phone"), max_length=30, blank=True, validators=[validate_phone])

    class Meta:
        verbose_name = _("cross-sector secretariat")
        verbose_name_plural = _("cross-sector secretariat")

    def __str__(self) -> str:
        return self.name

    def notification_address(self, channel: str) -> str:
        return self.email if channel == NotificationChannel.EMAIL else ""

    def notification_text(self, row: Notification) -> tuple[str, str]:
        """The secretariat's e-mail (it has no sign-in and cannot open the plan): which dispute, between
        which organisations, about what, for how long, and whom to call. No patient data: no name, no CPR
        number, no diagnosis, not the task's title."""
        if row.task_id is None:
            raise PermanentSendError("an escalation names its task")
        dispute = (
            Dispute.objects.filter(task_id=row.task_id)
            .select_related("plan__coordinator", "plan__coordinator_organisation")
            .prefetch_related("parties")
            .order_by("-raised_at")
            .first()
        )
        if dispute is None:
            raise PermanentSendError("the dispute no longer exists")
        plan = dispute.plan
        coordinator = (
            f"{plan.coordinator.get_full_name()}, {plan.coordinator_organisation}, {plan.coordinator_phone}"
            if plan.coordinator is not None
            else _("none named yet")
        )
        subject = _("Responsibility dispute escalated to the secretariat")
        body = _(
            "A disagreement about responsibility for a task in a shared pathway plan has not been resolved "
            "and is escalated to you.\n\n"
            "Between: %(parties)s\n"
            "What is disputed: %(question)s\n"
            "Open since: %(raised)s (%(days)s days)\n"
            "Acts in the meantime: %(interim)s\n"
            "The plan's coordinator: %(coordinator)s\n"
            "Reference: %(reference)s\n\n"
            "Contact the plan's coordinator to settle it. This message holds no health information."
        ) % {
            "parties": ", ".join(sorted(party.name for party in dispute.parties.all())),
            "question": dispute.get_question_display(),
            "raised": date_format(timezone.localdate(dispute.raised_at), "j. F Y"),
            "days": (timezone.localdate() - timezone.localdate(dispute.raised_at)).days,
            "interim": dispute.interim_organisation.name,
            "coordinator": coordinator,
            "reference": dispute.public_id,
        }
        return str(subject), str(body)


class DisputeQuerySet(models.QuerySet["Dispute"]):
    def open(self) -> DisputeQuerySet:
        return self.filter(status=DisputeStatus.OPEN)


@audited()
class Dispute(models.Model):
    """A disputed responsibility for a task ("uenighed om ansvar"): between which organisations, about
    what, who acts in the meantime, how far it has been escalated and, once resolved, the decision."""

    public_id = models.UUIDField(default=uuid4, unique=True, editable=False)
    plan = models.ForeignKey(PathwayPlan, on_delete=models.CASCADE, related_name="disputes")
    task = models.ForeignKey(Task, verbose_name=_("task"), on_delete=models.CASCADE, related_name="disputes")
    parties = models.ManyToManyField(
        Organisation, verbose_name=_("organisations in dispute"), related_name="+"
    )
    question = models.CharField(_("question"), max_length=16, choices=DisputeQuestion.choices)
    reason = models.TextField(_("reason"), max_length=2000)
    interim_organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("acts in the meantime"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    interim_note = models.TextField(_("what they do in the meantime"), blank=True, max_length=1000)
    raised_by = models.ForeignKey(
        User, verbose_name=_("raised by"), on_delete=models.PROTECT, related_name="+"
    )
    raised_by_organisation = models.ForeignKey(
        Organisation, verbose_name=_("raised by organisation"), on_delete=models.PROTECT, related_name="+"
    )
    raised_at = models.DateTimeField(_("raised"), default=timezone.now)
    status = models.CharField(
        _("status"), max_length=16, choices=DisputeStatus.choices, default=DisputeStatus.OPEN
    )
    escalation_step = models.PositiveSmallIntegerField(_("escalated to step"), default=0)
    escalated_at = models.DateTimeField(_("last escalated"), null=True, blank=True)
    decision = models.TextField(_("decision"), blank=True, max_length=2000)
    decided_organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("responsible after the decision"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    resolved_by = models.ForeignKey(
        User, verbose_name=_("resolved by"), on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    version = models.PositiveIntegerField(_("version"), default=1)

    objects = DisputeQuerySet.as_manager()

    class Meta:
        verbose_name = _("responsibility dispute")
        verbose_name_plural = _("responsibility disputes")
        ordering = ["raised_at", "id"]
        constraints = [
            choices_check("status", DisputeStatus, "dispute_status_valid"),
            choices_check("question", DisputeQuestion, "dispute_question_valid"),
            models.UniqueConstraint(
                fields=["task"],
                condition=Q(status=DisputeStatus.OPEN),
                name="dispute_one_open_per_task",
                violation_error_message=_("The task's responsibility is already disputed."),
            ),
            models.CheckConstraint(
                condition=(
                    Q(status=DisputeStatus.OPEN)
                    & Q(resolved_at__isnull=True, resolved_by__isnull=True, decided_organisation__isnull=True)
                )
                | (
                    Q(status=DisputeStatus.RESOLVED)
                    & Q(resolved_at__isnull=False, decided_organisation__isnull=False)
                    & ~Q(decision="")
                ),
                name="dispute_resolution_complete",
            ),
            models.CheckConstraint(condition=~Q(reason=""), name="dispute_reason_required"),
        ]
        indexes = [
            models.Index(
                fields=["plan"], condition=Q(status=DisputeStatus.OPEN), name="dispute_open_plan_idx"
            ),
            models.Index(
                fields=["raised_at"], condition=Q(status=DisputeStatus.OPEN), name="dispute_open_age_idx"
            ),
        ]

    def __str__(self) -> str:
        # Named from its own columns only: the plan's history names it from the audit trail's snapshot.
        return f"{self.get_question_display()} ({self.get_status_display()})"


class DisputeEscalation(models.Model):
    """A step of the ladder taken for a dispute: one row per dispute and step, so the beat job that
    escalates can run any number of times and escalates each step once."""

    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="escalations")
    step = models.PositiveSmallIntegerField(_("step"))
    target = models.CharField(_("escalated to"), max_length=32, choices=EscalationTarget.choices)
    escalated_at = models.DateTimeField(_("escalated"), default=timezone.now)

    class Meta:
        verbose_name = _("dispute escalation")
        verbose_name_plural = _("dispute escalations")
        ordering = ["dispute", "step"]
        constraints = [
            models.UniqueConstraint(fields=["dispute", "step"], name="disputeescalation_once_per_step"),
            choices_check("target", EscalationTarget, "disputeescalation_target_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.dispute} · {self.step}"


@audited()
class MessageThread(models.Model):
    """A conversation between sectors on a plan, optionally about one task (CareCommunication's
    episode of care and topic)."""

    public_id = models.UUIDField(default=uuid4, unique=True, editable=False)
    plan = models.ForeignKey(PathwayPlan, on_delete=models.CASCADE, related_name="message_threads")
    task = models.ForeignKey(
        Task,
        verbose_name=_("about the task"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="message_threads",
    )
    subject = models.CharField(_("subject"), max_length=200)
    # None: started by a message received through MedCom (coordination.carecommunication).
    started_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    started_at = models.DateTimeField(_("started"), default=timezone.now)
    last_message_at = models.DateTimeField(_("last message"), default=timezone.now)

    class Meta:
        verbose_name = _("message thread")
        verbose_name_plural = _("message threads")
        ordering = ["-last_message_at", "-id"]
        indexes = [models.Index(fields=["plan", "-last_message_at"], name="thread_plan_recent_idx")]

    def __str__(self) -> str:
        return self.subject


@audited()
class Message(models.Model):
    """One message in a thread (a CareCommunication). Never edited after sending: a correction is a new
    message."""

    # The plan's history says a message was sent, not what it says: reading it is a logged read of its own.
    history_hidden_fields = ("body",)

    public_id = models.UUIDField(default=uuid4, unique=True, editable=False)
    thread = models.ForeignKey(
        MessageThread, verbose_name=_("message thread"), on_delete=models.CASCADE, related_name="messages"
    )
    plan = models.ForeignKey(PathwayPlan, on_delete=models.CASCADE, related_name="messages")
    # A message received through MedCom (coordination.carecommunication) has no user here: the sending
    # system names its author.
    sender = models.ForeignKey(
        User, verbose_name=_("from"), on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    sender_name = models.CharField(_("from (as the sending system names them)"), max_length=200, blank=True)
    sender_organisation = models.ForeignKey(
        Organisation, verbose_name=_("from organisation"), on_delete=models.PROTECT, related_name="+"
    )
    body = models.TextField(_("message"), max_length=4000)
    priority = models.CharField(
        _("priority"), max_length=16, choices=MessagePriority.choices, default=MessagePriority.ROUTINE
    )
    sent_at = models.DateTimeField(_("sent"), default=timezone.now)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["sent_at", "id"]
        constraints = [
            choices_check("priority", MessagePriority, "message_priority_valid"),
            models.CheckConstraint(condition=~Q(body=""), name="message_body_required"),
            models.CheckConstraint(
                condition=Q(sender__isnull=False) | ~Q(sender_name=""), name="message_sender_named"
            ),
        ]
        # Sent is sent: a correction is a new message.
        triggers = [pgtrigger.Protect(name="message_not_edited", operation=pgtrigger.Update)]

    def __str__(self) -> str:
        # Named from its own columns only (see Dispute.__str__); never the body.
        return f"{_day(self.sent_at)} · {self.get_priority_display()}"


class ReceivedCareCommunication(models.Model):
    """A MedCom CareCommunication (korrespondancemeddelelse) as received from another system — the body
    kept verbatim — and the message it became in the plan's thread. (sender, medcom_message_id) is unique:
    the same message again gets the stored acknowledgement and changes nothing."""

    public_id = models.UUIDField(default=uuid4, unique=True, editable=False)
    medcom_message_id = models.CharField(_("message id"), max_length=100)
    sender = models.ForeignKey(
        Organisation, verbose_name=_("sender"), on_delete=models.PROTECT, related_name="+"
    )
    receiver = models.ForeignKey(
        Organisation, verbose_name=_("receiver"), on_delete=models.PROTECT, related_name="+"
    )
    credential = models.ForeignKey(
        IntegrationCredential, verbose_name=_("credential"), on_delete=models.PROTECT, related_name="+"
    )
    message = models.OneToOneField(
        "Message", verbose_name=_("message"), on_delete=models.CASCADE, related_name="received_as"
    )
    body = models.TextField(_("as received"))
    received_at = models.DateTimeField(_("received"), default=timezone.now)
    acknowledgement = models.JSONField(_("acknowledgement sent"), default=dict, editable=False)

    class Meta:
        verbose_name = _("received care communication")
        verbose_name_plural = _("received care communications")
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["sender", "medcom_message_id"], name="receivedcarecommunication_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.medcom_message_id} ({self.sender})"


class MessageRecipient(models.Model):
    """A message's recipient organisation and its read receipt (read by anyone working there)."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="recipients")
    organisation = models.ForeignKey(
        Organisation, verbose_name=_("to organisation"), on_delete=models.PROTECT, related_name="+"
    )
    plan = models.ForeignKey(PathwayPlan, on_delete=models.CASCADE, related_name="+")
    read_at = models.DateTimeField(_("read"), null=True, blank=True)
    read_by = models.ForeignKey(
        User, verbose_name=_("read by"), on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("message recipient")
        verbose_name_plural = _("message recipients")
        constraints = [
            models.UniqueConstraint(fields=["message", "organisation"], name="messagerecipient_unique"),
            models.CheckConstraint(
                condition=Q(read_at__isnull=True, read_by__isnull=True)
                | Q(read_at__isnull=False, read_by__isnull=False),
                name="messagerecipient_read_by_whom",
            ),
        ]
        indexes = [
            # Unread counts: an organisation's unread messages, per plan.
            models.Index(
                fields=["organisation", "plan"],
                condition=Q(read_at__isnull=True),
                name="messagerecipient_unread_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.message} → {self.organisation}"
