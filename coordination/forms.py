"""Forms of the coordination pages: they validate at the edge and hand clean values to the services."""

from __future__ import annotations

import calendar
from datetime import date
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from coordination.choices import DisputeQuestion, MessagePriority, NeedCriterion, NeedOutcome
from coordination.services import suggested_need_outcome
from pathways.forms import IsoDateInput, MultilineField, VersionedForm, style_fields
from pathways.models import Organisation, PathwayPlan, Task, User
from pathways.numbers import ascii_digits, validate_phone

# --- Need assessment and coordinator handover ----------------------------------------------------------


def months_after(day: date, months: int) -> date:
    """The same day `months` later (the month's last day where it is shorter)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return day.replace(year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1]))


NEED_REVIEW_DEFAULT_MONTHS = 6
YES_NO = [("yes", _("Yes")), ("no", _("No"))]
OVERRIDE_NEEDS_REASON = _("Give the reason when your decision differs from what the criteria suggest.")


class NeedAssessmentForm(forms.Form):
    """The need for a coordinator, assessed with the patient against the criteria (coordination.choices)."""

    organisation = forms.ModelChoiceField(
        label=_("Assessed for"), queryset=Organisation.objects.none(), to_field_name="public_id"
    )
    assessed_on = forms.DateField(label=_("Assessed on"), widget=IsoDateInput)
    patient_present = forms.ChoiceField(
        label=_("Did the patient take part?"), choices=YES_NO, widget=forms.RadioSelect
    )
    criteria = forms.MultipleChoiceField(
        label=_("Criteria met"),
        choices=NeedCriterion.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    unplanned_admissions_12m = forms.IntegerField(
        label=_("Unplanned admissions in the last 12 months"), min_value=0, max_value=99
    )
    outcome = forms.ChoiceField(label=_("Outcome"), choices=NeedOutcome.choices, widget=forms.RadioSelect)
    note = MultilineField(
        label=_("Note"),
        help_text=_("Required when your decision differs from what the criteria suggest."),
        required=False,
        max_length=2000,
        rows=3,
    )
    review_date = forms.DateField(label=_("Reassess by"), widget=IsoDateInput)

    def __init__(self, *args: Any, organisations: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["organisation"].queryset = organisations  # type: ignore[attr-defined]
        today = timezone.localdate()
        self.fields["assessed_on"].initial = today
        self.fields["review_date"].initial = months_after(today, NEED_REVIEW_DEFAULT_MONTHS)
        self.fields["unplanned_admissions_12m"].initial = 0
        self.fields["patient_present"].initial = "yes"
        first = organisations.first()
        if first is not None:
            self.fields["organisation"].initial = first.public_id
        style_fields(self)
        for name in ("criteria", "patient_present", "outcome"):
            self.fields[name].widget.attrs["class"] = "form-checkbox" if name == "criteria" else "form-radio"

    def suggestion(self) -> NeedOutcome:
        """What the criteria ticked (or, before posting, none) suggest."""
        if self.is_bound:
            ticked = self.data.getlist("criteria") if hasattr(self.data, "getlist") else []
            return suggested_need_outcome(v for v in ticked if v in NeedCriterion.values)
        return suggested_need_outcome([])

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        assessed_on, review_date = data.get("assessed_on"), data.get("review_date")
        if assessed_on and assessed_on > timezone.localdate():
            self.add_error("assessed_on", _("The assessment date cannot be in the future."))
        if assessed_on and review_date and review_date <= assessed_on:
            self.add_error("review_date", _("The review date must be after the assessment date."))
        outcome, criteria = data.get("outcome"), data.get("criteria")
        overridden = outcome and criteria is not None and outcome != suggested_need_outcome(criteria)
        if overridden and not data.get("note", "").strip():
            self.add_error("note", OVERRIDE_NEEDS_REASON)
        if "patient_present" in data:
            data["patient_present"] = data["patient_present"] == "yes"
        return data


class CoordinatorHandoverForm(VersionedForm):
    """Hand the plan's coordination over: who coordinates, for which organisation, who stands in."""

    coordinator = forms.ModelChoiceField(
        label=_("Coordinator"), queryset=User.objects.none(), to_field_name="public_id"
    )
    organisation = forms.ModelChoiceField(
        label=_("Coordinates for"), queryset=Organisation.objects.none(), to_field_name="public_id"
    )
    substitute = forms.ModelChoiceField(
        label=_("Substitute (optional)"),
        queryset=User.objects.none(),
        required=False,
        to_field_name="public_id",
    )
    phone = forms.CharField(
        label=_("Phone for the patient"),
        help_text=_("Leave empty to use the coordinator's own number."),
        required=False,
        max_length=30,
        validators=[validate_phone],
    )
    note = MultilineField(label=_("Handover note"), required=False, max_length=2000, rows=3)

    def __init__(self, *args: Any, candidates: Any, organisations: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("coordinator", "substitute"):
            field = self.fields[name]
            field.queryset = candidates  # type: ignore[attr-defined]
            field.label_from_instance = _person_label  # type: ignore[attr-defined]
        self.fields["organisation"].queryset = organisations  # type: ignore[attr-defined]
        style_fields(self)

    def clean_phone(self) -> str:
        return ascii_digits(self.cleaned_data.get("phone", "")).strip()

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        coordinator, substitute = data.get("coordinator"), data.get("substitute")
        if coordinator is not None and substitute is not None and coordinator.pk == substitute.pk:
            self.add_error("substitute", _("The substitute must be someone other than the coordinator."))
        return data


def _person_label(user: User) -> str:
    return f"{user.get_full_name() or user.username}" + (f" ({user.title})" if user.title else "")


# --- Responsibility disputes ---------------------------------------------------------------------------


class _TaskChoiceField(forms.ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.title} ({obj.responsible_organisation.name})"


class DisputeRaiseForm(forms.Form):
    """Mark a task's responsibility as disputed. Organisations are chosen among those taking part in the
    plan, by public id; the service checks the rules again."""

    task = _TaskChoiceField(label=_("Task"), queryset=Task.objects.none(), to_field_name="public_id")
    parties = forms.ModelMultipleChoiceField(
        label=_("Organisations that disagree"),
        help_text=_("Choose at least two."),
        queryset=Organisation.objects.none(),
        to_field_name="public_id",
        widget=forms.CheckboxSelectMultiple(attrs={"class": "form-checkbox"}),
    )
    question = forms.ChoiceField(label=_("What is disputed"), choices=DisputeQuestion.choices)
    reason = MultilineField(label=_("Why"), max_length=2000, rows=4)
    interim_organisation = forms.ModelChoiceField(
        label=_("Who acts in the meantime"),
        help_text=_("So the patient is not left waiting while the dispute is settled."),
        queryset=Organisation.objects.none(),
        to_field_name="public_id",
    )
    interim_note = MultilineField(
        label=_("What they do in the meantime (optional)"), max_length=1000, required=False, rows=2
    )
    organisation = forms.ModelChoiceField(
        label=_("Raised for"), queryset=Organisation.objects.none(), to_field_name="public_id"
    )

    def __init__(self, *args: Any, tasks: Any, raise_for: Any, participating: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["task"].queryset = tasks  # type: ignore[attr-defined]
        self.fields["parties"].queryset = participating  # type: ignore[attr-defined]
        self.fields["interim_organisation"].queryset = participating  # type: ignore[attr-defined]
        self.fields["organisation"].queryset = raise_for  # type: ignore[attr-defined]
        style_fields(self)

    def clean_parties(self) -> Any:
        parties = self.cleaned_data["parties"]
        if len(parties) < 2:
            raise forms.ValidationError(_("Choose at least two organisations that disagree."))
        return parties


class DisputeResolveForm(VersionedForm):
    """The coordinator's decision, and the organisation responsible for the task from now on."""

    decision = MultilineField(label=_("Decision"), max_length=2000, rows=4)
    responsible_organisation = forms.ModelChoiceField(
        label=_("Responsible for the task from now on"),
        queryset=Organisation.objects.none(),
        to_field_name="public_id",
    )

    def __init__(self, *args: Any, participating: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["responsible_organisation"].queryset = participating  # type: ignore[attr-defined]
        style_fields(self)


# --- Messages between sectors ----------------------------------------------------------------------------


class MessageForm(forms.Form):
    """A message to organisations taking part in the plan (a reply in a thread). Organisations are chosen
    by public id among those offered: any other id is "not one of the choices", and nothing is written."""

    sender_organisation = forms.ModelChoiceField(
        label=_("From"), queryset=Organisation.objects.none(), to_field_name="public_id"
    )
    recipients = forms.ModelMultipleChoiceField(
        label=_("To"),
        queryset=Organisation.objects.none(),
        to_field_name="public_id",
        widget=forms.CheckboxSelectMultiple(attrs={"class": "form-checkbox"}),
        error_messages={"required": _("Choose at least one organisation to write to.")},
    )
    priority = forms.ChoiceField(
        label=_("Priority"),
        choices=MessagePriority.choices,
        initial=MessagePriority.ROUTINE,
        help_text=_("Urgent only when it cannot wait until the next working day. Call in an emergency."),
    )
    body = MultilineField(
        label=_("Message"),
        max_length=4000,
        rows=8,
        help_text=_("A message cannot be changed once sent. To correct it, send a new message."),
        error_messages={"required": _("Write the message.")},
    )

    def __init__(self, *args: Any, senders: Any, recipients: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        sender_field: Any = self.fields["sender_organisation"]
        sender_field.queryset = senders
        only = list(senders[:2])
        if len(only) == 1:
            # One organisation to write for: chosen already, no empty choice.
            sender_field.empty_label = None
            sender_field.initial = only[0]
        recipients_field: Any = self.fields["recipients"]
        recipients_field.queryset = recipients
        style_fields(self)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        sender, recipients = data.get("sender_organisation"), data.get("recipients")
        if sender is not None and recipients and {o.pk for o in recipients} == {sender.pk}:
            self.add_error("recipients", _("Choose an organisation other than your own to write to."))
        return data


class ThreadForm(MessageForm):
    """A new conversation on the plan, optionally about one of its tasks, with its first message."""

    subject = forms.CharField(
        label=_("Subject"), max_length=200, error_messages={"required": _("Give the message a subject.")}
    )
    task = forms.ModelChoiceField(
        label=_("About the task (optional)"),
        queryset=Task.objects.none(),
        required=False,
        to_field_name="public_id",
    )
    field_order = ["sender_organisation", "recipients", "subject", "task", "priority", "body"]

    def __init__(self, *args: Any, plan: PathwayPlan, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        task_field: Any = self.fields["task"]
        task_field.queryset = plan.tasks.order_by("due_date", "id")
