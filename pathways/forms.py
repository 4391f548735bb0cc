"""Forms at the edge: validate input before any service runs; errors are shown, nothing changes."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from pathways.choices import TASK_TRANSITIONS, TaskKind, TaskStatus
from pathways.models import Goal, Organisation, PathwayPlan, Task


class VersionedForm(forms.Form):
    """Carries the version the user saw, for optimistic locking."""

    version = forms.IntegerField(min_value=1, widget=forms.HiddenInput)


class TaskStatusForm(VersionedForm):
    status = forms.ChoiceField(label=_("New status"), choices=TaskStatus.choices)

    def __init__(self, *args: Any, task: Task, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        allowed = TASK_TRANSITIONS[task.status]
        self.fields["status"].choices = [  # type: ignore[attr-defined]
            (v, label) for v, label in TaskStatus.choices if v in allowed
        ]


class WhatMattersForm(VersionedForm):
    what_matters = forms.CharField(
        label=_("What matters to you?"),
        help_text=_("Write it in the patient's own words."),
        widget=forms.Textarea(attrs={"rows": 4, "class": "form-input"}),
        max_length=4000,
        required=False,
    )


class TaskCreateForm(forms.Form):
    title = forms.CharField(label=_("Task"), max_length=200)
    kind = forms.ChoiceField(label=_("Kind"), choices=TaskKind.choices, initial=TaskKind.OTHER)
    responsible_organisation = forms.ModelChoiceField(
        label=_("Responsible organisation"), queryset=Organisation.objects.none(), to_field_name="public_id"
    )
    window_start = forms.DateField(
        label=_("From (optional)"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    due_date = forms.DateField(
        label=_("Due date"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    description = forms.CharField(
        label=_("Description"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )
    goal = forms.ModelChoiceField(
        label=_("Goal"), queryset=Goal.objects.none(), required=False, to_field_name="public_id"
    )
    depends_on = forms.ModelChoiceField(
        label=_("Depends on"), queryset=Task.objects.none(), required=False, to_field_name="public_id"
    )
    visible_to_patient = forms.BooleanField(
        label=_("The patient can see this task"), required=False, initial=True
    )

    def __init__(self, *args: Any, plan: PathwayPlan, organisations: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["responsible_organisation"].queryset = organisations  # type: ignore[attr-defined]
        self.fields["goal"].queryset = plan.goals.all()  # type: ignore[attr-defined]
        self.fields["depends_on"].queryset = plan.tasks.all()  # type: ignore[attr-defined]
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput):
                widget.attrs.setdefault("class", "form-checkbox")
            elif isinstance(widget, forms.Select):
                widget.attrs.setdefault("class", "form-select")
            else:
                widget.attrs.setdefault("class", "form-input")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, due = data.get("window_start"), data.get("due_date")
        if start and not due:
            self.add_error("due_date", _("A task with a start date needs a due date."))
        elif start and due and start > due:
            self.add_error("window_start", _("The start date must not be after the due date."))
        return data
