"""Django admin for administrators (is_staff). Reads of patient data here are logged like any other;
the CPR number is not searchable here because admin searches travel in the URL. The access log and the
audit trail are read-only here, for superusers too, and append-only in the database."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import BaseModelAdmin
from django.contrib.admin.views.main import ChangeList
from django.contrib.admin.widgets import AutocompleteSelect
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe
from django.utils.text import capfirst
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from typing_extensions import override

from pathways import services
from pathways.audit import PatientRead, RequestOrigin, access_log_write
from pathways.choices import AccessAction, AccessPurpose
from pathways.history import HISTORY_KIND_LABELS, HistoryEntry, history_entries
from pathways.models import (
    AUDITED_MODELS,
    AccessLog,
    AuditEvent,
    EmergencyAccess,
    Goal,
    Membership,
    Notification,
    Organisation,
    PathwayPlan,
    Patient,
    PlanCondition,
    PlanParticipant,
    SecurityEvent,
    Task,
    User,
    event_model_label,
)
from pathways.services import VersionConflict
from pathways.signin import services as signin_services

admin.site.site_header = _("Fælles forløb administration")
admin.site.site_title = _("Fælles forløb administration")
admin.site.index_title = _("Administration")


def _patient_and_plan(obj: Any) -> tuple[Patient, PathwayPlan | None]:
    if isinstance(obj, Patient):
        return obj, None
    if isinstance(obj, PathwayPlan):
        return obj.patient, obj
    return obj.plan.patient, obj.plan


def _log(request: HttpRequest, objects: list[Any], action: AccessAction) -> None:
    reads = []
    for obj in objects:
        patient, plan = _patient_and_plan(obj)
        reads.append(PatientRead(patient_id=patient.pk, plan_id=plan.pk if plan else None))
    access_log_write(
        actor=cast(User, request.user), reads=reads, action=action, purpose=AccessPurpose.ADMINISTRATION
    )


class SafeAutocompleteSelect(AutocompleteSelect):
    """Django's autocomplete widget looks up the posted ids as they are when it shows an invalid form
    again: a posted id that is no number raised ValueError there, an HTTP 500. Ids the related key
    cannot hold are left out of that lookup; the form still says the choice is not valid."""

    def optgroups(self, name: str, value: Sequence[str], attr: dict[str, Any] | None = None) -> Any:
        target = self.field.remote_field.model._meta.get_field(self.field.remote_field.field_name)
        valid = []
        for item in value:
            try:
                target.to_python(item)
            except ValidationError:
                continue
            valid.append(item)
        return super().optgroups(name, valid, attr)


class SafeAutocompleteMixin(BaseModelAdmin):  # type: ignore[type-arg]
    """Every admin (and inline) with autocomplete fields uses the widget above."""

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = SafeAutocompleteSelect(db_field, self.admin_site, using=kwargs.get("using"))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class PatientDataAdmin(SafeAutocompleteMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    """Logs every list and every opened object as an administrative read of patient data."""

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        response = super().changelist_view(request, extra_context)
        if isinstance(response, TemplateResponse) and response.context_data and "cl" in response.context_data:
            _log(request, list(response.context_data["cl"].result_list), AccessAction.ADMIN_LIST)
        return response

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        response = super().change_view(request, object_id, form_url, extra_context)
        if request.method == "GET" and isinstance(response, TemplateResponse) and response.context_data:
            original = response.context_data.get("original")
            if original is not None:
                _log(request, [original], AccessAction.ADMIN_VIEW)
        return response


class VersionedAdminForm(forms.ModelForm):  # type: ignore[type-arg]
    """Carries the version the administrator opened, so a coordinator's change made in the meantime is
    not overwritten: the service refuses the save (optimistic locking, as on the plan page)."""

    expected_version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.fields["expected_version"].initial = self.instance.version


class _ServiceRefused(Exception):
    """A service refused an admin save; raised out of the admin's transaction so nothing is kept."""


