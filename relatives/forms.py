"""Relatives' forms: validation at the edge; the services check again and write."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from pathways.forms import IsoDateInput, MultilineField, VersionedForm, style_fields
from pathways.models import Membership, Organisation, User
from pathways.numbers import ascii_digits, validate_phone
from relatives import services
from relatives.choices import (
    REFERRAL_OPEN_STATUSES,
    SEEING_SCOPES,
    CapacityLoss,
    ChecklistStatus,
    ConsentDecider,
    ConsentMethod,
    ConsentScope,
    ReferralStatus,
    Relation,
    RelativeChannel,
    RepresentativeBasis,
)
from relatives.models import Relative, StrainItem, SupportOffer, SupportReferral

# --- consent ---

# The ways staff record a decision (the portal records its own, issue 14).
STAFF_METHODS = [(v, label) for v, label in ConsentMethod.choices if v != ConsentMethod.PORTAL]
COERCION_UNCHECKED = _("Confirm that you have checked the patient is not pressured into this.")


def _organisation_field(form: forms.Form, organisations: Any) -> None:
    """The organisation the user records for: a choice where they act for more than one in the plan,
    else given (hidden)."""
    field = form.fields["organisation"]
    field.queryset = organisations  # type: ignore[attr-defined]
    choices = list(organisations[:2])
    if choices:
        field.initial = choices[0].public_id
    if len(choices) < 2:
        field.widget = forms.HiddenInput()


class RelativeForm(forms.Form):
    """A relative on the plan: who they are, how to reach them, whether a child or the closest relative."""

    organisation = forms.ModelChoiceField(
        label=_("Added for"), queryset=Organisation.objects.none(), to_field_name="public_id", required=False
    )
    name = forms.CharField(label=_("Name"), max_length=200)
    relation = forms.ChoiceField(label=_("Relation to the patient"), choices=Relation.choices)
    relation_detail = forms.CharField(
        label=_("Relation in own words (optional)"),
        help_text=_("For example: eldest daughter."),
        required=False,
        max_length=100,
    )
    phone = forms.CharField(label=_("Mobile or phone (optional)"), required=False, max_length=30)
    email = forms.EmailField(
        label=_("E-mail (optional)"),
        required=False,
        max_length=254,
        error_messages={"invalid": _("Write a whole e-mail address, e.g. name@example.dk.")},
    )
    address = forms.CharField(label=_("Postal address (optional)"), required=False, max_length=300)
    preferred_channel = forms.ChoiceField(
        label=_("How they want to hear from us"),
        choices=RelativeChannel.choices,
        initial=RelativeChannel.SMS,
        widget=forms.RadioSelect,
        help_text=_("A child under 18 gets no messages of their own."),
    )
    language = forms.CharField(
        label=_("Language"),
        max_length=8,
        initial="da",
        help_text=_("A short code: da, en, ar, tr … Messages are in Danish or English."),
    )
    is_child = forms.BooleanField(label=_("Child under 18"), required=False)
    child_age = forms.IntegerField(
        label=_("Age (for a child)"),
        required=False,
        min_value=0,
        max_value=17,
        error_messages={
            "min_value": _("A child relative is 0 to 17 years old."),
            "max_value": _("A child relative is 0 to 17 years old."),
        },
    )
    is_closest = forms.BooleanField(label=_("The patient's closest relative"), required=False)
    note = MultilineField(label=_("Note (optional)"), required=False, max_length=2000, rows=2)

    def __init__(self, *args: Any, organisations: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if organisations is None:
            del self.fields["organisation"]  # the relative was added for an organisation already
        else:
            _organisation_field(self, organisations)
        style_fields(self)
        self.fields["preferred_channel"].widget.attrs["class"] = "form-radio"

    def clean_phone(self) -> str:
        phone = ascii_digits(self.cleaned_data["phone"]).strip()
        validate_phone(phone)
        return phone

    def clean_language(self) -> str:
        language = str(self.cleaned_data["language"]).strip().lower()
        if not services.LANGUAGE_CODE.match(language):
            raise forms.ValidationError(_("Write the language as a short code, e.g. da, en, ar or tr."))
        return language

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        is_child = data.get("is_child", False)
        if not is_child and data.get("child_age") is not None:
            self.add_error("child_age", _("Give an age only for a child under 18."))
        channel = data.get("preferred_channel")
        if not is_child and channel in services.CHANNEL_NEEDS:
            needed, message = services.CHANNEL_NEEDS[RelativeChannel(channel)]
            if needed not in self.errors and not data.get(needed):
                self.add_error("preferred_channel", message)
        return data


class RelativeEditForm(VersionedForm, RelativeForm):
    """A relative's details changed (the version they saw, for optimistic locking)."""


