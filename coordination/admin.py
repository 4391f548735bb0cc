"""Coordination in the admin. Writes to plan data go through the services (pathways.admin.ServiceAdmin);
the escalation ladder, escalation contacts and the secretariat are settings an administrator keeps."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from typing_extensions import override

from coordination.models import (
    CoordinatorHandover,
    Dispute,
    DisputeEscalation,
    EscalationContact,
    EscalationStep,
    Message,
    MessageRecipient,
    MessageThread,
    NeedAssessment,
    Secretariat,
)
from pathways.admin import PatientDataAdmin, ReadOnlyAdmin, ReadOnlyInline

# --- Need assessment and coordinator handover ----------------------------------------------------------


@admin.register(NeedAssessment)
class NeedAssessmentAdmin(ReadOnlyAdmin, PatientDataAdmin):
    """Need assessments, read-only (recorded on the plan page); every list and opened row is logged."""

    list_display = [
        "assessed_on",
        "plan",
        "outcome",
        "assessed_by",
        "assessed_by_organisation",
        "review_date",
    ]
    list_filter = ["outcome", "patient_present", "assessed_on"]
    list_select_related = ["plan__patient", "assessed_by", "assessed_by_organisation"]
    date_hierarchy = "assessed_on"


@admin.register(CoordinatorHandover)
class CoordinatorHandoverAdmin(ReadOnlyAdmin, PatientDataAdmin):
    """Coordinator handovers, read-only (made on the plan page); every list and opened row is logged."""

    list_display = ["handed_over_at", "plan", "from_coordinator", "to_coordinator", "organisation"]
    list_select_related = ["plan__patient", "from_coordinator", "to_coordinator", "organisation"]
    date_hierarchy = "handed_over_at"


# --- Responsibility disputes ---------------------------------------------------------------------------


@admin.register(EscalationStep)
class EscalationStepAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """The escalation ladder as data: after how many working days an open dispute goes to whom."""

    list_display = ["step", "after_working_days", "target"]
    list_display_links = ["step"]
    list_editable = ["after_working_days", "target"]


@admin.register(EscalationContact)
class EscalationContactAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Each organisation's named escalation contact (without one: its coordinators, else its parent's)."""

    list_display = ["organisation", "person"]
    list_select_related = ["organisation", "person"]
    search_fields = ["organisation__name", "person__username", "person__last_name"]


@admin.register(Secretariat)
class SecretariatAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """The cross-sector secretariat, the ladder's last step: one row."""

    list_display = ["name", "email", "phone"]

    @override
    def has_add_permission(self, request: HttpRequest) -> bool:
        return super().has_add_permission(request) and not Secretariat.objects.exists()


class DisputeEscalationInline(ReadOnlyInline):
    model = DisputeEscalation
    fields = ["step", "target", "escalated_at"]
    readonly_fields = ["step", "target", "escalated_at"]


@admin.register(Dispute)
class DisputeAdmin(ReadOnlyAdmin, PatientDataAdmin):
    """Responsibility disputes, read-only (they are raised and resolved on the plan page); every list
    and opened dispute is logged as a read of patient data."""

    list_display = ["raised_at", "task", "status", "question", "interim_organisation", "escalation_step"]
    list_filter = ["status", "question", "escalation_step"]
    list_select_related = ["plan__patient", "task", "interim_organisation"]
    date_hierarchy = "raised_at"
    inlines = [DisputeEscalationInline]
    exclude = ["plan"]


# --- Messages between sectors ----------------------------------------------------------------------------


class MessageInline(ReadOnlyInline):
    model = Message
    readonly_fields = ("sent_at", "sender", "sender_organisation", "priority", "body")
    fields = readonly_fields
    ordering = ["sent_at", "id"]


class MessageRecipientInline(ReadOnlyInline):
    model = MessageRecipient
    readonly_fields = ("organisation", "read_at", "read_by")
    fields = readonly_fields


@admin.register(MessageThread)
class MessageThreadAdmin(ReadOnlyAdmin, PatientDataAdmin):
    """Messages between sectors, read-only: sent is sent (a correction is a new message, on the plan).
    Lists and opened threads are logged as reads of patient data."""

    list_display = ["subject", "plan", "started_at", "last_message_at"]
    list_select_related = ["plan__patient"]
    date_hierarchy = "last_message_at"
    readonly_fields = ("public_id", "plan", "task", "subject", "started_by", "started_at", "last_message_at")
    fields = readonly_fields
    inlines = [MessageInline]


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin, PatientDataAdmin):
    list_display = ["sent_at", "thread", "sender_organisation", "sender", "priority"]
    list_filter = ["priority", "sent_at"]
    list_select_related = ["thread", "sender_organisation", "sender", "plan__patient"]
    date_hierarchy = "sent_at"
    readonly_fields = (
        "public_id",
        "thread",
        "plan",
        "sender",
        "sender_name",
        "sender_organisation",
        "priority",
        "sent_at",
        "body",
    )
    fields = readonly_fields
    inlines = [MessageRecipientInline]
