"""Django admin for administrators (is_staff). Reads of patient data here are logged like any other;
the CPR number is not searchable here because admin searches travel in the URL. The access log and the
audit trail are read-only here, for superusers too, and append-only in the database."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import BaseModelAdmin
from django.contrib.admin.views.main import ChangeList
from django.contrib.admin.widgets import AutocompleteSelect
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.text import capfirst
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from typing_extensions import override

from pathways import ingest, pathway_templates, selectors, services
from pathways.audit import PatientRead, RequestOrigin, access_log_write
from pathways.choices import AccessAction, AccessPurpose, TemplateTrigger
from pathways.history import HISTORY_KIND_LABELS, HistoryEntry, history_entries
from pathways.models import (
    AUDITED_MODELS,
    AccessLog,
    AuditEvent,
    EmergencyAccess,
    Goal,
    IntegrationCredential,
    Membership,
    Notification,
    Organisation,
    PathwayPlan,
    PathwayTemplate,
    PathwayTemplateVersion,
    Patient,
    PlanCondition,
    PlanDocument,
    PlanParticipant,
    ReceivedMessage,
    SecurityEvent,
    Task,
    TemplateGoal,
    TemplateTask,
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

    def _log(self, request: HttpRequest, objects: list[Any], action: AccessAction) -> None:
        """The objects' patients (and plans) as read; an admin whose rows point to the patient some other
        way overrides this."""
        _log(request, objects, action)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        response = super().changelist_view(request, extra_context)
        if isinstance(response, TemplateResponse) and response.context_data and "cl" in response.context_data:
            self._log(request, list(response.context_data["cl"].result_list), AccessAction.ADMIN_LIST)
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
                self._log(request, [original], AccessAction.ADMIN_VIEW)
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
    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:  # a new plan may start from pathway templates (section "templates" below)
            kwargs["form"] = PlanFromTemplatesAdminForm
        return super().get_form(request, obj, change=change, **kwargs)

    @override
    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        if not change:  # after the participants, so the templates' tasks find the plan's hospital
            plan_templates_apply_in_admin(self, request, form.instance, form.cleaned_data.get("templates"))

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


class ReadOnlyInline(admin.TabularInline):  # type: ignore[type-arg]
    """Rows shown under their parent for reading, never added to, changed or deleted there."""

    extra = 0
    can_delete = False

    @override
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @override
    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


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

    list_display = ["at", "who", "organisation", "patient", "action", "purpose"]
    list_filter = ["action", "purpose", "organisation__sector", "at"]
    search_fields = ["actor__username", "patient__family_name"]
    list_select_related = ["actor", "organisation", "patient"]
    date_hierarchy = "at"

    @override
    def get_queryset(self, request: HttpRequest) -> QuerySet[AccessLog]:
        # A portal read has no staff user but a reader (the patient or a relative): one query per kind.
        return super().get_queryset(request).prefetch_related("reader")

    @admin.display(description=_("who"), ordering="actor__username")
    def who(self, entry: AccessLog) -> str:
        if entry.actor is not None:
            return str(entry.actor)
        if entry.reader is None:
            return "–"
        return gettext("%(reader)s (in the portal)") % {"reader": entry.reader}


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
# Administrators edit a template's goals, tasks and discharge rules here; every save that changes them
# publishes a new frozen version (plans made from earlier versions are offered the update on the plan
# page, never changed by the save). A new plan in the admin may start from templates.


class PlanFromTemplatesAdminForm(VersionedAdminForm):
    templates = forms.ModelMultipleChoiceField(
        label=_("Start from pathway templates"),
        queryset=PathwayTemplate.objects.filter(is_active=True).order_by("name"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_(
            "The plan gets the templates' conditions, goals and tasks (merged, without duplicates) and "
            "their discharge rules. It can be changed freely afterwards."
        ),
    )


def plan_templates_apply_in_admin(
    model_admin: admin.ModelAdmin,  # type: ignore[type-arg]
    request: HttpRequest,
    plan: PathwayPlan,
    chosen: Any,
) -> None:
    """Make the new plan's goals and tasks from the chosen templates; a refusal undoes the whole save."""
    if not chosen:
        return
    try:
        made = pathway_templates.plan_templates_apply(
            actor=cast(User, request.user), plan=plan, templates=list(chosen)
        )
    except PermissionDenied:
        raise _ServiceRefused(gettext("You may not make this change.")) from None
    except ValidationError as error:
        raise _ServiceRefused(" ".join(error.messages)) from None
    model_admin.message_user(
        request,
        gettext("%(count)d tasks made from the templates %(names)s.")
        % {"count": len(made), "names": ", ".join(t.name for t in chosen)},
        messages.SUCCESS,
    )
    if made.skipped:
        model_admin.message_user(
            request,
            gettext("Not made, because no organisation was found for the patient: %(items)s.")
            % {"items": "; ".join(f"{s.title} ({s.party_label})" for s in made.skipped)},
            messages.WARNING,
        )


