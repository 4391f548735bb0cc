"""Quality's forms (staff): a response entered on a person's behalf. Validation at the edge — the choices
offered, every question answered on the scale, an ISO date not in the future; the service checks again
(quality.services.response_record) and nothing is written when either refuses."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from pathways.forms import IsoDateInput, style_fields
from quality.choices import STAFF_SOURCES, Respondent, ResponseSource
from quality.models import Questionnaire, QuestionnaireItem
from relatives.models import Relative

ITEM_FIELD_PREFIX = "item_"
PATIENT = "patient"  # the respondent field's value for the patient (a relative's is their public id)


def _radios(field: forms.ChoiceField) -> forms.ChoiceField:
    field.widget.attrs["class"] = "form-radio"
    return field


class StaffResponseForm(forms.Form):
    """A questionnaire answered by phone, on paper or at a visit and entered by staff: who answered (the
    patient, or a relative the staff member may see the support record of), how, on which day, and one
    answer on the questionnaire's scale per question, in its order and worded in the active language."""

    questionnaire = forms.CharField(widget=forms.HiddenInput)
    respondent = forms.ChoiceField(label=_("Who answered"))
    source = forms.ChoiceField(
        label=_("How did they answer?"),
        choices=[(source.value, source.label) for source in STAFF_SOURCES],
        widget=forms.RadioSelect,
        error_messages={"required": _("Choose how the answers were given.")},
    )
    answered_on = forms.DateField(label=_("Answered on"), widget=IsoDateInput)

    def __init__(
        self,
        *args: Any,
        questionnaire: Questionnaire,
        relatives: list[Relative],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.chosen = questionnaire
        self.items: list[QuestionnaireItem] = sorted(
            questionnaire.items.all(), key=lambda item: item.position
        )
        self.relatives = {str(relative.public_id): relative for relative in relatives}
        choices: list[tuple[str, str]] = []
        if Respondent.PATIENT in questionnaire.respondents:
            choices.append((PATIENT, str(_("The patient"))))
        if Respondent.RELATIVE in questionnaire.respondents:
            choices += [
                (key, str(_("%(name)s (relative)") % {"name": relative.name}))
                for key, relative in self.relatives.items()
            ]
        self.fields["respondent"].choices = choices  # type: ignore[attr-defined]
        self.fields["questionnaire"].initial = questionnaire.key
        self.fields["answered_on"].initial = timezone.localdate()
        scale = [
            (str(option.value), f"{option.text} ({option.value})")
            for option in sorted(questionnaire.options.all(), key=lambda option: option.position)
        ]
        for number, item in enumerate(self.items, 1):
            self.fields[ITEM_FIELD_PREFIX + item.link_id] = _radios(
                forms.ChoiceField(
                    label=f"{number}. {item.text}",
                    choices=scale,
                    widget=forms.RadioSelect,
                    error_messages={"required": _("Choose an answer.")},
                )
            )
        source_field = self.fields["source"]
        assert isinstance(source_field, forms.ChoiceField)
        _radios(source_field)
        style_fields(self)

    def item_fields(self) -> list[forms.BoundField]:
        return [self[ITEM_FIELD_PREFIX + item.link_id] for item in self.items]

    def head_fields(self) -> list[forms.BoundField]:
        return [self["respondent"], self["source"], self["answered_on"]]

    def clean_questionnaire(self) -> str:
        key: str = self.cleaned_data["questionnaire"]
        if key != self.chosen.key:
            raise forms.ValidationError(_("The questionnaire changed. Choose it again."))
        return key

    def clean_answered_on(self) -> date:
        answered_on: date = self.cleaned_data["answered_on"]
        if answered_on > timezone.localdate():
            raise forms.ValidationError(_("The date cannot be in the future."))
        return answered_on

    def clean_source(self) -> ResponseSource:
        return ResponseSource(self.cleaned_data["source"])

    def relative(self) -> Relative | None:
        """The relative who answered (None: the patient), after is_valid."""
        return self.relatives.get(self.cleaned_data["respondent"])

    def answers(self) -> dict[str, int]:
        """{link id: the option's value}, after is_valid."""
        return {item.link_id: int(self.cleaned_data[ITEM_FIELD_PREFIX + item.link_id]) for item in self.items}


class VersionForm(forms.Form):
    """The version of the response the user saw (optimistic locking) for marking it entered in error."""

    version = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
