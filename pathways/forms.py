"""Forms at the edge: validate input before any service runs; errors are shown, nothing changes."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from pathways import extensions
from pathways.choices import (
    GOAL_TRANSITIONS,
    PLAN_OPEN_STATUSES,
    TASK_TRANSITIONS,
    GoalStatus,
    Sector,
    StayClass,
    TaskKind,
    TaskStatus,
    TransitionKind,
)
from pathways.cpr import cpr_parse, validate_cpr
from pathways.models import Goal, Organisation, PathwayPlan, Task, User


def style_fields(form: forms.Form) -> None:
    """Give each widget the design system's class (DKFDS form-input / form-select / form-checkbox)."""
    for field in form.fields.values():
        widget = field.widget
        if isinstance(widget, forms.CheckboxInput):
            widget.attrs.setdefault("class", "form-checkbox")
        elif isinstance(widget, forms.Select):
            widget.attrs.setdefault("class", "form-select")
        else:
            widget.attrs.setdefault("class", "form-input")


class IsoDateInput(forms.DateInput):
    """`<input type="date">` with its value in ISO 8601 (yyyy-mm-dd), whatever the page's language.

    Browsers accept only ISO dates in a date input and show the date in the user's own format. With the
    Danish format (29.11.2026) as value, the browser showed the field empty and posted it empty, so an
    unchanged save erased the task's dates. Django's date fields always accept ISO input too.
    """

    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs, format="%Y-%m-%d")


