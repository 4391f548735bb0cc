"""Quality in the admin. The questionnaires (items, answer scale, score bands, flag rules), their schedules
and the indicators are data an administrator keeps here. Questionnaires sent and responses are read-only
(written by the schedule job, the portal and the plan page through quality.services), and every list and
opened row is logged as an administrative read of patient data. The social background is view-only, for
holders of its own permission (quality.view_socialbackground), and never shows whose it is: a pseudonym
stands in for the patient; each read is logged."""

from __future__ import annotations

import itertools
from typing import Any, cast

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _
from typing_extensions import override

from pathways.admin import PatientDataAdmin, ReadOnlyAdmin
from pathways.audit import PatientRead, access_log_write
from pathways.choices import AccessAction, AccessPurpose, Sector, TaskKind
from pathways.models import User
from quality.choices import Exclusion
from quality.models import (
    AnswerOption,
    Indicator,
    Questionnaire,
    QuestionnaireItem,
    QuestionnaireRequest,
    QuestionnaireResponse,
    QuestionnaireSchedule,
    ScoreBand,
    SocialBackground,
)

# --- questionnaires as data ---


def _kept(formset: forms.BaseInlineFormSet) -> list[forms.Form]:  # type: ignore[type-arg]
    return [
        form for form in formset.forms if form.cleaned_data and not form.cleaned_data.get("DELETE", False)
    ]


class ItemFormSet(forms.BaseInlineFormSet):  # type: ignore[type-arg]
    def clean(self) -> None:
        super().clean()
        if not _kept(self):
            raise ValidationError(_("A questionnaire needs at least one question."))


class OptionFormSet(forms.BaseInlineFormSet):  # type: ignore[type-arg]
    def clean(self) -> None:
        super().clean()
        if len(_kept(self)) < 2:
            raise ValidationError(_("The answer scale needs at least two answers."))


class BandFormSet(forms.BaseInlineFormSet):  # type: ignore[type-arg]
    """Bands do not overlap: a score falls in one band at most."""

    def clean(self) -> None:
        super().clean()
        ranges = sorted(
            (form.cleaned_data["lowest"], form.cleaned_data["highest"])
            for form in _kept(self)
            if form.cleaned_data.get("lowest") is not None and form.cleaned_data.get("highest") is not None
        )
        for (_low, high), (next_low, _next_high) in itertools.pairwise(ranges):
            if next_low <= high:
                raise ValidationError(_("The score bands overlap: a score must fall in one band only."))


class ItemInline(admin.TabularInline):  # type: ignore[type-arg]
    model = QuestionnaireItem
    formset = ItemFormSet
    fields = ["position", "link_id", "text_da", "text_en"]
    ordering = ["position"]
    extra = 0


class OptionInline(admin.TabularInline):  # type: ignore[type-arg]
    model = AnswerOption
    formset = OptionFormSet
    fields = ["position", "value", "text_da", "text_en"]
    ordering = ["position"]
    extra = 0


class BandInline(admin.TabularInline):  # type: ignore[type-arg]
    model = ScoreBand
    formset = BandFormSet
    fields = ["lowest", "highest", "label_da", "label_en", "tone"]
    ordering = ["lowest"]
    extra = 0


@admin.register(Questionnaire)
class QuestionnaireAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """An instrument as data: its questions, one answer scale for them all (each answer's value is its
    score), the bands and when a response flags the plan for the coordinator. Responses keep the answers
    and score they were given with: a change here changes future responses only."""

    list_display = ["name", "key", "version", "status", "score_multiplier"]
    list_filter = ["status"]
    search_fields = ["name", "key"]
    inlines = [ItemInline, OptionInline, BandInline]
    fieldsets = [
        (None, {"fields": ["name", "key", "version", "status", "respondents"]}),
        (
            _("What the person sees"),
            {"fields": ["title_da", "title_en", "introduction_da", "introduction_en", "attribution"]},
        ),
        (_("Code"), {"fields": ["code_system", "code"]}),
        (
            _("Score and flag"),
            {
                "fields": [
                    "score_multiplier",
                    "higher_is_better",
                    "flag_score_at_most",
                    "flag_score_at_least",
                    "flag_item_at_most",
                ],
                "description": _(
                    "Score = the sum of the answers × the multiplier. A response flags the plan for the "
                    "coordinator when its score is at or below / at or above the limits, or any answer is at "
                    "or below the answer limit. Responses already given keep their score."
                ),
            },
        ),
    ]


@admin.register(QuestionnaireSchedule)
class QuestionnaireScheduleAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """When a questionnaire is sent (the hourly job reads these): per pathway template or for every plan,
    at the plan's start, after a discharge home, or every few months; open for its days to answer, with
    reminders. Turn a schedule off ("in use") rather than delete it."""

    list_display = [
        "questionnaire",
        "template",
        "respondent",
        "milestone",
        "offset_days",
        "every_months",
        "window_days",
        "reminder_days",
        "is_active",
    ]
    list_filter = ["questionnaire", "respondent", "milestone", "is_active"]
    list_select_related = ["questionnaire", "template"]


# --- questionnaires sent and answered (read-only, logged) ---