class ConsentForm(forms.Form):
    """The patient's decision about a relative: whether they are involved and what they may see, how it
    was given, checked for pressure; or, for a patient who cannot consent, who decided for them, on what
    basis and why (REPRESENTATIVE_FIELDS, shown as a fieldset of their own)."""

    REPRESENTATIVE_FIELDS = ("representative_name", "representative_basis", "capacity_loss", "capacity_note")

    # The decision the form was opened on ("" for none): another decision recorded meanwhile is a conflict.
    expected_decision = forms.CharField(required=False, widget=forms.HiddenInput)
    organisation = forms.ModelChoiceField(
        label=_("Recorded for"),
        queryset=Organisation.objects.none(),
        to_field_name="public_id",
        required=False,
    )
    scope = forms.ChoiceField(
        label=_("What may the relative see?"), choices=ConsentScope.choices, widget=forms.RadioSelect
    )
    method = forms.ChoiceField(
        label=_("How was the decision given?"),
        choices=STAFF_METHODS,
        initial=ConsentMethod.SPOKEN,
        widget=forms.RadioSelect,
    )
    coercion_checked = forms.BooleanField(
        label=_("I have checked that the patient is not pressured into this"),
        help_text=_(
            "Needed when the relative is involved. Ask the patient on their own, if you can, whether "
            "they want this."
        ),
        required=False,
    )
    coercion_note = MultilineField(
        label=_("About the check (optional)"), required=False, max_length=1000, rows=2
    )
    decided_by = forms.ChoiceField(
        label=_("Who decided?"),
        choices=ConsentDecider.choices,
        initial=ConsentDecider.PATIENT,
        widget=forms.RadioSelect,
    )
    representative_name = forms.CharField(
        label=_("Name of the person acting for the patient"), required=False, max_length=200
    )
    representative_basis = forms.ChoiceField(
        label=_("Legal basis"),
        choices=[("", "---------"), *RepresentativeBasis.choices],
        required=False,
    )
    capacity_loss = forms.ChoiceField(
        label=_("Is the loss of capacity temporary or lasting?"),
        choices=CapacityLoss.choices,
        required=False,
        widget=forms.RadioSelect,
    )
    capacity_note = MultilineField(
        label=_("Why the patient cannot decide"), required=False, max_length=1000, rows=2
    )
    valid_from = forms.DateField(label=_("Valid from"), widget=IsoDateInput)
    valid_until = forms.DateField(
        label=_("Valid until (optional)"),
        help_text=_("Required when the patient's loss of capacity is temporary."),
        required=False,
        widget=IsoDateInput,
    )
    note = MultilineField(label=_("Note (optional)"), required=False, max_length=2000, rows=2)

    def __init__(self, *args: Any, relative: Relative, organisations: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.relative = relative
        _organisation_field(self, organisations)
        self.fields["valid_from"].initial = timezone.localdate()
        style_fields(self)
        for name in ("scope", "method", "decided_by", "capacity_loss"):
            self.fields[name].widget.attrs["class"] = "form-radio"

    def main_fields(self) -> list[forms.BoundField]:
        return [f for f in self.visible_fields() if f.name not in self.REPRESENTATIVE_FIELDS]

    def representative_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.REPRESENTATIVE_FIELDS]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        scope = data.get("scope")
        if scope in SEEING_SCOPES and self.relative.is_child:
            self.add_error(
                "scope",
                _(
                    "A child under 18 gets no access of their own. Choose 'Contact person only' or "
                    "'Not involved'."
                ),
            )
        elif scope and scope != ConsentScope.NONE and not data.get("coercion_checked"):
            self.add_error("coercion_checked", COERCION_UNCHECKED)
        if data.get("decided_by") == ConsentDecider.REPRESENTATIVE:
            required = {
                "representative_name": _("Write the name of the person acting for the patient."),
                "representative_basis": _("Choose the legal basis they act on."),
                "capacity_loss": _("Say whether the patient's loss of capacity is temporary or lasting."),
                "capacity_note": _("Write why the patient cannot decide for themselves."),
            }
            for name, message in required.items():
                if name not in self.errors and not str(data.get(name) or "").strip():
                    self.add_error(name, message)
            temporary = data.get("capacity_loss") == CapacityLoss.TEMPORARY
            if temporary and not data.get("valid_until") and "valid_until" not in self.errors:
                self.add_error(
                    "valid_until",
                    _("The patient may be able to decide again: give the date this decision ends."),
                )
        valid_from, valid_until = data.get("valid_from"), data.get("valid_until")
        if valid_from and valid_until and valid_until < valid_from and "valid_until" not in self.errors:
            self.add_error("valid_until", _("The end date cannot be before the start date."))
        return data