class MultilineField(forms.CharField):
    """Text from a textarea, stored with the line breaks it was written with.

    Browsers post a textarea's line breaks as CRLF; stored as "\n" and shown again, an unchanged save
    would turn every "\n" into "\r\n" and count as a change.
    """

    def __init__(self, *, rows: int = 3, **kwargs: Any) -> None:
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": rows}))
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> str:
        if isinstance(value, str):
            value = value.replace("\r\n", "\n").replace("\r", "\n")
        return str(super().to_python(value))


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
    what_matters = MultilineField(
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
    window_start = forms.DateField(label=_("From (optional)"), required=False, widget=IsoDateInput)
    due_date = forms.DateField(label=_("Due date"), required=False, widget=IsoDateInput)
    description = MultilineField(label=_("Description"), required=False, max_length=2000, rows=2)
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
        style_fields(self)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, due = data.get("window_start"), data.get("due_date")
        if start and not due:
            self.add_error("due_date", _("A task with a start date needs a due date."))
        elif start and due and start > due:
            self.add_error("window_start", _("The start date must not be after the due date."))
        return data


class TaskEditForm(VersionedForm, TaskCreateForm):
    """Everything about a task except its status (that has its own control and transitions)."""

    responsible_person = forms.ModelChoiceField(
        label=_("Responsible person (optional)"),
        queryset=User.objects.none(),
        required=False,
        to_field_name="public_id",
    )
    field_order = [
        "title",
        "kind",
        "responsible_organisation",
        "responsible_person",
        "window_start",
        "due_date",
        "description",
        "goal",
        "depends_on",
        "visible_to_patient",
    ]

    def __init__(self, *args: Any, plan: PathwayPlan, organisations: Any, task: Task, **kwargs: Any) -> None:
        super().__init__(*args, plan=plan, organisations=organisations, **kwargs)
        self.fields["depends_on"].queryset = plan.tasks.exclude(pk=task.pk)  # type: ignore[attr-defined]
        people = User.objects.filter(
            memberships__organisation__participations__plan=plan, memberships__ended_at__isnull=True
        )
        self.fields["responsible_person"].queryset = people.distinct().order_by(  # type: ignore[attr-defined]
            "first_name", "last_name"
        )
        self.fields["responsible_person"].label_from_instance = (  # type: ignore[attr-defined]
            lambda user: user.get_full_name() or user.username
        )
        self.order_fields(self.field_order)


class GoalForm(forms.Form):
    description = MultilineField(
        label=_("Goal"),
        help_text=_("What the patient wants to reach, in their words where possible."),
        max_length=1000,
        rows=2,
    )
    expected_result = forms.CharField(
        label=_("Expected result (optional)"), required=False, max_length=1000, widget=forms.TextInput()
    )
    target_date = forms.DateField(label=_("Target date (optional)"), required=False, widget=IsoDateInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        style_fields(self)


class GoalEditForm(VersionedForm, GoalForm):
    status = forms.ChoiceField(label=_("Status"), choices=GoalStatus.choices)

    def __init__(self, *args: Any, goal: Goal, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        allowed = {goal.status} | GOAL_TRANSITIONS[goal.status]
        field = self.fields["status"]
        field.choices = [(v, label) for v, label in GoalStatus.choices if v in allowed]  # type: ignore[attr-defined]
        field.widget.attrs["class"] = "form-select"


class CaseloadFilterForm(forms.Form):
    """The caseload's search, filters and sort (GET). Invalid values are ignored, never an error page."""

    SORTS = [
        ("name", _("Name")),
        ("overdue", _("Most overdue")),
        ("next", _("Next task")),
        ("changed", _("Last change")),
        ("age", _("Oldest first")),
    ]

    q = forms.CharField(label=_("Search by name"), required=False, max_length=100)
    sector = forms.ChoiceField(label=_("Sector taking part"), required=False)
    status = forms.ChoiceField(label=_("Plan status"), required=False)
    overdue = forms.BooleanField(label=_("Only with overdue tasks"), required=False)
    sort = forms.ChoiceField(label=_("Sort by"), required=False, choices=SORTS)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        everything = [("", _("All"))]
        self.fields["sector"].choices = everything + list(Sector.choices)  # type: ignore[attr-defined]
        self.fields["status"].choices = everything + [  # type: ignore[attr-defined]
            (s.value, s.label) for s in PLAN_OPEN_STATUSES
        ]
        # What the apps above add to the caseload (pathways.extensions): sort keys and yes/no filters.
        for extension in extensions.CASELOAD_EXTENSIONS:
            self.fields["sort"].choices += [  # type: ignore[attr-defined]
                (name, label) for name, (label, _order) in extension.sorts.items()
            ]
            for name, (label, _narrow) in extension.filters.items():
                self.fields[name] = forms.BooleanField(label=label, required=False)
        style_fields(self)

    def filters(self) -> dict[str, Any]:
        if not self.is_valid():
            return {}
        data = self.cleaned_data
        return {
            "query": data["q"].strip(),
            "sector": data["sector"],
            "status": data["status"],
            "overdue_only": data["overdue"],
            "sort": data["sort"] or "name",
            "flags": tuple(
                name
                for extension in extensions.CASELOAD_EXTENSIONS
                for name in extension.filters
                if data.get(name)
            ),
        }


class CprSearchForm(forms.Form):
    """A CPR search travels in a POST body, never in the URL, and is logged."""

    cpr = forms.CharField(label=_("CPR number"), max_length=11, validators=[validate_cpr])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["cpr"].widget.attrs.update(
            {"class": "form-input", "autocomplete": "off", "inputmode": "numeric"}
        )

    def clean_cpr(self) -> str:
        return cpr_parse(self.cleaned_data["cpr"]).number


class EmergencyAccessForm(CprSearchForm):
    """Break the glass: the CPR number, the reason in the clinician's words and a confirmation."""

    organisation = forms.ModelChoiceField(
        label=_("You act for"), queryset=Organisation.objects.none(), to_field_name="public_id"
    )

    reason = MultilineField(
        label=_("Why do you need to open this patient's plan now?"),
        help_text=_("Your reason is saved with your name and shown to the patient's coordinator."),
        min_length=15,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3, "class": "form-input"}),
    )
    confirm = forms.BooleanField(
        label=_(
            "I need the information for the patient's current treatment (sundhedsloven § 42 a), and I know "
            "the look-up is logged and checked."
        ),
        widget=forms.CheckboxInput(attrs={"class": "form-checkbox"}),
    )

    def __init__(self, *args: Any, organisations: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["organisation"]
        field.queryset = organisations  # type: ignore[attr-defined]
        field.widget.attrs["class"] = "form-select"
        first = organisations.first()
        if first is not None:
            field.initial = first.public_id


# --- templates ---


class TemplateUpdateForm(forms.Form):
    """Update the plan from its template: the version the preview showed (a newer one is refused)."""

    version = forms.IntegerField(min_value=1, widget=forms.HiddenInput)


# --- stays ---

# The events a hospital enters by hand; an admission is acute ambulant or admitted (the kind of stay).
ADMISSION = "admission"
STAY_EVENTS = [
    (ADMISSION, _("Admission")),
    (TransitionKind.LEAVE_START.value, TransitionKind.LEAVE_START.label),
    (TransitionKind.LEAVE_END.value, TransitionKind.LEAVE_END.label),
    (TransitionKind.DISCHARGE.value, TransitionKind.DISCHARGE.label),
    (TransitionKind.DEATH.value, TransitionKind.DEATH.label),
]


class StayMomentForm(forms.Form):
    """When a hospital event happened: a date and a time of day in Danish time."""

    day = forms.DateField(label=_("Date"), widget=IsoDateInput)
    time = forms.TimeField(label=_("Time"), widget=forms.TimeInput(format="%H:%M", attrs={"type": "time"}))
    note = forms.CharField(label=_("Note (optional)"), required=False, max_length=500)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        style_fields(self)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        day, time = data.get("day"), data.get("time")
        if day is not None and time is not None:
            data["occurred_at"] = datetime.combine(day, time, tzinfo=ZoneInfo(settings.TIME_ZONE))
        return data


class StayEventForm(StayMomentForm):
    """A hospital event entered on the plan page by a hospital taking part in the plan."""

    event = forms.ChoiceField(label=_("Event"), choices=STAY_EVENTS)
    stay_class = forms.ChoiceField(
        label=_("Kind of stay (for an admission)"),
        choices=[("", "—"), *StayClass.choices],
        required=False,
    )
    hospital = forms.ModelChoiceField(
        label=_("Hospital"), queryset=Organisation.objects.none(), to_field_name="public_id"
    )
    field_order = ["event", "stay_class", "day", "time", "hospital", "note"]

    def __init__(self, *args: Any, organisations: list[Organisation], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["hospital"]
        field.queryset = Organisation.objects.filter(  # type: ignore[attr-defined]
            pk__in=[organisation.pk for organisation in organisations]
        ).order_by("name")
        if organisations:
            field.initial = organisations[0].public_id
        self.order_fields(self.field_order)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        event = data.get("event")
        if event == ADMISSION:
            if not data.get("stay_class"):
                self.add_error("stay_class", _("Choose the kind of stay for an admission."))
            else:
                acute = data["stay_class"] == StayClass.ACUTE_AMBULANT
                data["kind"] = TransitionKind.ADMISSION_ACUTE if acute else TransitionKind.ADMISSION
        elif event:
            data["kind"] = TransitionKind(event)
        return data


class StayEventCancelForm(forms.Form):
    note = forms.CharField(label=_("Why (optional)"), required=False, max_length=500)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        style_fields(self)


# --- ingest ---