@admin.register(QuestionnaireRequest)
class QuestionnaireRequestAdmin(ReadOnlyAdmin, PatientDataAdmin):
    """Questionnaires sent, read-only (the schedule job and the plan page send them); logged reads."""

    list_display = ["opens_on", "questionnaire", "plan", "occurrence", "expires_on", "state"]
    list_filter = ["state", "questionnaire", "opens_on"]
    list_select_related = ["questionnaire", "plan__patient"]
    date_hierarchy = "opens_on"


@admin.register(QuestionnaireResponse)
class QuestionnaireResponseAdmin(ReadOnlyAdmin, PatientDataAdmin):
    """Responses, read-only (answered in the portal or entered on the plan page); logged reads."""

    list_display = [
        "answered_on",
        "questionnaire",
        "plan",
        "score",
        "band_label",
        "flagged",
        "source",
        "status",
    ]
    list_filter = ["questionnaire", "flagged", "source", "status", "answered_on"]
    list_select_related = ["questionnaire", "plan__patient"]
    date_hierarchy = "answered_on"


# --- indicators ---


class IndicatorForm(forms.ModelForm):  # type: ignore[type-arg]
    """The rules' parameters checked here, so the nightly refresh never meets one it cannot read: a JSON
    object whose hours and days are whole numbers, whose task kind and sector are known, and whose
    questionnaire exists; exclusions from the list."""

    class Meta:
        model = Indicator
        fields = [
            "key", "position", "name_da", "name_en", "description_da", "description_en", "measure",
            "population", "outcome", "exclusions", "parameters", "standard", "direction", "period",
            "reporting_unit", "is_active",
        ]  # fmt: skip

    def clean_parameters(self) -> dict[str, Any]:
        value = self.cleaned_data.get("parameters")
        if value in (None, ""):
            return {}
        if not isinstance(value, dict):
            raise ValidationError(_('Write the parameters as a JSON object, e.g. {"hours": 24}.'))
        for name in ("hours", "days"):
            if name in value and (
                not isinstance(value[name], int) or isinstance(value[name], bool) or value[name] < 0
            ):
                raise ValidationError(_("%(name)s must be a whole number of 0 or more.") % {"name": name})
        kinds = {"task_kind": TaskKind.values, "needs_task_kind": TaskKind.values, "sector": Sector.values}
        for name, allowed in kinds.items():
            if name in value and value[name] not in allowed:
                raise ValidationError(_("%(name)s is not one of the known values.") % {"name": name})
        if "questionnaire" in value and not Questionnaire.objects.filter(key=value["questionnaire"]).exists():
            raise ValidationError(
                _("There is no questionnaire with the key %(key)s.") % {"key": value["questionnaire"]}
            )
        return value

    def clean_exclusions(self) -> list[str]:
        value = self.cleaned_data.get("exclusions") or []
        unknown = [item for item in value if item not in Exclusion.values]
        if unknown:
            raise ValidationError(
                _("Unknown exclusions: %(unknown)s. Known: %(known)s.")
                % {"unknown": ", ".join(unknown), "known": ", ".join(Exclusion.values)}
            )
        return list(value)


@admin.register(Indicator)
class IndicatorAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """The indicators as data (denominator, numerator, exclusions, standard, period); the summary refresh
    turns them into numbers."""

    form = IndicatorForm

    list_display = [
        "name_da",
        "key",
        "measure",
        "standard",
        "direction",
        "period",
        "reporting_unit",
        "is_active",
    ]
    list_filter = ["measure", "population", "is_active"]
    search_fields = ["name_da", "name_en", "key"]


# --- the protected social background ---


def pseudonym(patient_id: int) -> str:
    """A stable reference to a patient that does not say who they are (keyed with the site's secret)."""
    return salted_hmac("quality.socialbackground", str(patient_id)).hexdigest()[:12]


@admin.register(SocialBackground)
class SocialBackgroundAdmin(PatientDataAdmin, ReadOnlyAdmin):
    """The social background, view-only for holders of quality.view_socialbackground (it comes from a
    linkage, not from here). No name, no CPR number, no link to the patient: a pseudonym only. Each list
    and opened row is logged as an administrative read of the patient's data."""

    list_display = ["reference", "education", "employment", "income", "legal_basis", "recorded_at"]
    list_filter = ["legal_basis"]
    fields = ["reference", "education", "employment", "income", "legal_basis", "source", "recorded_at"]
    readonly_fields = [
        "reference",
        "education",
        "employment",
        "income",
        "legal_basis",
        "source",
        "recorded_at",
    ]
    show_full_result_count = False

    @override
    def get_queryset(self, request: HttpRequest) -> QuerySet[SocialBackground]:
        return super().get_queryset(request).order_by("-recorded_at", "-id")

    @override
    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Its own permission only: the generic "view everything" of an administrator does not reach it.
        user = request.user
        return bool(user.is_active and user.is_staff and user.has_perm("quality.view_socialbackground"))

    @admin.display(description=_("reference"))
    def reference(self, obj: SocialBackground) -> str:
        return pseudonym(obj.patient_id)

    @override
    def _log(self, request: HttpRequest, objects: list[Any], action: AccessAction) -> None:
        rows = cast(list[SocialBackground], objects)
        access_log_write(
            actor=cast(User, request.user),
            reads=[PatientRead(patient_id=row.patient_id) for row in rows],
            action=action,
            purpose=AccessPurpose.ADMINISTRATION,
        )
