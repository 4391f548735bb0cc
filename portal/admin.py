"""The portal's records in the administration: read-only (they are written by the sign-in only).

For a security review: when, by which channels, how far each sign-in got, and how sessions ended. Never a
salt or a hash, and not who signed in (a name or an address here would be an unlogged read of patient
data: who reads a plan in the portal is in the plan's access log)."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from typing_extensions import override

from pathways.admin import ReadOnlyAdmin
from portal.models import PortalSession, PortalSignIn


def _readers(patient: bool, relatives: int) -> str:
    parts = [str(_("the patient"))] if patient else []
    if relatives:
        parts.append(ngettext("%(count)d relative", "%(count)d relatives", relatives) % {"count": relatives})
    return ", ".join(parts) or "–"


@admin.register(PortalSignIn)
class PortalSignInAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "link_channel",
        "code_channel",
        "readers",
        "link_opened_at",
        "failed_codes",
        "completed_at",
        "ip_address",
    ]
    list_filter = ["link_channel", "code_channel", "created_at"]
    date_hierarchy = "created_at"
    fields = readonly_fields = (
        "public_id",
        "created_at",
        "expires_at",
        "link_channel",
        "code_channel",
        "readers",
        "ip_address",
        "link_opened_at",
        "code_sent_at",
        "failed_codes",
        "completed_at",
    )

    @override
    def get_queryset(self, request: HttpRequest) -> QuerySet[PortalSignIn]:
        queryset: QuerySet[PortalSignIn] = (
            super().get_queryset(request).annotate(relative_count=Count("relatives"))
        )
        return queryset

    @admin.display(description=_("who"))
    def readers(self, obj: PortalSignIn) -> str:
        return _readers(obj.patient_id is not None, getattr(obj, "relative_count", 0))


@admin.register(PortalSession)
class PortalSessionAdmin(ReadOnlyAdmin):
    list_display = ["started_at", "method", "readers", "last_seen_at", "ended_at", "end_reason", "ip_address"]
    list_filter = ["method", "end_reason", "started_at"]
    date_hierarchy = "started_at"
    fields = readonly_fields = (
        "public_id",
        "method",
        "readers",
        "started_at",
        "last_seen_at",
        "ended_at",
        "end_reason",
        "ip_address",
    )

    @override
    def get_queryset(self, request: HttpRequest) -> QuerySet[PortalSession]:
        queryset: QuerySet[PortalSession] = (
            super().get_queryset(request).annotate(relative_count=Count("relatives"))
        )
        return queryset

    @admin.display(description=_("who"))
    def readers(self, obj: PortalSession) -> str:
        return _readers(obj.patient_id is not None, getattr(obj, "relative_count", 0))
