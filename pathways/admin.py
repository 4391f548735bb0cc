"""Django admin for administrators (is_staff). Reads of patient data here are logged like any other;
the CPR number is not searchable here because admin searches travel in the URL."""

from __future__ import annotations

from typing import Any, cast

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import Exists, F, OuterRef, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from pathways import services
from pathways.choices import AccessAction, AccessPurpose
from pathways.models import (
    AccessLog,
    EmergencyAccess,
    Goal,
    Membership,
    Organisation,
    PathwayPlan,
    Patient,
    PlanCondition,
    PlanParticipant,
    SecurityEvent,
    Task,
    User,
)

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
    rows = []
    for obj in objects:
        patient, plan = _patient_and_plan(obj)
        rows.append(
            AccessLog(
                actor=cast(User, request.user),
                patient=patient,
                plan=plan,
                action=action,
                purpose=AccessPurpose.ADMINISTRATION,
            )
        )
    AccessLog.objects.bulk_create(rows)


class PatientDataAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
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


class VersionedAdmin(PatientDataAdmin):
    """Admin edits bump the version so a coordinator editing at the same time gets a conflict."""

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if change:
            obj.version = F("version") + 1
        super().save_model(request, obj, form, change)
        if change:
            obj.refresh_from_db(fields=["version"])


class ChildOrganisationInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Organisation
    fk_name = "parent"
    fields = ["name", "sector", "sor_code", "is_active"]
    extra = 0
    verbose_name = _("department or unit")
    verbose_name_plural = _("departments and units")


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["name", "sector", "sor_code", "parent", "is_active"]
    list_filter = ["sector", "is_active"]
    search_fields = ["name", "sor_code"]
    autocomplete_fields = ["parent"]
    inlines = [ChildOrganisationInline]


class MembershipInline(admin.TabularInline):  # type: ignore[type-arg]
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
            services.mfa_remove(user=user, actor=cast(User, request.user), request=request)
            services.sessions_revoke_all(user=user, request=request)
        self.message_user(request, _("Two-step sign-in reset; the users are signed out."), messages.SUCCESS)

    @admin.action(description=_("Sign out everywhere"))
    def sign_out_everywhere(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset:
            services.sessions_revoke_all(user=user, request=request)
        self.message_user(request, _("The users are signed out on every device."), messages.SUCCESS)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["user", "organisation", "role", "started_at", "ended_at"]
    list_filter = ["role", "organisation__sector"]
    search_fields = ["user__username", "user__first_name", "user__last_name", "organisation__name"]
    autocomplete_fields = ["user", "organisation"]


@admin.register(Patient)
class PatientAdmin(PatientDataAdmin):
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


class ParticipantInline(admin.TabularInline):  # type: ignore[type-arg]
    model = PlanParticipant
    fields = ["organisation", "commitment", "accepted_at", "accepted_by"]
    readonly_fields = ["accepted_at", "accepted_by"]
    autocomplete_fields = ["organisation"]
    extra = 0


class GoalInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Goal
    fields = ["description", "expected_result", "status", "target_date"]
    extra = 0


@admin.register(PathwayPlan)
class PathwayPlanAdmin(VersionedAdmin):
    list_display = ["title", "patient", "status", "coordinator", "review_date", "updated_at"]
    list_filter = ["status", "participants__organisation__sector"]
    search_fields = ["title", "patient__family_name", "patient__given_name"]
    list_select_related = ["patient", "coordinator"]
    autocomplete_fields = ["patient", "coordinator", "coordinator_substitute", "coordinator_organisation"]
    readonly_fields = ["status", "version", "public_id", "created_by", "created_at", "updated_at"]
    inlines = [ConditionInline, ParticipantInline, GoalInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[PathwayPlan]:
        return super().get_queryset(request).distinct()


@admin.register(Goal)
class GoalAdmin(VersionedAdmin):
    list_display = ["description", "plan", "status", "target_date"]
    list_filter = ["status"]
    search_fields = ["description", "plan__patient__family_name"]
    list_select_related = ["plan__patient"]
    autocomplete_fields = ["plan"]
    readonly_fields = ["version", "public_id"]


@admin.register(Task)
class TaskAdmin(VersionedAdmin):
    list_display = ["title", "plan", "kind", "responsible_organisation", "due_date", "status"]
    list_filter = ["status", "kind", "responsible_organisation__sector"]
    search_fields = ["title", "plan__patient__family_name"]
    list_select_related = ["plan__patient", "responsible_organisation"]
    autocomplete_fields = ["plan", "goal", "responsible_organisation", "responsible_person", "depends_on"]
    readonly_fields = ["status", "version", "public_id", "completed_at"]
    date_hierarchy = "due_date"


@admin.register(AccessLog)
class AccessLogAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Read-only: the access log can be filtered and read, never changed."""

    list_display = ["at", "actor", "organisation", "patient", "action", "purpose"]
    list_filter = ["action", "purpose", "organisation__sector", "at"]
    search_fields = ["actor__username", "patient__family_name"]
    list_select_related = ["actor", "organisation", "patient"]
    date_hierarchy = "at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Logs that can be filtered and read, never added to, changed or deleted (not even by a superuser)."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


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
