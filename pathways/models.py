"""The hub's data: organisations, staff, patients, pathway plans, goals, tasks and the access log.

Invariants live here as database constraints; writes go through services.py, reads through access.py.
Names follow FHIR (Organization, Patient, CarePlan, CareTeam, Goal, Task) so export is a mapping.

The audit trail is kept by the database: `@audited` models get a `<Model>Event` table that a trigger
fills with a snapshot of the row on every insert, update and delete (django-pghistory), so bulk updates,
raw SQL and admin edits are recorded as well as the services' writes. The request's user and URL come
with each event through pghistory's context (HistoryMiddleware). Event tables and the access log are
append-only: protect triggers refuse UPDATE and DELETE. TRUNCATE is not a row operation and is not
refused; the test runner's flush between tests needs it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TypeVar, cast
from uuid import uuid4

import pghistory
import pgtrigger
from django.contrib.auth.models import AbstractUser
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.formats import date_format
from django.utils.translation import get_language_info
from django.utils.translation import gettext_lazy as _
from pghistory.models import Context, Events

from pathways.choices import (
    DOCUMENT_WAITING_STATES,
    MUNICIPALITIES,
    PLAN_OPEN_STATUSES,
    AccessAction,
    AccessPurpose,
    ContactChannel,
    DocumentContent,
    DocumentKind,
    DocumentState,
    GoalStatus,
    MedcomCode,
    MembershipRole,
    MunicipalService,
    NotificationChannel,
    NotificationKind,
    NotificationState,
    PlanStatus,
    ReceivedState,
    ResponsibleParty,
    Sector,
    SecurityEventKind,
    StayClass,
    StayEnd,
    StayStatus,
    TaskKind,
    TaskStatus,
    TemplateTrigger,
    TransitionEffectKind,
    TransitionKind,
    TransitionSource,
    TransitionState,
)
from pathways.cpr import cpr_parse, validate_cpr
from pathways.numbers import NumericTextField, validate_phone, validate_postcode, validate_sor_code

_M = TypeVar("_M", bound=models.Model)


# The models under the audit trail, in declaration order (filled in by @audited; other apps' models too).
AUDITED_MODELS: list[type[models.Model]] = []


def audited() -> Callable[[type[_M]], type[_M]]:
    """Track inserts, updates and deletes of the model as snapshot events (see the module docstring) in
    an event model named `<Model>Event`. Event tables are append-only through PGHISTORY_APPEND_ONLY.

    New tracker objects per model: pghistory narrows an update tracker's condition to its model's fields
    in place.
    """
    track = pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent())

    def register(model: type[_M]) -> type[_M]:
        AUDITED_MODELS.append(model)
        return cast(type[_M], track(model))

    return register


def event_model_label(model: type[models.Model]) -> str:
    """The event model that keeps the model's audit trail: pathways.Task → pathways.TaskEvent."""
    return f"{model._meta.label}Event"


def choices_check(field: str, choices: type[models.TextChoices], name: str) -> models.CheckConstraint:
    return models.CheckConstraint(condition=Q(**{f"{field}__in": choices.values}), name=name)