class RevokeForm(forms.Form):
    """The patient withdraws a relative's consent: how they said so, and a confirmation (it takes effect
    at once)."""

    method = forms.ChoiceField(
        label=_("How was it withdrawn?"),
        choices=STAFF_METHODS,
        initial=ConsentMethod.SPOKEN,
        widget=forms.RadioSelect,
    )
    note = MultilineField(label=_("Note (optional)"), required=False, max_length=2000, rows=2)
    confirm = forms.BooleanField(
        label=_("The patient has withdrawn the consent (or the person acting for them has)"),
        error_messages={"required": _("Confirm that the consent has been withdrawn.")},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        style_fields(self)
        self.fields["method"].widget.attrs["class"] = "form-radio"


class RemoveForm(VersionedForm):
    """Take a relative off the plan (the version they saw)."""

    confirm = forms.BooleanField(
        label=_("Take this relative off the plan"),
        error_messages={"required": _("Confirm that the relative is to be taken off the plan.")},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        style_fields(self)


# --- support ---

YES_NO = [("yes", _("Yes")), ("no", _("No"))]
ITEM_FIELD_PREFIX = "item_"


def _radios(field: forms.Field) -> forms.Field:
    field.widget.attrs["class"] = "form-radio"
    return field


class StrainScreeningForm(forms.Form):
    """The relative's answers to a strain instrument: one yes/no per item, each required, numbered in the
    instrument's order and worded in the active language; then the date and a note."""

    screened_on = forms.DateField(label=_("Screened on"), widget=IsoDateInput)
    note = MultilineField(label=_("Note (optional)"), required=False, max_length=2000, rows=3)

    def __init__(self, *args: Any, items: list[StrainItem], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.items = items
        for number, item in enumerate(items, 1):
            self.fields[ITEM_FIELD_PREFIX + item.key] = _radios(
                forms.ChoiceField(
                    label=f"{number}. {item.text}",
                    choices=YES_NO,
                    widget=forms.RadioSelect,
                    error_messages={"required": _("Answer yes or no.")},
                )
            )
        self.order_fields([ITEM_FIELD_PREFIX + item.key for item in items])
        self.fields["screened_on"].initial = timezone.localdate()
        style_fields(self)

    def item_fields(self) -> list[forms.BoundField]:
        return [self[ITEM_FIELD_PREFIX + item.key] for item in self.items]

    def other_fields(self) -> list[forms.BoundField]:
        return [self["screened_on"], self["note"]]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        missing = [
            number
            for number, item in enumerate(self.items, 1)
            if data.get(ITEM_FIELD_PREFIX + item.key) not in ("yes", "no")
        ]
        if missing:
            raise forms.ValidationError(
                _("Answer every question yes or no. Not answered: %(numbers)s.")
                % {"numbers": services.numbered_list(missing)}
            )
        screened_on = data.get("screened_on")
        if screened_on and screened_on > timezone.localdate():
            self.add_error("screened_on", _("The screening date cannot be in the future."))
        return data

    def answers(self) -> dict[str, bool]:
        """{item key: answered yes} (after is_valid)."""
        return {item.key: self.cleaned_data[ITEM_FIELD_PREFIX + item.key] == "yes" for item in self.items}


class NeedForm(forms.Form):
    text = MultilineField(
        label=_("What does the relative need?"),
        help_text=_("Write it in the relative's own words."),
        max_length=2000,
        rows=4,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        style_fields(self)


class _OfferField(forms.ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.name} ({obj.organisation.name})"


def _person_name(user: User) -> str:
    return user.get_full_name() or user.username


def _follow_up_date_field() -> forms.DateField:
    return forms.DateField(
        label=_("Follow up on (optional)"),
        help_text=_("A reminder goes to the person responsible at 08:00 that day."),
        required=False,
        widget=IsoDateInput,
    )


class ReferralForm(forms.Form):
    """Refer the relative to a support offer. The responsible person is chosen among the members of the
    organisations that may be responsible, grouped by organisation; they must work in the one chosen."""

    offer = _OfferField(
        label=_("Offer"),
        queryset=SupportOffer.objects.none(),
        to_field_name="public_id",
        empty_label=_("Choose an offer"),
    )
    responsible_organisation = forms.ModelChoiceField(
        label=_("Responsible organisation"),
        help_text=_("Its staff can see the relative's support record."),
        queryset=Organisation.objects.none(),
        to_field_name="public_id",
        required=False,
        empty_label=_("The offer's organisation (if it takes part, else the coordinator's)"),
    )
    responsible_person = forms.ChoiceField(
        label=_("Responsible person (optional)"),
        help_text=_("Without a person, the organisation's coordinators are reminded."),
        required=False,
    )
    status = forms.ChoiceField(
        label=_("Status"),
        choices=[(status.value, status.label) for status in REFERRAL_OPEN_STATUSES],
        initial=ReferralStatus.REFERRED,
    )
    follow_up_date = _follow_up_date_field()
    note = MultilineField(label=_("Note (optional)"), required=False, max_length=2000, rows=3)

    def __init__(
        self, *args: Any, offers: Any, organisations: Any, members: list[Membership], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["offer"].queryset = offers  # type: ignore[attr-defined]
        self.fields["responsible_organisation"].queryset = organisations  # type: ignore[attr-defined]
        # {user public id: (user, the organisations they work in)}
        self._members: dict[str, tuple[User, set[int]]] = {}
        groups: dict[str, list[tuple[str, str]]] = {}
        for membership in members:
            key = str(membership.user.public_id)
            self._members.setdefault(key, (membership.user, set()))[1].add(membership.organisation_id)
            groups.setdefault(membership.organisation.name, []).append((key, _person_name(membership.user)))
        self.fields["responsible_person"].choices = [  # type: ignore[attr-defined]
            ("", _("Nobody named")),
            *groups.items(),
        ]
        style_fields(self)

    def clean_responsible_person(self) -> User | None:
        value = self.cleaned_data.get("responsible_person") or ""
        return self._members[value][0] if value in self._members else None

    def clean_follow_up_date(self) -> date | None:
        day: date | None = self.cleaned_data.get("follow_up_date")
        if day is not None and day < timezone.localdate():
            raise forms.ValidationError(_("The follow-up date cannot be in the past."))
        return day

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        person, offer = data.get("responsible_person"), data.get("offer")
        organisation = data.get("responsible_organisation") or (offer.organisation if offer else None)
        if person is not None and organisation is not None and not self._works_in(person, organisation):
            self.add_error(
                "responsible_person", _("Choose a person who works in the responsible organisation.")
            )
        return data

    def _works_in(self, person: User, organisation: Organisation) -> bool:
        return organisation.pk in self._members[str(person.public_id)][1]


class ReferralUpdateForm(VersionedForm):
    """Move a referral on, name who is responsible in its organisation, set the next follow-up."""

    status = forms.ChoiceField(label=_("Status"))
    responsible_person = forms.ModelChoiceField(
        label=_("Responsible person (optional)"),
        help_text=_("Without a person, the organisation's coordinators are reminded."),
        queryset=User.objects.none(),
        to_field_name="public_id",
        required=False,
        empty_label=_("Nobody named"),
    )
    follow_up_date = _follow_up_date_field()
    note = MultilineField(label=_("Note (optional)"), required=False, max_length=2000, rows=3)

    def __init__(self, *args: Any, referral: SupportReferral, people: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.referral = referral
        allowed = [referral.status, *services.REFERRAL_TRANSITIONS[referral.status]]
        self.fields["status"].choices = [  # type: ignore[attr-defined]
            (value, label) for value, label in ReferralStatus.choices if value in allowed
        ]
        person = self.fields["responsible_person"]
        person.queryset = people  # type: ignore[attr-defined]
        person.label_from_instance = _person_name  # type: ignore[attr-defined]
        style_fields(self)

    @staticmethod
    def initial_for(referral: SupportReferral) -> dict[str, Any]:
        person = referral.responsible_person
        return {
            "status": referral.status,
            "responsible_person": person.public_id if person else None,
            "follow_up_date": referral.follow_up_date,
            "note": referral.note,
            "version": referral.version,
        }

    def clean_follow_up_date(self) -> date | None:
        day: date | None = self.cleaned_data.get("follow_up_date")
        # An unchanged date already passed is kept (its reminder has gone out); a new one is today or later.
        if day is not None and day != self.referral.follow_up_date and day < timezone.localdate():
            raise forms.ValidationError(_("The follow-up date cannot be in the past."))
        return day


# --- children ---


class ChecklistItemForm(VersionedForm):
    """One step of a child's checklist: its status, and the detail the step asks for."""

    status = forms.ChoiceField(label=_("Status"), choices=ChecklistStatus.choices, widget=forms.RadioSelect)
    contact_name = forms.CharField(label=_("Contact person"), required=False, max_length=200)
    consent_confirmed = forms.BooleanField(
        label=_("The patient and the parent with custody agree that the school or daycare is told"),
        required=False,
    )
    note = MultilineField(label=_("Note"), required=False, max_length=1000, rows=2)