class TemplateItemsFormSet(forms.BaseInlineFormSet):  # type: ignore[type-arg]
    """The goals, the tasks and the discharge rules of a template are three formsets of one page; the
    last of them checks that their keys hold together (pathway_templates.content_validate), so a template
    that could not be published is shown again with the reason rather than saved."""

    trigger = ""

    def __init__(self, *args: Any, siblings: list[TemplateItemsFormSet] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.siblings = siblings if siblings is not None else []
        self.siblings.append(self)

    def kept_rows(self) -> list[dict[str, Any]]:
        return [
            form.cleaned_data
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]

    @override
    def clean(self) -> None:
        super().clean()
        if self is not self.siblings[-1] or not all(s.is_valid() for s in self.siblings if s is not self):
            return
        goals: list[dict[str, Any]] = []
        tasks: list[dict[str, Any]] = []
        for formset in self.siblings:
            if formset.model is TemplateGoal:
                goals += [{"key": row["key"]} for row in formset.kept_rows()]
            else:
                tasks += [
                    {
                        "key": row["key"],
                        "title": row.get("title", ""),
                        "trigger": formset.trigger,
                        "goal_key": row.get("goal_key", ""),
                        "depends_on_key": row.get("depends_on_key", ""),
                    }
                    for row in formset.kept_rows()
                ]
        try:
            pathway_templates.content_validate({"goals": goals, "tasks": tasks})
        except ValidationError as error:
            raise ValidationError(error.messages) from None


class PlanStartFormSet(TemplateItemsFormSet):
    trigger = TemplateTrigger.PLAN_START

    @classmethod
    def get_default_prefix(cls) -> str:
        return "plan_start_tasks"


class DischargeRuleFormSet(TemplateItemsFormSet):
    trigger = TemplateTrigger.DISCHARGE

    @classmethod
    def get_default_prefix(cls) -> str:
        return "discharge_rules"


class TemplateGoalInline(admin.TabularInline):  # type: ignore[type-arg]
    model = TemplateGoal
    formset = TemplateItemsFormSet
    fields = ["key", "description", "expected_result", "sort_order"]
    extra = 0


class TemplateTaskInline(admin.StackedInline):  # type: ignore[type-arg]
    """The template's tasks of one trigger; a new row gets the trigger of the inline it is added in."""

    model = TemplateTask
    extra = 0
    trigger = ""

    @override
    def get_queryset(self, request: HttpRequest) -> QuerySet[TemplateTask]:
        return super().get_queryset(request).filter(trigger=self.trigger)

    @override
    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        formset = super().get_formset(request, obj, **kwargs)
        trigger = self.trigger

        class WithTrigger(formset):  # type: ignore[misc, valid-type]
            def _construct_form(self, i: int, **form_kwargs: Any) -> Any:
                form = super()._construct_form(i, **form_kwargs)
                form.instance.trigger = trigger
                return form

        return WithTrigger


class PlanStartTaskInline(TemplateTaskInline):
    formset = PlanStartFormSet
    trigger = TemplateTrigger.PLAN_START
    verbose_name = _("task when the plan is made")
    verbose_name_plural = _("tasks when the plan is made (due “days after” the plan starts)")
    fields = [
        ("key", "title", "kind"),
        "description",
        ("responsible", "offset_days", "window_days"),
        ("goal_key", "depends_on_key", "visible_to_patient", "sort_order"),
    ]


class DischargeRuleInline(TemplateTaskInline):
    formset = DischargeRuleFormSet
    trigger = TemplateTrigger.DISCHARGE
    verbose_name = _("discharge rule")
    verbose_name_plural = _(
        "discharge rules: follow-ups every discharge creates (due “days after” the discharge day)"
    )
    fields = [
        ("key", "title", "kind"),
        "description",
        ("responsible", "offset_days", "window_days"),
        ("depends_on_key", "after_acute_ambulant", "visible_to_patient", "sort_order"),
    ]


class TemplateVersionInline(ReadOnlyInline):
    """The published versions, newest first, read-only (a version is frozen)."""

    model = PathwayTemplateVersion
    fields = ["number", "published_at", "published_by"]
    readonly_fields = ["number", "published_at", "published_by"]
    ordering = ["-number"]
    show_change_link = True


@admin.register(PathwayTemplate)
class PathwayTemplateAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["name", "code", "condition", "icd10_code", "is_active", "latest_version"]
    list_filter = ["is_active"]
    search_fields = ["name", "code", "condition", "icd10_code"]
    inlines = [TemplateGoalInline, PlanStartTaskInline, DischargeRuleInline, TemplateVersionInline]

    @override
    def get_queryset(self, request: HttpRequest) -> QuerySet[PathwayTemplate]:
        templates: QuerySet[PathwayTemplate] = super().get_queryset(request)
        latest = PathwayTemplateVersion.objects.filter(template=OuterRef("pk")).order_by("-number")
        return templates.annotate(latest_number=Subquery(latest.values("number")[:1]))

    @override
    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # plans record the versions they were made from: retire it by no longer offering it

    @admin.display(description=_("latest version"), ordering="latest_number")
    def latest_version(self, obj: Any) -> Any:
        return getattr(obj, "latest_number", None)

    def get_formset_kwargs(self, request: HttpRequest, obj: Any, inline: Any, prefix: str) -> dict[str, Any]:
        kwargs = super().get_formset_kwargs(request, obj, inline, prefix)
        if issubclass(inline.formset, TemplateItemsFormSet):
            # The goal, task and discharge-rule formsets of this request check their keys together.
            kwargs["siblings"] = request.__dict__.setdefault("_ff_template_formsets", [])
        return kwargs

    @override
    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        try:
            version = pathway_templates.template_publish(
                actor=cast(User, request.user), template=form.instance
            )
        except ValidationError as error:  # the formsets check this first; kept whole should that miss
            transaction.set_rollback(True)
            self.message_user(request, " ".join(error.messages), messages.ERROR)
            return
        if version is None:
            self.message_user(request, gettext("No change: no new version published."), messages.INFO)
        else:
            self.message_user(
                request,
                gettext(
                    "Published as version %(number)d. Plans made from earlier versions are offered "
                    "the update."
                )
                % {"number": version.number},
                messages.SUCCESS,
            )


@admin.register(PathwayTemplateVersion)
class PathwayTemplateVersionAdmin(ReadOnlyAdmin):
    """Published versions: frozen (the database refuses to change one); plans record the one they use."""

    list_display = ["template", "number", "published_at", "published_by"]
    list_filter = ["template"]
    list_select_related = ["template", "published_by"]
    fields = ["template", "number", "published_at", "published_by", "snapshot"]
    readonly_fields = ["template", "number", "published_at", "published_by", "snapshot"]

    @admin.display(description=_("content"))
    def snapshot(self, obj: PathwayTemplateVersion) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.content, indent=2, ensure_ascii=False))