class Organisation(models.Model):
    """A hospital department, a municipal unit, a GP clinic… (FHIR Organization)."""

    public_id = models.UUIDField(default=uuid4, unique=True, editable=False)
    name = models.CharField(_("name"), max_length=200)
    sector = models.CharField(_("sector"), max_length=32, choices=Sector.choices)
    sor_code = NumericTextField(
        _("SOR code"),
        max_length=20,
        blank=True,
        validators=[validate_sor_code],
        help_text=_("The organisation's id in the Danish health organisation register (SOR)."),
    )
    parent = models.ForeignKey(
        "self",
        verbose_name=_("part of"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
    )
    phone = NumericTextField(_("phone"), max_length=30, blank=True, validators=[validate_phone])
    municipality_code = models.CharField(
        _("municipality"),
        max_length=3,
        choices=MUNICIPALITIES,
        blank=True,
        help_text=_(
            "For a municipal unit: its municipality. Follow-ups for a patient's home municipality go to "
            "the unit of that municipality."
        ),
    )
    municipal_service = models.CharField(
        _("municipal service"), max_length=16, choices=MunicipalService.choices, blank=True
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")
        ordering = ["name"]
        constraints = [
            choices_check("sector", Sector, "organisation_sector_valid"),
            models.CheckConstraint(
                condition=Q(municipal_service="") | Q(municipal_service__in=MunicipalService.values),
                name="organisation_municipal_service_valid",
            ),
            models.UniqueConstraint(
                fields=["sor_code"], condition=~Q(sor_code=""), name="organisation_sor_code_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    """A staff user. Django's is_staff means "may use the administration", nothing more."""

    public_id = models.UUIDField(default=uuid4, unique=True, editable=False)
    phone = NumericTextField(_("phone"), max_length=30, blank=True, validators=[validate_phone])
    title = models.CharField(_("job title"), max_length=100, blank=True)
    organisations: models.ManyToManyField[Organisation, Membership] = models.ManyToManyField(
        Organisation, through="Membership", through_fields=("user", "organisation"), related_name="+"
    )
    # Raised by "sign out everywhere": it is part of the session hash, so every existing session of the
    # user stops validating at its next request (no scan of the session table needed).
    session_generation = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    def notification_address(self, channel: str) -> str:
        """Where a message to this user goes on `channel` ("" when there is nowhere: not sent)."""
        addresses: dict[str, str] = {
            NotificationChannel.EMAIL: self.email,
            NotificationChannel.SMS: self.phone,
        }
        return addresses.get(channel, "")

    def _get_session_auth_hash(self, secret: str | None = None) -> str:
        # Django checks this hash (and its SECRET_KEY_FALLBACKS variants) on every request; the password
        # keeps its role (a changed password signs out), the generation adds "sign out everywhere".
        key_salt = "pathways.User.session_auth_hash"
        return salted_hmac(
            key_salt, f"{self.password}:{self.session_generation}", secret=secret, algorithm="sha256"
        ).hexdigest()


class MembershipQuerySet(models.QuerySet["Membership"]):
    def active(self) -> MembershipQuerySet:
        return self.filter(ended_at__isnull=True)


@audited()
class Membership(models.Model):
    user = models.ForeignKey(
        User, verbose_name=_("user"), on_delete=models.CASCADE, related_name="memberships"
    )
    organisation = models.ForeignKey(
        Organisation, verbose_name=_("organisation"), on_delete=models.PROTECT, related_name="memberships"
    )
    role = models.CharField(_("role"), max_length=32, choices=MembershipRole.choices)
    started_at = models.DateTimeField(_("started"), default=timezone.now)
    ended_at = models.DateTimeField(_("ended"), null=True, blank=True)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            choices_check("role", MembershipRole, "membership_role_valid"),
            models.UniqueConstraint(
                fields=["user", "organisation"],
                condition=Q(ended_at__isnull=True),
                name="membership_one_active_per_user_organisation",
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=F("started_at")),
                name="membership_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.organisation} ({self.get_role_display()})"


@audited()
class Patient(models.Model):
    """FHIR Patient. The CPR number is never shown in URLs, logs or error messages."""

    public_id = models.UUIDField(default=uuid4, unique=True, editable=False)
    cpr = NumericTextField(_("CPR number"), max_length=10, unique=True, validators=[validate_cpr])
    birth_date = models.DateField(_("date of birth"))
    given_name = models.CharField(_("given name(s)"), max_length=100)
    family_name = models.CharField(_("family name"), max_length=100)
    address = models.CharField(_("address"), max_length=200, blank=True)
    postal_code = NumericTextField(_("postcode"), max_length=4, blank=True, validators=[validate_postcode])
    city = models.CharField(_("town"), max_length=100, blank=True)
    phone = NumericTextField(_("phone"), max_length=30, blank=True, validators=[validate_phone])
    email = models.EmailField(_("e-mail"), blank=True)
    home_municipality = models.CharField(_("home municipality"), max_length=3, choices=MUNICIPALITIES)
    preferred_contact = models.CharField(
        _("preferred contact"),
        max_length=16,
        choices=ContactChannel.choices,
        default=ContactChannel.DIGITAL,
    )
    language = models.CharField(
        _("language"), max_length=8, default="da", help_text=_("ISO 639-1 code, e.g. da, en, ar, tr.")
    )
    interpreter_needed = models.BooleanField(_("needs an interpreter"), default=False)
    general_practice = models.ForeignKey(
        Organisation,
        verbose_name=_("GP"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="listed_patients",
        limit_choices_to={"sector": Sector.GENERAL_PRACTICE},
        help_text=_("The practice the patient is listed with (egen læge)."),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("patient")
        verbose_name_plural = _("patients")
        ordering = ["family_name", "given_name"]
        constraints = [
            choices_check("preferred_contact", ContactChannel, "patient_preferred_contact_valid"),
            models.CheckConstraint(condition=Q(cpr__regex=r"^[0-9]{10}$"), name="patient_cpr_ten_digits"),
        ]
        indexes = [models.Index(fields=["family_name", "given_name"], name="patient_name_idx")]

    def __str__(self) -> str:
        return self.full_name

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    def notification_address(self, channel: str) -> str:
        """Where a message to the patient goes on `channel` ("" when there is nowhere: not sent)."""
        if channel == NotificationChannel.LETTER:
            town = f"{self.postal_code} {self.city}".strip()
            return ", ".join(part for part in (self.address, town) if part)
        addresses: dict[str, str] = {
            NotificationChannel.EMAIL: self.email,
            NotificationChannel.SMS: self.phone,
        }
        return addresses.get(channel, "")

    @property
    def language_display(self) -> str:
        """The language's name in the current UI language; the code itself if Django does not know it."""
        try:
            return str(get_language_info(self.language)["name_translated"])
        except KeyError:
            return self.language

    @property
    def cpr_masked(self) -> str:
        return f"{self.cpr[:6]}-xxxx"

    @property
    def cpr_formatted(self) -> str:
        return f"{self.cpr[:6]}-{self.cpr[6:]}"

    def age(self, on: date | None = None) -> int:
        today = on or timezone.localdate()
        before_birthday = (today.month, today.day) < (self.birth_date.month, self.birth_date.day)
        return today.year - self.birth_date.year - int(before_birthday)

    def clean(self) -> None:
        if self.cpr:
            self.birth_date = cpr_parse(self.cpr).birth_date


class PathwayPlanQuerySet(models.QuerySet["PathwayPlan"]):
    def open(self) -> PathwayPlanQuerySet:
        return self.filter(status__in=PLAN_OPEN_STATUSES)


@audited()
class PathwayPlan(models.Model):
    """The individual cross-sector pathway plan (FHIR CarePlan, intent "plan")."""

    public_id = models.UUIDField(default=uuid4, unique=True, editable=False)
    patient = models.ForeignKey(
        Patient, verbose_name=_("patient"), on_delete=models.PROTECT, related_name="plans"
    )
    title = models.CharField(_("title"), max_length=200)
    what_matters = models.TextField(
        _("What matters to you?"),
        blank=True,
        max_length=4000,
        help_text=_("In the patient's own words."),
    )
    status = models.CharField(
        _("status"), max_length=16, choices=PlanStatus.choices, default=PlanStatus.DRAFT
    )
    review_date = models.DateField(_("next review"), null=True, blank=True)
    coordinator = models.ForeignKey(
        User,
        verbose_name=_("pathway coordinator"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="coordinated_plans",
    )
    coordinator_organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("coordinator's organisation"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    coordinator_phone = NumericTextField(
        _("coordinator's phone"), max_length=30, blank=True, validators=[validate_phone]
    )
    coordinator_substitute = models.ForeignKey(
        User,
        verbose_name=_("substitute coordinator"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="substitute_for_plans",
    )
    resume_services_on_leave = models.BooleanField(
        _("resume municipal services during leave"),
        default=False,
        help_text=_(
            "Leave from hospital does not restart the tasks put on hold at admission unless this is set."
        ),
    )
    version = models.PositiveIntegerField(_("version"), default=1)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+", null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("last changed"), auto_now=True)

    objects = PathwayPlanQuerySet.as_manager()

    class Meta:
        verbose_name = _("pathway plan")
        verbose_name_plural = _("pathway plans")
        ordering = ["-updated_at"]
        constraints = [
            choices_check("status", PlanStatus, "plan_status_valid"),
            models.UniqueConstraint(
                fields=["patient"],
                condition=Q(status__in=[s.value for s in PLAN_OPEN_STATUSES]),
                name="plan_one_open_per_patient",
                violation_error_message=_("The patient already has a current pathway plan."),
            ),
            models.CheckConstraint(
                condition=Q(coordinator__isnull=True) | Q(coordinator_organisation__isnull=False),
                name="plan_coordinator_has_organisation",
            ),
        ]

    def __str__(self) -> str:
        return self.title


@audited()
class PlanCondition(models.Model):
    """A condition the plan addresses (FHIR CarePlan.addresses → Condition)."""

    plan = models.ForeignKey(PathwayPlan, on_delete=models.CASCADE, related_name="conditions")
    display = models.CharField(_("condition"), max_length=200)
    icd10_code = models.CharField(_("ICD-10 code"), max_length=10, blank=True)

    class Meta:
        verbose_name = _("condition")
        verbose_name_plural = _("conditions")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "display"], name="plan_condition_unique"),
        ]

    def __str__(self) -> str:
        return self.display


@audited()
class PlanParticipant(models.Model):
    """An organisation taking part in a plan, and when it accepted its commitments (FHIR CareTeam)."""

    public_id = models.UUIDField(default=uuid4, unique=True, editable=False)
    plan = models.ForeignKey(PathwayPlan, on_delete=models.CASCADE, related_name="participants")
    organisation = models.ForeignKey(
        Organisation, verbose_name=_("organisation"), on_delete=models.PROTECT, related_name="participations"
    )
    commitment = models.TextField(_("commitment"), blank=True, max_length=2000)
    added_at = models.DateTimeField(_("added"), default=timezone.now)
    added_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    accepted_at = models.DateTimeField(_("accepted"), null=True, blank=True)
    accepted_by = models.ForeignKey(
        User, verbose_name=_("accepted by"), on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("participant")
        verbose_name_plural = _("participants")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "organisation"], name="participant_unique_per_plan"),
            models.CheckConstraint(
                condition=Q(accepted_at__isnull=True) | Q(accepted_by__isnull=False),
                name="participant_acceptance_has_author",
            ),
        ]
        indexes = [models.Index(fields=["organisation", "plan"], name="participant_org_plan_idx")]

    def __str__(self) -> str:
        return str(self.organisation)


@audited()
class Goal(models.Model):
    """An agreed goal (FHIR Goal)."""

    history_hidden_fields = ("template_key",)

    public_id = models.UUIDField(default=uuid4, unique=True, editable=False)
    plan = models.ForeignKey(PathwayPlan, on_delete=models.CASCADE, related_name="goals")
    description = models.TextField(_("goal"), max_length=1000)
    expected_result = models.TextField(_("expected result"), blank=True, max_length=1000)
    status = models.CharField(
        _("status"), max_length=16, choices=GoalStatus.choices, default=GoalStatus.ACTIVE
    )
    target_date = models.DateField(_("target date"), null=True, blank=True)
    sort_order = models.PositiveSmallIntegerField(_("order"), default=0)
    # The template goal it came from, so several templates' goals with the same key merge into one.
    template_key = models.SlugField(_("template item"), max_length=64, blank=True, editable=False)
    version = models.PositiveIntegerField(_("version"), default=1)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("goal")
        verbose_name_plural = _("goals")
        ordering = ["sort_order", "id"]
        constraints = [choices_check("status", GoalStatus, "goal_status_valid")]

    def __str__(self) -> str:
        return self.description[:80]


@audited()
class Task(models.Model):
    """A commitment in the plan with one responsible organisation (FHIR Task; CarePlan.activity)."""

    # Which template item made it is bookkeeping, not something a reader of the plan's history needs.
    history_hidden_fields = ("template_key",)

    public_id = models.UUIDField(default=uuid4, unique=True, editable=False)
    plan = models.ForeignKey(PathwayPlan, on_delete=models.CASCADE, related_name="tasks")
    goal = models.ForeignKey(
        Goal, verbose_name=_("goal"), on_delete=models.SET_NULL, null=True, blank=True, related_name="tasks"
    )
    title = models.CharField(_("task"), max_length=200)
    description = models.TextField(_("description"), blank=True, max_length=2000)
    kind = models.CharField(_("kind"), max_length=32, choices=TaskKind.choices, default=TaskKind.OTHER)
    responsible_organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("responsible organisation"),
        on_delete=models.PROTECT,
        related_name="tasks",
    )
    responsible_person = models.ForeignKey(
        User,
        verbose_name=_("responsible person"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="tasks",
    )
    window_start = models.DateField(_("from"), null=True, blank=True)
    due_date = models.DateField(_("due"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=TaskStatus.choices, default=TaskStatus.REQUESTED
    )
    visible_to_patient = models.BooleanField(_("visible to the patient"), default=True)
    depends_on = models.ForeignKey(
        "self",
        verbose_name=_("depends on"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="dependents",
    )
    hold_reason = models.CharField(
        _("why on hold"), max_length=200, blank=True, help_text=_("Set when the task is put on hold.")
    )
    # Where the task came from: the template item (kept so "update from template" and several templates'
    # merge recognise it) and, for a discharge follow-up, the discharge that made it.
    template_key = models.SlugField(_("template item"), max_length=64, blank=True, editable=False)
    created_by_transition = models.ForeignKey(
        "Transition",
        verbose_name=_("made by the hospital event"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="created_tasks",
    )
    version = models.PositiveIntegerField(_("version"), default=1)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(_("done at"), null=True, blank=True)

    class Meta:
        verbose_name = _("task")
        verbose_name_plural = _("tasks")
        ordering = ["due_date", "id"]
        constraints = [
            choices_check("status", TaskStatus, "task_status_valid"),
            choices_check("kind", TaskKind, "task_kind_valid"),
            models.CheckConstraint(
                condition=Q(window_start__isnull=True) | Q(due_date__isnull=False),
                name="task_window_has_end",
            ),
            models.CheckConstraint(
                condition=Q(window_start__isnull=True) | Q(window_start__lte=F("due_date")),
                name="task_window_in_order",
            ),
            models.CheckConstraint(
                condition=~Q(depends_on=F("id")),
                name="task_not_own_dependency",
            ),
        ]
        indexes = [
            models.Index(fields=["plan", "due_date"], name="task_plan_due_idx"),
            models.Index(
                fields=["responsible_organisation", "status", "due_date"], name="task_org_status_idx"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def clean(self) -> None:
        if self.depends_on is not None and self.depends_on.plan_id != self.plan_id:
            raise ValidationError({"depends_on": _("A task can only depend on a task in the same plan.")})
        if self.goal_id is not None and self.goal is not None and self.goal.plan_id != self.plan_id:
            raise ValidationError({"goal": _("The goal belongs to another plan.")})


class AccessLog(models.Model):
    """One row per read of a patient's data: who, through which organisation, what, when and why.

    Rows are only ever inserted, by audit.access_log_write (the one writer for pages, API and admin) and
    audit.portal_read_log_write (the portal). The table refuses UPDATE and DELETE; the coordinator's "who
    has opened the plan" page and the patient's own log in the portal read it.

    The reader is a staff user (`actor`) or, for a read in the portal, the patient or a relative
    (`reader`, through the content type, so the hub need not import the app a relative lives in).

    Partitioned by month on `at` and kept AUDIT_RETENTION_MONTHS (pathways.partitions), like the audit
    trail's event tables.
    """

    # Not unique by an index: the table is partitioned by month on `at` (pathways.partitions), and a unique
    # index there must contain `at`. A random UUID; nothing looks a row up by it.
    public_id = models.UUIDField(default=uuid4, editable=False)
    at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        User, verbose_name=_("who"), on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reader_type = models.ForeignKey(
        ContentType, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reader_id = models.PositiveBigIntegerField(null=True, blank=True)
    reader = GenericForeignKey("reader_type", "reader_id")
    organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("organisation"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    # No index of its own: accesslog_patient_at_idx starts with it.
    patient = models.ForeignKey(
        Patient,
        verbose_name=_("patient"),
        on_delete=models.PROTECT,
        related_name="access_log",
        db_index=False,
    )
    plan = models.ForeignKey(
        PathwayPlan, verbose_name=_("plan"), on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    action = models.CharField(_("what"), max_length=32, choices=AccessAction.choices)
    purpose = models.CharField(_("why"), max_length=32, choices=AccessPurpose.choices)
    reason = models.TextField(_("reason given"), blank=True, max_length=1000)

    class Meta:
        verbose_name = _("access log entry")
        verbose_name_plural = _("access log")
        ordering = ["-at"]
        constraints = [
            choices_check("action", AccessAction, "accesslog_action_valid"),
            choices_check("purpose", AccessPurpose, "accesslog_purpose_valid"),
            # Exactly one reader: a staff user, or a portal reader (patient or relative).
            models.CheckConstraint(
                condition=(Q(actor__isnull=False) & Q(reader_type__isnull=True) & Q(reader_id__isnull=True))
                | (Q(actor__isnull=True) & Q(reader_type__isnull=False) & Q(reader_id__isnull=False)),
                name="accesslog_one_reader",
            ),
        ]
        indexes = [models.Index(fields=["patient", "-at"], name="accesslog_patient_at_idx")]
        triggers = [pgtrigger.Protect(name="append_only", operation=pgtrigger.Update | pgtrigger.Delete)]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor or self.reader} {self.get_action_display()}"


class SecurityEvent(models.Model):
    """Sign-ins, failures, second-factor changes and refusals: what a security review asks for.

    Append-only like the access log. No patient data: a refused plan is named by its public id only.
    """

    at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)
    kind = models.CharField(_("event"), max_length=32, choices=SecurityEventKind.choices)
    user = models.ForeignKey(
        User, verbose_name=_("user"), on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    username = models.CharField(_("user name given"), max_length=150, blank=True)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("browser"), max_length=300, blank=True)
    path = models.CharField(_("address"), max_length=300, blank=True)
    detail = models.JSONField(_("details"), default=dict, blank=True)

    class Meta:
        verbose_name = _("security event")
        verbose_name_plural = _("security events")
        ordering = ["-at"]
        constraints = [choices_check("kind", SecurityEventKind, "securityevent_kind_valid")]
        indexes = [models.Index(fields=["user", "-at"], name="securityevent_user_at_idx")]
        triggers = [pgtrigger.Protect(name="append_only", operation=pgtrigger.Update | pgtrigger.Delete)]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.get_kind_display()} {self.username}"


class EmergencyAccessQuerySet(models.QuerySet["EmergencyAccess"]):
    def current(self) -> EmergencyAccessQuerySet:
        return self.filter(expires_at__gt=timezone.now())


class EmergencyAccess(models.Model):
    """Break the glass: a clinician outside a plan opens it for a while, giving a reason.

    Read only, time-limited, logged in the access log with the reason, and shown to the plan's
    coordinator until they have seen it.
    """

    public_id = models.UUIDField(default=uuid4, unique=True, editable=False)
    actor = models.ForeignKey(User, verbose_name=_("who"), on_delete=models.PROTECT, related_name="+")
    organisation = models.ForeignKey(
        Organisation, verbose_name=_("organisation"), on_delete=models.PROTECT, related_name="+"
    )
    patient = models.ForeignKey(
        Patient, verbose_name=_("patient"), on_delete=models.PROTECT, related_name="+"
    )
    plan = models.ForeignKey(
        PathwayPlan, verbose_name=_("plan"), on_delete=models.PROTECT, related_name="emergency_accesses"
    )
    reason = models.TextField(_("reason given"), max_length=1000)
    granted_at = models.DateTimeField(_("granted"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires"))
    acknowledged_at = models.DateTimeField(_("seen by the coordinator"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        User, verbose_name=_("seen by"), on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    objects = EmergencyAccessQuerySet.as_manager()

    class Meta:
        verbose_name = _("emergency access")
        verbose_name_plural = _("emergency accesses")
        ordering = ["-granted_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_at__gt=F("granted_at")), name="emergencyaccess_expires_after_granted"
            ),
            models.CheckConstraint(condition=~Q(reason=""), name="emergencyaccess_reason_required"),
            models.CheckConstraint(
                condition=Q(acknowledged_at__isnull=True, acknowledged_by__isnull=True)
                | Q(acknowledged_at__isnull=False, acknowledged_by__isnull=False),
                name="emergencyaccess_acknowledged_with_whom",
            ),
        ]
        # Marked seen by the coordinator (an update), never removed.
        triggers = [pgtrigger.Protect(name="keep_emergency_access", operation=pgtrigger.Delete)]
        indexes = [
            models.Index(fields=["actor", "plan", "expires_at"], name="emergencyaccess_actor_idx"),
            models.Index(
                fields=["plan"], condition=Q(acknowledged_at__isnull=True), name="emergencyaccess_unseen_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.granted_at:%Y-%m-%d %H:%M} {self.actor}"


class NotificationQuerySet(models.QuerySet["Notification"]):
    def addressed_to(self, recipient: models.Model) -> NotificationQuerySet:
        return self.filter(
            recipient_type=ContentType.objects.get_for_model(recipient), recipient_id=recipient.pk
        )

    def unread_in_app(self) -> NotificationQuerySet:
        return self.filter(
            channel=NotificationChannel.IN_APP, state=NotificationState.SENT, read_at__isnull=True
        )


class Notification(models.Model):
    """One message the product sends: the outbox row, written in the same transaction as the change that
    causes it and delivered by the worker (pathways.outbox). Never holds the message text: that is put
    together when it is sent, and what leaves the product carries no health data.

    The recipient is any model with `notification_address(channel)` — a staff user, a patient, and later a
    relative — through the content type, so the hub need not import the app a recipient lives in.
    `dedupe_key` (recipient, kind, channel, subject, due moment) makes the same reminder impossible to
    create twice.
    """

    public_id = models.UUIDField(default=uuid4, unique=True, editable=False)
    dedupe_key = models.CharField(max_length=255, unique=True, editable=False)
    kind = models.CharField(_("kind"), max_length=32, choices=NotificationKind.choices)
    channel = models.CharField(_("channel"), max_length=16, choices=NotificationChannel.choices)
    recipient_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    recipient_id = models.PositiveBigIntegerField()
    recipient = GenericForeignKey("recipient_type", "recipient_id")
    plan = models.ForeignKey(
        PathwayPlan, verbose_name=_("plan"), on_delete=models.CASCADE, related_name="notifications"
    )
    task = models.ForeignKey(
        Task,
        verbose_name=_("task"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="notifications",
    )
    due_at = models.DateTimeField(_("due"))
    state = models.CharField(
        _("state"), max_length=16, choices=NotificationState.choices, default=NotificationState.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    lease_until = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(
        _("last error"),
        max_length=200,
        blank=True,
        help_text=_("The kind of error only; never patient data."),
    )
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    read_at = models.DateTimeField(_("read"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("outbox")
        ordering = ["-due_at"]
        constraints = [
            choices_check("kind", NotificationKind, "notification_kind_valid"),
            choices_check("channel", NotificationChannel, "notification_channel_valid"),
            choices_check("state", NotificationState, "notification_state_valid"),
            models.CheckConstraint(
                condition=(Q(state=NotificationState.SENT) & Q(sent_at__isnull=False))
                | (~Q(state=NotificationState.SENT) & Q(sent_at__isnull=True)),
                name="notification_sent_at_iff_sent",
            ),
            models.CheckConstraint(
                condition=~Q(state=NotificationState.SENDING) | Q(lease_until__isnull=False),
                name="notification_sending_has_lease",
            ),
        ]
        indexes = [
            # The claim: due rows waiting, oldest first.
            models.Index(
                fields=["due_at"], name="notification_due_idx", condition=Q(state=NotificationState.PENDING)
            ),
            models.Index(
                fields=["lease_until"],
                name="notification_lease_idx",
                condition=Q(state=NotificationState.SENDING),
            ),
            # The bell: a user's unread in-app messages.
            models.Index(
                fields=["recipient_type", "recipient_id", "-due_at"],
                name="notification_inbox_idx",
                condition=Q(channel=NotificationChannel.IN_APP),
            ),
            models.Index(fields=["task", "state"], name="notification_task_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.get_channel_display()} · {self.due_at:%Y-%m-%d %H:%M}"


class PlanDocumentQuerySet(models.QuerySet["PlanDocument"]):
    def listed(self) -> PlanDocumentQuerySet:
        """Without the HTML and the PDF: what a list of documents and a progress poll need."""
        return self.defer("html", "attachment_html", "pdf")


class PlanDocument(models.Model):
    """A printable document made from a plan (issue 15): the render job and, once done, its PDF.

    Asking writes the row, holding the HTML snapshot of the plan as it was then, in the asker's
    transaction; a worker claims it with a conditional UPDATE, renders the PDF (WeasyPrint) and stores it
    here, so the PDF and "done" commit together (pathways.documents). The same content of the same kind is
    made once: asking again finds the row by its fingerprint (the HTML's SHA-256 without the printed date).
    Earlier versions stay, each with its number and date.

    Who asked: a staff user (`requested_by`), a portal reader (`requester`: the patient or a relative, by
    content type, so the hub need not import the app a relative lives in), or nobody (a letter, made when
    the outbox delivers it to the print queue; `notification`).
    """

    public_id = models.UUIDField(default=uuid4, unique=True, editable=False)
    plan = models.ForeignKey(
        PathwayPlan, verbose_name=_("plan"), on_delete=models.PROTECT, related_name="documents"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=DocumentKind.choices)
    content = models.CharField(
        _("content"), max_length=16, choices=DocumentContent.choices, default=DocumentContent.WHOLE_PLAN
    )
    number = models.PositiveIntegerField(_("version"))
    language = models.CharField(_("language"), max_length=8, default="da")
    fingerprint = models.CharField(max_length=64, editable=False)
    html = models.TextField(editable=False)
    # A letter to a patient who asked for paper carries the printable plan when it changed since the last one.
    attachment_html = models.TextField(blank=True, editable=False)
    attachment_fingerprint = models.CharField(max_length=64, blank=True, editable=False)
    state = models.CharField(
        _("state"), max_length=16, choices=DocumentState.choices, default=DocumentState.QUEUED
    )
    progress = models.PositiveSmallIntegerField(_("progress (%)"), default=0)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    lease_until = models.DateTimeField(null=True, blank=True)
    # When a worker was last asked to render it: the sweeper asks again for a row left waiting.
    enqueued_at = models.DateTimeField(default=timezone.now)
    error = models.CharField(
        _("error"), max_length=200, blank=True, help_text=_("The kind of error only; never patient data.")
    )
    requested_by = models.ForeignKey(
        User,
        verbose_name=_("asked for by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    requester_type = models.ForeignKey(
        ContentType, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    requester_id = models.PositiveBigIntegerField(null=True, blank=True)
    requester = GenericForeignKey("requester_type", "requester_id")
    notification = models.OneToOneField(
        "Notification",
        verbose_name=_("letter"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="document",
    )
    pdf = models.BinaryField(null=True, blank=True, editable=False)
    pages = models.PositiveSmallIntegerField(_("pages"), null=True, blank=True)
    size = models.PositiveIntegerField(_("size (bytes)"), null=True, blank=True)
    created_at = models.DateTimeField(_("asked for"), default=timezone.now)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    objects = PlanDocumentQuerySet.as_manager()

    class Meta:
        verbose_name = _("printable document")
        verbose_name_plural = _("printable documents")
        ordering = ["-created_at"]
        constraints = [
            choices_check("kind", DocumentKind, "document_kind_valid"),
            choices_check("content", DocumentContent, "document_content_valid"),
            choices_check("state", DocumentState, "document_state_valid"),
            models.CheckConstraint(condition=Q(progress__lte=100), name="document_progress_percent"),
            # The PDF is there exactly when the document is done.
            models.CheckConstraint(
                condition=(Q(state=DocumentState.DONE) & Q(pdf__isnull=False) & Q(finished_at__isnull=False))
                | (~Q(state=DocumentState.DONE) & Q(pdf__isnull=True)),
                name="document_pdf_iff_done",
            ),
            models.CheckConstraint(
                condition=~Q(state=DocumentState.RENDERING) | Q(lease_until__isnull=False),
                name="document_rendering_has_lease",
            ),
            # A letter is made for one outbox row; the other kinds for the plan.
            models.CheckConstraint(
                condition=(Q(kind=DocumentKind.LETTER) & Q(notification__isnull=False))
                | (~Q(kind=DocumentKind.LETTER) & Q(notification__isnull=True)),
                name="document_letter_iff_notification",
            ),
            models.CheckConstraint(
                condition=Q(requested_by__isnull=True) | Q(requester_type__isnull=True),
                name="document_one_requester",
            ),
            models.CheckConstraint(
                condition=Q(requester_type__isnull=True, requester_id__isnull=True)
                | Q(requester_type__isnull=False, requester_id__isnull=False),
                name="document_requester_whole",
            ),
            # The same content of the same kind is rendered once (asking again reuses it).
            models.UniqueConstraint(
                fields=["plan", "kind", "content", "fingerprint"],
                condition=Q(notification__isnull=True),
                name="document_rendered_once",
            ),
            models.UniqueConstraint(
                fields=["plan", "kind", "content", "number"], name="document_number_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["plan", "kind", "-number"], name="document_plan_kind_idx"),
            # The sweeper: rows waiting or being made.
            models.Index(
                fields=["enqueued_at"],
                name="document_waiting_idx",
                condition=Q(state__in=DOCUMENT_WAITING_STATES),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} v{self.number} · {self.get_state_display()}"


class AuditContext(Context):
    """pghistory's context table (who and which URL, per request) under a trigger that refuses deletes.

    Updates stay allowed: pghistory completes a context's metadata during the request (e.g. when the
    API authenticates the user after the middleware has run).
    """

    class Meta:
        proxy = True
        triggers = [pgtrigger.Protect(name="keep_context", operation=pgtrigger.Delete)]


class AuditEvent(Events):
    """All audit-trail events of the hub in one read-only list (a query across the event tables), with
    the user and URL that HistoryMiddleware put in the context. Read by the admin and by
    pathways.selectors.plan_history (through pathways.history); it has no table of its own.

    A proxy of pghistory's Events that declares the context fields itself (as pghistory's
    MiddlewareEvents does): a proxy of MiddlewareEvents would not inherit them.
    """

    user = pghistory.ProxyField(
        "pgh_context__user",
        models.ForeignKey(
            User, verbose_name=_("who"), on_delete=models.DO_NOTHING, null=True, related_name="+"
        ),
    )
    url = pghistory.ProxyField("pgh_context__url", models.TextField(_("web address"), null=True))

    class Meta:
        proxy = True
        verbose_name = _("audit trail entry")
        verbose_name_plural = _("audit trail")


# --- Pathway templates ------------------------------------------------------------------------------------
# Administrators edit a template (its goals, tasks and discharge rules) in the admin; every save that
# changes it publishes a new, frozen PathwayTemplateVersion (a snapshot). A plan records the version it was
# made from (PlanTemplate), so a later change never alters existing plans: they are offered the update.


class PathwayTemplate(models.Model):
    """A pathway template ("forløbsskabelon"): the working copy administrators edit."""

    public_id = models.UUIDField(default=uuid4, unique=True, editable=False)
    code = models.SlugField(_("code"), max_length=40, unique=True, help_text=_("e.g. kol, diabetes-2"))
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True, max_length=2000)
    condition = models.CharField(
        _("condition"), max_length=200, blank=True, help_text=_("Put on the plan as its condition.")
    )
    icd10_code = models.CharField(_("ICD-10 code"), max_length=10, blank=True)
    is_active = models.BooleanField(_("offered for new plans"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("pathway template")
        verbose_name_plural = _("pathway templates")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TemplateGoal(models.Model):
    template = models.ForeignKey(PathwayTemplate, on_delete=models.CASCADE, related_name="goals")
    key = models.SlugField(
        _("key"),
        max_length=64,
        help_text=_("Stable name; goals with the same key in several templates merge."),
    )
    description = models.TextField(_("goal"), max_length=1000)
    expected_result = models.TextField(_("expected result"), blank=True, max_length=1000)
    sort_order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        verbose_name = _("template goal")
        verbose_name_plural = _("template goals")
        ordering = ["sort_order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["template", "key"], name="templategoal_key_unique"),
        ]

    def __str__(self) -> str:
        return self.description


class TemplateTask(models.Model):
    """A task a template puts on the plan when the plan is made, or a discharge rule (trigger
    "discharge"): a follow-up every discharge creates, due `offset_days` after the discharge day."""

    template = models.ForeignKey(PathwayTemplate, on_delete=models.CASCADE, related_name="tasks")
    key = models.SlugField(
        _("key"),
        max_length=64,
        help_text=_("Stable name; tasks with the same key in several templates become one task."),
    )
    title = models.CharField(_("task"), max_length=200)
    description = models.TextField(_("description"), blank=True, max_length=2000)
    kind = models.CharField(_("kind"), max_length=32, choices=TaskKind.choices, default=TaskKind.OTHER)
    trigger = models.CharField(
        _("when"), max_length=16, choices=TemplateTrigger.choices, default=TemplateTrigger.PLAN_START
    )
    responsible = models.CharField(_("responsible"), max_length=32, choices=ResponsibleParty.choices)
    offset_days = models.PositiveSmallIntegerField(
        _("due after (days)"),
        default=0,
        validators=[MaxValueValidator(730)],
        help_text=_("Days from the plan's start, or from the discharge day for a discharge rule."),
    )
    window_days = models.PositiveSmallIntegerField(
        _("window (days)"),
        null=True,
        blank=True,
        validators=[MaxValueValidator(365)],
        help_text=_("If set, the task may be done from this many days before it is due."),
    )
    goal_key = models.SlugField(_("goal (key)"), max_length=64, blank=True)
    depends_on_key = models.SlugField(_("depends on (key)"), max_length=64, blank=True)
    visible_to_patient = models.BooleanField(_("visible to the patient"), default=True)
    after_acute_ambulant = models.BooleanField(
        _("also after an acute ambulant stay"),
        default=False,
        help_text=_("Discharge rules: by default only a discharge from an admission creates the task."),
    )
    sort_order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        verbose_name = _("template task")
        verbose_name_plural = _("template tasks")
        ordering = ["trigger", "sort_order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["template", "key"], name="templatetask_key_unique"),
            choices_check("kind", TaskKind, "templatetask_kind_valid"),
            choices_check("trigger", TemplateTrigger, "templatetask_trigger_valid"),
            choices_check("responsible", ResponsibleParty, "templatetask_responsible_valid"),
            models.CheckConstraint(
                condition=Q(offset_days__lte=730), name="templatetask_offset_at_most_two_years"
            ),
            models.CheckConstraint(
                condition=~Q(depends_on_key=F("key")),
                name="templatetask_not_own_dependency",
                violation_error_message=_("A task cannot depend on itself."),
            ),
        ]

    def __str__(self) -> str:
        return self.title


class PathwayTemplateVersion(models.Model):
    """A published, frozen snapshot of a template. `content` holds the goals and tasks as they were:

    {"name", "condition", "icd10_code", "goals": [{"key", "description", "expected_result"}],
     "tasks": [{"key", "title", "description", "kind", "trigger", "responsible", "offset_days",
                "window_days", "goal_key", "depends_on_key", "visible_to_patient",
                "after_acute_ambulant"}]}
    Never updated (a trigger refuses it)."""

    public_id = models.UUIDField(default=uuid4, unique=True, editable=False)
    template = models.ForeignKey(
        PathwayTemplate, verbose_name=_("template"), on_delete=models.PROTECT, related_name="versions"
    )
    number = models.PositiveIntegerField(_("version"))
    content = models.JSONField(_("content"))
    published_at = models.DateTimeField(_("published"), default=timezone.now)
    published_by = models.ForeignKey(
        User,
        verbose_name=_("published by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("template version")
        verbose_name_plural = _("template versions")
        ordering = ["template", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["template", "number"], name="templateversion_number_unique"),
        ]
        triggers = [pgtrigger.Protect(name="template_version_frozen", operation=pgtrigger.Update)]

    def __str__(self) -> str:
        return f"{self.template} v{self.number}"


@audited()
class PlanTemplate(models.Model):
    """Which template version a plan was made from (or last updated to), one row per template."""

    plan = models.ForeignKey(PathwayPlan, on_delete=models.CASCADE, related_name="templates")
    template = models.ForeignKey(
        PathwayTemplate, verbose_name=_("template"), on_delete=models.PROTECT, related_name="+"
    )
    version = models.ForeignKey(
        PathwayTemplateVersion, verbose_name=_("version"), on_delete=models.PROTECT, related_name="+"
    )
    # The day the template's "days from the plan's start" count from.
    start_date = models.DateField(_("counted from"), default=timezone.localdate)
    applied_at = models.DateTimeField(_("applied"), default=timezone.now)
    applied_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    class Meta:
        verbose_name = _("plan's template")
        verbose_name_plural = _("plan's templates")
        constraints = [
            models.UniqueConstraint(fields=["plan", "template"], name="plantemplate_one_per_template"),
        ]

    def __str__(self) -> str:
        # The audit trail renders rows whose version is gone from its snapshot: say which it was.
        try:
            return str(self.version)
        except ObjectDoesNotExist:
            return f"{self.template_id} v{self.version_id}"


# --- Hospital stays and transitions -----------------------------------------------------------------------
# A stay (FHIR Encounter) starts with an admission and ends with a discharge, a death, or a new stay that
# takes over (transfer, STAA → STIN). Each event on it is a Transition, entered on the plan page or received
# as a MedCom HospitalNotification; what a transition did to the plan is one TransitionEffect row each, so a
# correction (RE_) or cancellation (AN_) undoes exactly that.


class HospitalStay(models.Model):
    public_id = models.UUIDField(default=uuid4, unique=True, editable=False)
    patient = models.ForeignKey(
        Patient, verbose_name=_("patient"), on_delete=models.PROTECT, related_name="hospital_stays"
    )
    plan = models.ForeignKey(
        PathwayPlan,
        verbose_name=_("plan"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="hospital_stays",
    )
    hospital = models.ForeignKey(
        Organisation, verbose_name=_("hospital"), on_delete=models.PROTECT, related_name="hospital_stays"
    )
    stay_class = models.CharField(_("kind of stay"), max_length=16, choices=StayClass.choices)
    episode_id = models.CharField(
        _("episode id"), max_length=100, blank=True, help_text=_("The hospital's forløbsid (MedCom).")
    )
    status = models.CharField(
        _("status"), max_length=16, choices=StayStatus.choices, default=StayStatus.IN_PROGRESS
    )
    started_at = models.DateTimeField(_("started"))
    ended_at = models.DateTimeField(_("ended"), null=True, blank=True)
    end_reason = models.CharField(_("how it ended"), max_length=16, choices=StayEnd.choices, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("hospital stay")
        verbose_name_plural = _("hospital stays")
        ordering = ["-started_at"]
        constraints = [
            choices_check("stay_class", StayClass, "hospitalstay_class_valid"),
            choices_check("status", StayStatus, "hospitalstay_status_valid"),
            models.CheckConstraint(
                condition=Q(end_reason="") | Q(end_reason__in=StayEnd.values), name="hospitalstay_end_valid"
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=F("started_at")),
                name="hospitalstay_ends_after_start",
            ),
        ]
        indexes = [
            models.Index(fields=["plan", "-started_at"], name="hospitalstay_plan_idx"),
            models.Index(fields=["patient", "-started_at"], name="hospitalstay_patient_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.hospital} {date_format(timezone.localtime(self.started_at), 'DATE_FORMAT')}"


@audited()
class Transition(models.Model):
    """An event of a hospital stay that acts on the plan: admission, leave start/end, discharge, death."""

    public_id = models.UUIDField(default=uuid4, unique=True, editable=False)
    stay = models.ForeignKey(
        HospitalStay, verbose_name=_("stay"), on_delete=models.PROTECT, related_name="transitions"
    )
    plan = models.ForeignKey(
        PathwayPlan,
        verbose_name=_("plan"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="transitions",
    )
    kind = models.CharField(_("event"), max_length=20, choices=TransitionKind.choices)
    occurred_at = models.DateTimeField(_("when"))
    source = models.CharField(_("source"), max_length=16, choices=TransitionSource.choices)
    state = models.CharField(
        _("state"), max_length=16, choices=TransitionState.choices, default=TransitionState.APPLIED
    )
    corrects = models.ForeignKey(
        "self",
        verbose_name=_("corrects"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="corrections",
    )
    message = models.ForeignKey(
        "ReceivedMessage",
        verbose_name=_("received message"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="transitions",
    )
    recorded_by = models.ForeignKey(
        User, verbose_name=_("entered by"), on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    note = models.CharField(_("note"), max_length=500, blank=True)
    reversed_at = models.DateTimeField(_("undone"), null=True, blank=True)
    created_at = models.DateTimeField(_("recorded"), auto_now_add=True)

    class Meta:
        verbose_name = _("hospital event")
        verbose_name_plural = _("hospital events")
        ordering = ["occurred_at", "id"]
        constraints = [
            choices_check("kind", TransitionKind, "transition_kind_valid"),
            choices_check("source", TransitionSource, "transition_source_valid"),
            choices_check("state", TransitionState, "transition_state_valid"),
            models.CheckConstraint(
                condition=Q(state=TransitionState.APPLIED) | Q(reversed_at__isnull=False),
                name="transition_undone_has_moment",
            ),
        ]
        indexes = [
            models.Index(fields=["plan", "-occurred_at"], name="transition_plan_idx"),
            # The worklist's "recent admissions and discharges".
            models.Index(
                fields=["-occurred_at"],
                name="transition_recent_idx",
                condition=Q(state=TransitionState.APPLIED),
            ),
        ]

    def __str__(self) -> str:
        # Read in the plan's history: Danish time, written the Danish way.
        when = date_format(timezone.localtime(self.occurred_at), "DATETIME_FORMAT")
        return f"{self.get_kind_display()} {when}"


class TransitionEffect(models.Model):
    """One thing a transition did; `reversed_at` once a correction or cancellation undid it."""

    transition = models.ForeignKey(Transition, on_delete=models.CASCADE, related_name="effects")
    kind = models.CharField(_("what"), max_length=32, choices=TransitionEffectKind.choices)
    task = models.ForeignKey(
        Task, verbose_name=_("task"), on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    status_before = models.CharField(_("status before"), max_length=16, blank=True)
    hold_reason_before = models.CharField(max_length=200, blank=True)
    window_start_before = models.DateField(null=True, blank=True)
    due_date_before = models.DateField(null=True, blank=True)
    count = models.PositiveIntegerField(_("how many"), default=0)
    reversed_at = models.DateTimeField(_("undone"), null=True, blank=True)

    class Meta:
        verbose_name = _("effect of a hospital event")
        verbose_name_plural = _("effects of hospital events")
        ordering = ["id"]
        constraints = [choices_check("kind", TransitionEffectKind, "transitioneffect_kind_valid")]
        indexes = [models.Index(fields=["task"], name="transitioneffect_task_idx")]

    def __str__(self) -> str:
        return self.get_kind_display()


# --- MedCom HospitalNotification ingest -------------------------------------------------------------------


class IntegrationCredential(models.Model):
    """A sending system's key, tied to its organisation (SOR). Only a hash is stored; the key is shown
    once when issued."""

    public_id = models.UUIDField(default=uuid4, unique=True, editable=False)
    organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("organisation"),
        on_delete=models.PROTECT,
        related_name="integration_credentials",
    )
    name = models.CharField(_("name"), max_length=200, help_text=_("Which system uses it."))
    key_prefix = models.CharField(_("key starts with"), max_length=16, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("issued"), auto_now_add=True)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        verbose_name = _("integration credential")
        verbose_name_plural = _("integration credentials")
        ordering = ["organisation", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.key_prefix}…)"


class ReceivedMessage(models.Model):
    """A HospitalNotification as received (the body kept verbatim for audit) and what became of it.
    (sender, message_id) is unique: a repeat gets the stored acknowledgement and changes nothing.

    Hospitals notify for every citizen, so most rows have no patient: `citizen_key` (a keyed hash of the
    CPR number) counts a citizen's admissions without keeping the number outside `body`; such rows are
    pruned after MEDCOM_NO_PLAN_KEEP_DAYS."""

    public_id = models.UUIDField(default=uuid4, unique=True, editable=False)
    message_id = models.CharField(_("message id"), max_length=100)
    sender = models.ForeignKey(
        Organisation, verbose_name=_("sender"), on_delete=models.PROTECT, related_name="+"
    )
    receiver = models.ForeignKey(
        Organisation,
        verbose_name=_("receiver"),
        on_delete=models.PROTECT,
        related_name="received_messages",
    )
    credential = models.ForeignKey(
        IntegrationCredential, verbose_name=_("credential"), on_delete=models.PROTECT, related_name="+"
    )
    code = models.CharField(_("message type"), max_length=8, choices=MedcomCode.choices)
    event_at = models.DateTimeField(_("event time"))
    received_at = models.DateTimeField(_("received"), default=timezone.now)
    body = models.TextField(_("as received"))
    episode_id = models.CharField(_("episode id"), max_length=100, blank=True)
    encounter_id = models.CharField(_("encounter id"), max_length=100, blank=True)
    stay_class = models.CharField(_("kind of stay"), max_length=16, choices=StayClass.choices)
    refers_to = models.CharField(
        _("refers to message"),
        max_length=100,
        blank=True,
        help_text=_("For a correction or cancellation: the message id it corrects."),
    )
    citizen_key = models.CharField(max_length=64, db_index=True, editable=False)
    citizen_name = models.CharField(_("citizen"), max_length=200, blank=True)
    citizen_birth_date = models.DateField(_("date of birth"), null=True, blank=True)
    patient = models.ForeignKey(
        Patient, verbose_name=_("patient"), on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    plan = models.ForeignKey(
        PathwayPlan, verbose_name=_("plan"), on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    state = models.CharField(_("state"), max_length=16, choices=ReceivedState.choices)
    hold_until = models.DateTimeField(_("held until"), null=True, blank=True)
    applied_at = models.DateTimeField(_("applied"), null=True, blank=True)
    acknowledgement = models.JSONField(_("acknowledgement sent"), default=dict, editable=False)

    class Meta:
        verbose_name = _("received hospital notice")
        verbose_name_plural = _("received hospital notices")
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(fields=["sender", "message_id"], name="receivedmessage_once_per_sender"),
            choices_check("code", MedcomCode, "receivedmessage_code_valid"),
            choices_check("state", ReceivedState, "receivedmessage_state_valid"),
            choices_check("stay_class", StayClass, "receivedmessage_class_valid"),
        ]
        indexes = [
            # "Admissions without a plan" for the receiving organisation, newest first.
            models.Index(
                fields=["receiver", "-event_at"],
                name="receivedmessage_noplan_idx",
                condition=Q(state=ReceivedState.NO_PLAN),
            ),
            models.Index(fields=["citizen_key", "event_at"], name="receivedmessage_citizen_idx"),
            models.Index(
                fields=["hold_until"], name="receivedmessage_held_idx", condition=Q(state=ReceivedState.HELD)
            ),
            models.Index(fields=["received_at"], name="receivedmessage_received_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.message_id}"


class ApiIdempotencyKey(models.Model):
    """A write to the API sent with an `Idempotency-Key` header (pathways.idempotency): the answer it got,
    given again when the same user sends the same key, so a client retrying after a lost answer changes
    nothing twice. Written in the transaction of the change it answers; kept API_IDEMPOTENCY_HOURS, then
    deleted by the hourly job (the answer may name a task: it is not kept longer than a retry needs)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    # SHA-256 of the method, the path and the body: the same key with another request is refused.
    fingerprint = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField(null=True)
    body = models.JSONField(default=dict)
    location = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("API idempotency key")
        verbose_name_plural = _("API idempotency keys")
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="apiidempotencykey_once_per_user"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.key}"
