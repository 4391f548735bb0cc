"""Relatives in the admin: the catalogue data (support offers, strain instruments). The relatives' and
consent data are read and written on the plan's pages, where the access policy and the log apply."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from typing_extensions import override

from relatives.models import StrainInstrument, StrainItem, StrainScreening, SupportOffer

# --- support ---


class StrainItemFormSet(forms.BaseInlineFormSet):  # type: ignore[type-arg]
    """An instrument has questions, and its high-strain threshold lies between 1 and their number."""

    def clean(self) -> None:
        super().clean()
        kept = [
            form for form in self.forms if form.cleaned_data and not form.cleaned_data.get("DELETE", False)
        ]
        if not kept:
            raise ValidationError(_("An instrument needs at least one question."))
        threshold = self.instance.high_strain_from
        if threshold is not None and not 1 <= threshold <= len(kept):
            raise ValidationError(
                _("High strain must start at a score between 1 and the number of questions (%(count)d).")
                % {"count": len(kept)}
            )


class StrainItemInline(admin.TabularInline):  # type: ignore[type-arg]
    model = StrainItem
    formset = StrainItemFormSet
    fields = ["position", "key", "text_da", "text_en"]
    ordering = ["position"]
    extra = 0


@admin.register(StrainInstrument)
class StrainInstrumentAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """The strain instruments as data (the Caregiver Strain Index ships). Changing the questions of an
    instrument already used changes future screenings only: recorded screenings keep their answers (by
    each question's key), score and high-strain flag."""

    list_display = ["name", "key", "high_strain_from", "is_active", "screenings"]
    list_filter = ["is_active"]
    readonly_fields = ["screenings"]
    inlines = [StrainItemInline]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "name",
                    "key",
                    "introduction",
                    "attribution",
                    "high_strain_from",
                    "is_active",
                    "screenings",
                ],
                "description": _(
                    "Changing the questions of an instrument already used changes future screenings only: "
                    "recorded screenings keep their answers, score and high-strain flag. Keep a question's "
                    "key when you reword it, so earlier answers still show its text."
                ),
            },
        )
    ]

    @override
    def get_queryset(self, request: HttpRequest) -> QuerySet[StrainInstrument]:
        used = StrainScreening.objects.filter(instrument=OuterRef("pk")).values("instrument")
        count = Subquery(used.annotate(n=Count("pk")).values("n")[:1])
        instruments: QuerySet[StrainInstrument] = super().get_queryset(request)
        return instruments.annotate(screening_count=Coalesce(count, 0))

    @admin.display(description=_("screenings recorded"))
    def screenings(self, obj: StrainInstrument) -> int:
        return int(getattr(obj, "screening_count", 0) or 0)


@admin.register(SupportOffer)
class SupportOfferAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """The catalogue of support offers for relatives. An offer no longer offered is turned off ("offered
    now"), not deleted: its referrals keep it."""

    list_display = ["name", "kind", "organisation", "contact_name", "is_active"]
    list_filter = ["kind", "is_active"]
    list_select_related = ["organisation"]
    search_fields = ["name", "contact_name", "organisation__name"]
    fields = ["name", "kind", "organisation", "contact_name", "phone", "description", "is_active"]