class ServiceAdmin(PatientDataAdmin):
    """Admin saves go through the app's services, so a change made here meets the same checks as one
    made on the page (rights, transitions, versions, the person belonging to the organisation).

    Subclasses implement `service_save`. A refusal rolls back the whole save, inlines included, and
    shows the reason above the form again.
    """

    form = VersionedAdminForm

    def service_save(self, *, actor: User, obj: Any, data: dict[str, Any], change: bool) -> Any:
        raise NotImplementedError

    @override
    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        data = dict(form.cleaned_data)
        if change and data.get("expected_version") is None:
            data["expected_version"] = obj.version
        try:
            saved = self.service_save(actor=cast(User, request.user), obj=obj, data=data, change=change)
        except VersionConflict:
            raise _ServiceRefused(
                gettext("Someone else has changed this in the meantime. Here is what is saved now.")
            ) from None
        except PermissionDenied:
            raise _ServiceRefused(gettext("You may not make this change.")) from None
        except ValidationError as error:
            raise _ServiceRefused(" ".join(error.messages)) from None
        obj.__dict__.update(saved.__dict__)

    @override
    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except _ServiceRefused as refused:
            self.message_user(request, str(refused), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


class ChildOrganisationInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Organisation
    fk_name = "parent"
    fields = ["name", "sector", "sor_code", "is_active"]
    extra = 0
    verbose_name = _("department or unit")
    verbose_name_plural = _("departments and units")


@admin.register(Organisation)
class OrganisationAdmin(SafeAutocompleteMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["name", "sector", "sor_code", "parent", "is_active"]
    list_filter = ["sector", "is_active"]
    search_fields = ["name", "sor_code"]
    autocomplete_fields = ["parent"]
    inlines = [ChildOrganisationInline]


class MembershipInline(SafeAutocompleteMixin, admin.TabularInline):  # type: ignore[type-arg]
    model = Membership
    fk_name = "user"
    fields = ["organisation", "role", "started_at", "ended_at"]
    autocomplete_fields = ["organisation"]
    extra = 0


@admin.register(User)
class UserAdmin(DjangoUserAdmin):  # type: ignore[type-arg]
    list_display = ["username", "first_name", "last_name", "title", "is_staff", "is_active", "two_step"]
    inlines = [MembershipInline]
    fieldsets = (
        *(DjangoUserAdmin.fieldsets or ()),
        (_("Contact"), {"fields": ("title", "phone")}),
    )
    actions = ["reset_two_step", "sign_out_everywhere"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        devices = TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)
        users: QuerySet[User] = super().get_queryset(request)
        return users.annotate(has_two_step=Exists(devices))

    @admin.display(boolean=True, description=_("two-step sign-in"), ordering="has_two_step")
    def two_step(self, obj: Any) -> bool:
        return bool(getattr(obj, "has_two_step", False))

    @admin.action(description=_("Reset two-step sign-in (lost phone): the user sets it up again"))
    def reset_two_step(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset:
            signin_services.mfa_remove(
                user=user, actor=cast(User, request.user), origin=RequestOrigin.of(request)
            )
            signin_services.sessions_revoke_all(user=user, origin=RequestOrigin.of(request))
        self.message_user(request, _("Two-step sign-in reset; the users are signed out."), messages.SUCCESS)

    @admin.action(description=_("Sign out everywhere"))
    def sign_out_everywhere(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset:
            signin_services.sessions_revoke_all(user=user, origin=RequestOrigin.of(request))
        self.message_user(request, _("The users are signed out on every device."), messages.SUCCESS)


@admin.register(Membership)
class MembershipAdmin(SafeAutocompleteMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["user", "organisation", "role", "started_at", "ended_at"]
    list_filter = ["role", "organisation__sector"]
    search_fields = ["user__username", "user__first_name", "user__last_name", "organisation__name"]
    autocomplete_fields = ["user", "organisation"]


class KeepHistoryAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Patients and plans are never deleted here: their history and access log must stay whole (the
    access log's rows protect them in the database anyway; a plan ends by being completed or revoked)."""

    @override
    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Patient)
class PatientAdmin(PatientDataAdmin, KeepHistoryAdmin):
    list_display = ["family_name", "given_name", "masked_cpr", "home_municipality", "preferred_contact"]
    list_filter = ["home_municipality", "preferred_contact", "interpreter_needed"]
    search_fields = ["family_name", "given_name"]
    readonly_fields = ["birth_date", "public_id"]

    @admin.display(description=_("CPR number"))
    def masked_cpr(self, obj: Patient) -> str:
        return obj.cpr_masked


class ConditionInline(admin.TabularInline):  # type: ignore[type-arg]
    model = PlanCondition
    extra = 0


class ParticipantInline(SafeAutocompleteMixin, admin.TabularInline):  # type: ignore[type-arg]
    model = PlanParticipant
    fields = ["organisation", "commitment", "accepted_at", "accepted_by"]
    readonly_fields = ["accepted_at", "accepted_by"]
    autocomplete_fields = ["organisation"]
    extra = 0


class GoalInline(admin.TabularInline):  # type: ignore[type-arg]
    """The plan's goals for reading; a goal is added or changed on its own page, through the services."""

    model = Goal
    fields = ["description", "expected_result", "status", "target_date"]
    readonly_fields = ["description", "expected_result", "status", "target_date"]
    show_change_link = True
    extra = 0

    @override
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @override
    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(PathwayPlan)
class PathwayPlanAdmin(ServiceAdmin, KeepHistoryAdmin):
    list_display = ["title", "patient", "status", "coordinator", "review_date", "updated_at"]
    list_filter = ["status", "participants__organisation__sector"]
    search_fields = ["title", "patient__family_name", "patient__given_name"]
    list_select_related = ["patient", "coordinator"]
    autocomplete_fields = ["patient", "coordinator", "coordinator_substitute", "coordinator_organisation"]
    readonly_fields = ["status", "version", "public_id", "created_by", "created_at", "updated_at"]
    inlines = [ConditionInline, ParticipantInline, GoalInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[PathwayPlan]:
        return super().get_queryset(request).distinct()

    @override
    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "patient"] if obj is not None else fields

    @override
    def service_save(self, *, actor: User, obj: Any, data: dict[str, Any], change: bool) -> PathwayPlan:
        if change:
            plan = services.plan_update(
                actor=actor,
                plan=obj,
                expected_version=data["expected_version"],
                title=data["title"],
                what_matters=data["what_matters"],
                review_date=data["review_date"],
            )
        else:
            plan = services.plan_create(
                actor=actor,
                patient=data["patient"],
                title=data["title"],
                what_matters=data["what_matters"],
                review_date=data["review_date"],
            )
        coordinator = data["coordinator"]
        if coordinator is None:
            if plan.coordinator_id is not None:
                raise ValidationError(gettext("A plan's coordinator can be replaced here, not removed."))
            return plan
        return services.coordinator_assign(
            actor=actor,
            plan=plan,
            coordinator=coordinator,
            organisation=data["coordinator_organisation"],
            phone=data["coordinator_phone"],
            substitute=data["coordinator_substitute"],
        )


@admin.register(Goal)
class GoalAdmin(ServiceAdmin):
    list_display = ["description", "plan", "status", "target_date"]
    list_filter = ["status"]
    search_fields = ["description", "plan__patient__family_name"]
    list_select_related = ["plan__patient"]
    autocomplete_fields = ["plan"]
    readonly_fields = ["version", "public_id"]

    @override
    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # A new goal starts as proposed and moves on from there, like one added on the plan page.
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "plan"] if obj is not None else [*fields, "status"]

    @override
    def service_save(self, *, actor: User, obj: Any, data: dict[str, Any], change: bool) -> Goal:
        if not change:
            return services.goal_create(
                actor=actor,
                plan=data["plan"],
                description=data["description"],
                expected_result=data["expected_result"],
                target_date=data["target_date"],
            )
        return services.goal_update(
            actor=actor,
            goal=obj,
            expected_version=data["expected_version"],
            description=data["description"],
            expected_result=data["expected_result"],
            target_date=data["target_date"],
            status=data["status"],
        )


@admin.register(Task)
class TaskAdmin(ServiceAdmin):
    list_display = ["title", "plan", "kind", "responsible_organisation", "due_date", "status"]
    list_filter = ["status", "kind", "responsible_organisation__sector"]
    search_fields = ["title", "plan__patient__family_name"]
    list_select_related = ["plan__patient", "responsible_organisation"]
    autocomplete_fields = ["plan", "goal", "responsible_organisation", "responsible_person", "depends_on"]
    readonly_fields = ["status", "version", "public_id", "completed_at"]
    date_hierarchy = "due_date"

    @override
    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "plan"] if obj is not None else fields

    @override
    def service_save(self, *, actor: User, obj: Any, data: dict[str, Any], change: bool) -> Task:
        what = {
            "title": data["title"],
            "kind": data["kind"],
            "responsible_organisation": data["responsible_organisation"],
            "responsible_person": data["responsible_person"],
            "window_start": data["window_start"],
            "due_date": data["due_date"],
            "description": data["description"],
            "goal": data["goal"],
            "depends_on": data["depends_on"],
            "visible_to_patient": data["visible_to_patient"],
        }
        if not change:
            return services.task_create(actor=actor, plan=data["plan"], **what)
        return services.task_update(actor=actor, task=obj, expected_version=data["expected_version"], **what)


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Logs that can be filtered and read, never added to, changed or deleted (not even by a superuser)."""

    @override
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @override
    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @override
    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AccessLog)
class AccessLogAdmin(ReadOnlyAdmin):
    """Read-only: the access log can be filtered and read, never changed."""

    list_display = ["at", "actor", "organisation", "patient", "action", "purpose"]
    list_filter = ["action", "purpose", "organisation__sector", "at"]
    search_fields = ["actor__username", "patient__family_name"]
    list_select_related = ["actor", "organisation", "patient"]
    date_hierarchy = "at"


class AuditKindFilter(admin.SimpleListFilter):
    title = _("kind of change")
    parameter_name = "kind"

    @override
    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(kind, str(label)) for kind, label in HISTORY_KIND_LABELS.items()]

    @override
    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(pgh_label=self.value()) if self.value() else queryset


class AuditRecordFilter(admin.SimpleListFilter):
    title = _("kind of record")
    parameter_name = "record"

    @override
    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        choices = [(m._meta.label, capfirst(str(m._meta.verbose_name))) for m in AUDITED_MODELS]
        return sorted(choices, key=lambda choice: choice[1])

    @override
    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if not self.value():
            return queryset
        audited = {m._meta.label: m for m in AUDITED_MODELS}.get(str(self.value()))
        if audited is None:
            return queryset.none()
        # Query only the one event table rather than filtering the union of all of them.
        return cast(QuerySet[Any], queryset.across(event_model_label(audited)))  # type: ignore[attr-defined]


class AuditDateFilter(admin.DateFieldListFilter):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.title = _("when")  # rather than the event field's English name


class AuditChangeList(ChangeList):
    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        # Evaluate the page once (the template reuses these instances) and make it readable in a fixed
        # number of queries.
        events: list[AuditEvent] = list(self.result_list)
        for event, entry in zip(events, history_entries(events), strict=True):
            setattr(event, _READABLE, entry)


# The admin's change list puts each event's readable form on the instance; the model does not know it.
_READABLE = "_ff_readable"


def _readable(event: AuditEvent) -> HistoryEntry | None:
    entry: HistoryEntry | None = getattr(event, _READABLE, None)
    return entry


def _log_audit_page(request: HttpRequest, events: list[AuditEvent]) -> None:
    """The audit trail shows patient data: one administrative-read row per patient and plan on the page.
    Objects deleted since (they have no row to point to) cannot be logged."""
    patient_ids: set[int] = set()
    plan_ids: set[int] = set()
    for event in events:
        data = event.pgh_data or {}
        if event.pgh_obj_model == Patient._meta.label:
            patient_ids.add(data["id"])
        elif event.pgh_obj_model == PathwayPlan._meta.label:
            plan_ids.add(data["id"])
        elif "plan_id" in data:
            plan_ids.add(data["plan_id"])
    pairs: set[tuple[int, int | None]] = set()
    if plan_ids:
        pairs |= set(PathwayPlan.objects.filter(pk__in=plan_ids).values_list("patient_id", "pk"))
    if patient_ids:
        existing = Patient.objects.filter(pk__in=patient_ids).values_list("pk", flat=True)
        pairs |= {(patient_id, None) for patient_id in existing}
    access_log_write(
        actor=cast(User, request.user),
        reads=(
            PatientRead(patient_id=patient_id, plan_id=plan_id)
            for patient_id, plan_id in sorted(pairs, key=lambda pair: (pair[0], pair[1] or 0))
        ),
        action=AccessAction.ADMIN_LIST,
        purpose=AccessPurpose.ADMINISTRATION,
    )


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """The audit trail: every recorded change, newest first, with who, when and before → after.

    Read-only for everyone (the event tables refuse UPDATE and DELETE in the database as well); the list
    only, no page per event, which would show the raw snapshot with the full CPR number. The list shows
    patient data and is logged as an administrative read.
    """

    list_display = ["when", "who", "kind", "record", "changes", "url"]
    list_display_links = None
    list_filter = [
        AuditKindFilter,
        AuditRecordFilter,
        ("pgh_created_at", AuditDateFilter),
        ("user", admin.RelatedOnlyFieldListFilter),
    ]
    search_fields = ["user__username", "user__first_name", "user__last_name", "url"]
    date_hierarchy = "pgh_created_at"
    ordering = ["-pgh_created_at", "-pgh_id"]
    list_per_page = 50
    # Counting over every event table is not worth a query per page, nor per filter choice.
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER

    @override
    def get_queryset(self, request: HttpRequest) -> QuerySet[AuditEvent]:
        return AuditEvent.objects.all()

    @override
    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return AuditChangeList

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        response = super().changelist_view(request, extra_context)
        if isinstance(response, TemplateResponse) and response.context_data and "cl" in response.context_data:
            _log_audit_page(request, list(response.context_data["cl"].result_list))
        return response

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and super().has_view_permission(request)

    @admin.display(description=_("when"), ordering="pgh_created_at")
    def when(self, event: AuditEvent) -> Any:
        return event.pgh_created_at

    @admin.display(description=_("who"))
    def who(self, event: AuditEvent) -> str:
        entry = _readable(event)
        if entry and entry.actor_name:
            return entry.actor_name
        return gettext("The system (no signed-in user)")

    @admin.display(description=_("kind of change"))
    def kind(self, event: AuditEvent) -> str:
        entry = _readable(event)
        return entry.kind_label if entry else event.pgh_label

    @admin.display(description=_("record"))
    def record(self, event: AuditEvent) -> str:
        entry = _readable(event)
        if entry is None:
            return event.pgh_obj_model
        return f"{entry.record_type}: {entry.record}"

    @admin.display(description=_("changes"))
    def changes(self, event: AuditEvent) -> str:
        entry = _readable(event)
        if entry is None:
            return ""
        if entry.earlier_values_unknown:
            return gettext("The values before this change were not recorded (they predate the history).")
        arrow = entry.kind == "update"
        return format_html_join(
            mark_safe("<br>"),
            "{}: {}{}",
            (
                (change.label, f"{change.before or '—'} → " if arrow else "", change.after or "—")
                for change in entry.changes
            ),
        )


@admin.register(SecurityEvent)
class SecurityEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "kind", "username", "ip_address", "path"]
    list_filter = ["kind", "at"]
    search_fields = ["username", "ip_address"]
    date_hierarchy = "at"


@admin.register(EmergencyAccess)
class EmergencyAccessAdmin(ReadOnlyAdmin, PatientDataAdmin):
    """Break-the-glass accesses with their reasons: for the administration's follow-up."""

    list_display = ["granted_at", "actor", "organisation", "patient", "expires_at", "acknowledged_at"]
    list_filter = [("acknowledged_at", admin.EmptyFieldListFilter), "organisation__sector", "granted_at"]
    search_fields = ["actor__username", "patient__family_name"]
    list_select_related = ["actor", "organisation", "patient", "plan__patient"]
    date_hierarchy = "granted_at"


# The device admins of django-otp show the authenticator secrets and QR codes to administrators; the user
# admin's "reset two-step sign-in" action covers what administrators need (a lost phone).
admin.site.unregister(TOTPDevice)
admin.site.unregister(StaticDevice)


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin, PatientDataAdmin):
    """The outbox, read-only: what was sent, what waits and what failed (the error kind, never the text).
    Failed rows can be sent again; everything else is the worker's business."""

    list_display = [
        "due_at",
        "kind",
        "channel",
        "state",
        "attempts",
        "recipient_type",
        "last_error",
        "sent_at",
    ]
    list_filter = ["state", "channel", "kind"]
    list_select_related = ["recipient_type", "plan__patient"]
    date_hierarchy = "due_at"
    actions = ["retry"]
    fields = [
        "public_id",
        "kind",
        "channel",
        "state",
        "recipient_type",
        "recipient_id",
        "plan",
        "task",
        "due_at",
        "attempts",
        "last_error",
        "sent_at",
        "read_at",
        "created_at",
    ]

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.has_perm("pathways.change_notification"))

    @admin.action(description=_("Send the selected failed messages again"), permissions=["retry"])
    def retry(self, request: HttpRequest, queryset: QuerySet[Notification]) -> None:
        count = services.notification_retry(actor=cast(User, request.user), notifications=queryset)
        self.message_user(
            request, gettext("%(count)d failed messages will be sent again.") % {"count": count}
        )


# --- templates ---


# --- stays ---


# --- ingest ---