# --- stays ---


# --- printable documents (issue 15) ---


@admin.register(PlanDocument)
class PlanDocumentAdmin(ReadOnlyAdmin, PatientDataAdmin):
    """The printable documents and their render jobs, read-only: what was asked for, by whom, how far the
    worker got and what failed (the error kind, never patient data). Staff retry a failed one on its page;
    here one PDF can be opened at a time, logged as a read of everything printed in it."""

    list_display = ["created_at", "kind", "number", "content", "state", "progress", "attempts", "error"]
    list_filter = ["state", "kind", "content"]
    list_select_related = ["plan__patient", "requested_by"]
    date_hierarchy = "created_at"
    actions = ["download"]
    fields = [
        "public_id",
        "plan",
        "kind",
        "content",
        "number",
        "language",
        "state",
        "progress",
        "attempts",
        "error",
        "asked_by",
        "notification",
        "pages",
        "size",
        "created_at",
        "started_at",
        "finished_at",
    ]
    readonly_fields = ["asked_by"]

    @override
    def get_queryset(self, request: HttpRequest) -> QuerySet[PlanDocument]:
        # Never the HTML snapshots and PDFs in a list or on a page (they are large, and patient data).
        return super().get_queryset(request).defer("html", "attachment_html", "pdf")

    @admin.display(description=_("asked for by"))
    def asked_by(self, obj: PlanDocument) -> str:
        if obj.requested_by_id is not None:
            return str(obj.requested_by)
        return str(obj.requester) if obj.requester_type_id is not None else "–"

    def has_download_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.has_perm("pathways.view_plandocument"))

    @admin.action(description=_("Open the PDF of the selected document (logged)"), permissions=["download"])
    def download(self, request: HttpRequest, queryset: QuerySet[PlanDocument]) -> HttpResponse | None:
        chosen = list(queryset.select_related("plan__patient")[:2])
        pdf = selectors.document_pdf(chosen[0]) if len(chosen) == 1 else None
        if pdf is None:
            self.message_user(request, gettext("Choose one document that is ready."), messages.WARNING)
            return None
        _log(request, chosen, AccessAction.DOWNLOAD_DOCUMENT)
        response = HttpResponse(pdf, content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="document-{chosen[0].public_id}.pdf"'
        response["Cache-Control"] = "private, no-store"
        return response


# --- ingest ---


_NEW_KEY_SESSION = "pathways.ingest.new_credential_key"
access_log = logging.getLogger("faelles_forloeb.access")


class IntegrationCredentialForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = IntegrationCredential
        fields = ["organisation", "name"]

    def clean_organisation(self) -> Organisation:
        organisation: Organisation = self.cleaned_data["organisation"]
        if not organisation.sor_code:
            raise ValidationError(_("The organisation needs a SOR code: messages name their sender by it."))
        return organisation


@admin.register(IntegrationCredential)
class IntegrationCredentialAdmin(SafeAutocompleteMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    """Keys of the hospitals' sending systems (MedCom ingest). Issued here, the key shown once; revoked by
    the list's action; never changed or deleted: received messages name the credential they came with."""

    form = IntegrationCredentialForm
    list_display = ["name", "organisation", "key_prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "organisation__name"]
    list_select_related = ["organisation"]
    autocomplete_fields = ["organisation"]
    actions = ["revoke"]

    @override
    def get_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        if obj is None:
            return ("organisation", "name")
        return (
            "organisation",
            "name",
            "key_prefix",
            "created_at",
            "created_by",
            "last_used_at",
            "revoked_at",
        )

    @override
    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @override
    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.has_perm("pathways.change_integrationcredential"))

    @override
    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        credential, key = ingest.credential_issue(
            actor=cast(User, request.user),
            organisation=form.cleaned_data["organisation"],
            name=form.cleaned_data["name"],
        )
        obj.__dict__.update(credential.__dict__)
        # Shown once, on the page the administrator is sent to next; kept in the server-side session
        # until then, never in a cookie or a URL.
        request.session[_NEW_KEY_SESSION] = {"id": credential.pk, "key": key}

    @override
    def response_add(
        self, request: HttpRequest, obj: Any, post_url_continue: str | None = None
    ) -> HttpResponse:
        return HttpResponseRedirect(reverse("admin:pathways_integrationcredential_change", args=[obj.pk]))

    @override
    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        issued = request.session.get(_NEW_KEY_SESSION)
        if request.method == "GET" and issued and str(issued.get("id")) == object_id:
            del request.session[_NEW_KEY_SESSION]
            self.message_user(
                request,
                format_html(
                    "{} <code>{}</code>",
                    gettext("The key, shown this once: copy it into the sending system now."),
                    issued["key"],
                ),
                messages.WARNING,
            )
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.action(description=_("Revoke the selected keys"), permissions=["revoke"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[IntegrationCredential]) -> None:
        for credential in queryset:
            ingest.credential_revoke(actor=cast(User, request.user), credential=credential)
        self.message_user(request, gettext("%(count)d keys revoked.") % {"count": len(queryset)})


@admin.register(ReceivedMessage)
class ReceivedMessageAdmin(ReadOnlyAdmin):
    """Received hospital notices as they came (the body verbatim) and what became of them. The list shows
    no patient data; opening one shows the message, CPR number included: logged like any read (in the
    access log where the citizen is a patient of the product, else in the access log file)."""

    list_display = ["received_at", "code", "state", "sender", "receiver", "event_at", "hold_until"]
    list_filter = ["state", "code", ("receiver", admin.RelatedOnlyFieldListFilter), "received_at"]
    list_select_related = ["sender", "receiver"]
    date_hierarchy = "received_at"
    fields = [
        "public_id",
        "message_id",
        "code",
        "state",
        "sender",
        "receiver",
        "credential",
        "event_at",
        "received_at",
        "hold_until",
        "applied_at",
        "episode_id",
        "encounter_id",
        "stay_class",
        "refers_to",
        "citizen_name",
        "citizen_birth_date",
        "patient",
        "plan",
        "message_as_received",
        "acknowledgement_sent",
    ]

    @admin.display(description=_("as received"))
    def message_as_received(self, obj: ReceivedMessage) -> str:
        try:
            text = json.dumps(json.loads(obj.body), indent=2, ensure_ascii=False)
        except ValueError:
            text = obj.body
        return format_html("<pre>{}</pre>", text)

    @admin.display(description=_("acknowledgement sent"))
    def acknowledgement_sent(self, obj: ReceivedMessage) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.acknowledgement, indent=2, ensure_ascii=False))

    @override
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
            if isinstance(original, ReceivedMessage):
                if original.patient_id is not None:
                    access_log_write(
                        actor=cast(User, request.user),
                        reads=[PatientRead(patient_id=original.patient_id, plan_id=original.plan_id)],
                        action=AccessAction.ADMIN_VIEW,
                        purpose=AccessPurpose.ADMINISTRATION,
                    )
                else:
                    access_log.info(
                        "admin_view received_message=%s user=%s", original.public_id, request.user.pk
                    )
        return response
