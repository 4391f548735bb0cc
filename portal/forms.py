"""The portal's forms: the sign-in's (the address, the code) and a questionnaire's answers (issue 16)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from pathways.numbers import ascii_digits
from portal.models import CODE_LENGTH
from portal.readmodels import PortalQuestion
from portal.signin import ADDRESS_MAX_LENGTH, SignInAddress, sign_in_address

# Made up, so that no one's real address is on the page; the number's no-break spaces keep it on one line.
EXAMPLE_EMAIL = "navn@mail.dk"
EXAMPLE_PHONE = "12\u00a034\u00a056\u00a078"
EXAMPLES = {"email": EXAMPLE_EMAIL, "phone": EXAMPLE_PHONE}


class SignInForm(forms.Form):
    """One field: the e-mail address or mobile number we have for the person. Cleans to a SignInAddress."""

    address = forms.CharField(
        label=_("E-mail or mobile number"),
        max_length=ADDRESS_MAX_LENGTH,
        error_messages={
            "required": _("Write your e-mail or your mobile number."),
            "max_length": _("That is too long. Write your e-mail or your mobile number."),
        },
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["address"].help_text = _("For example %(email)s or %(phone)s.") % EXAMPLES
        self.fields["address"].widget.attrs.update(
            {
                "class": "form-input",
                "autocomplete": "username",
                "spellcheck": "false",
                "autocapitalize": "off",
            }
        )

    def clean_address(self) -> SignInAddress:
        address = sign_in_address(text=self.cleaned_data["address"])
        if address is None:
            raise ValidationError(
                _("Write an e-mail like %(email)s, or a mobile number with 8 digits.") % EXAMPLES,
                code="invalid",
            )
        return address


class SignInCodeForm(forms.Form):
    """The 6-digit code (spaces and dashes allowed, as people copy it)."""

    code = forms.CharField(
        label=_("Code"),
        help_text=_("The code has 6 digits."),
        max_length=20,
        error_messages={"required": _("Write the code. It has 6 digits.")},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["code"].widget.attrs.update(
            {
                "class": "form-input input-width-xs",
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "autofocus": True,
            }
        )

    def clean_code(self) -> str:
        code = "".join(ascii_digits(self.cleaned_data["code"]).split()).replace("-", "")
        if len(code) != CODE_LENGTH or not (code.isascii() and code.isdigit()):
            raise ValidationError(_("Write the code. It has 6 digits."), code="invalid")
        return code


class QuestionnaireAnswersForm(forms.Form):
    """The answers to a questionnaire: one choice per question (`questions`: the read models the page shows,
    whose `field_name` is the radio buttons' name), each required and one of the answers on the scale. The
    page draws the radio buttons from the read models; this form only checks what came back."""

    def __init__(self, *args: Any, questions: Sequence[PortalQuestion], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.questions = tuple(questions)
        for question in self.questions:
            self.fields[question.field_name] = forms.TypedChoiceField(
                label=question.text,
                choices=[(option.value, option.text) for option in question.options],
                coerce=int,
                error_messages={
                    "required": _("Choose an answer to this question."),
                    "invalid_choice": _("Choose one of the answers."),
                },
            )

    def answers(self) -> dict[str, int]:
        """The answers by the question's link id (after is_valid)."""
        return {question.link_id: self.cleaned_data[question.field_name] for question in self.questions}

    def chosen(self) -> dict[str, int]:
        """The answers sent that are on the scale, by link id: kept when the form comes back."""
        kept: dict[str, int] = {}
        for question in self.questions:
            value = self.data.get(question.field_name, "")
            values = {str(option.value): option.value for option in question.options}
            if isinstance(value, str) and value in values:
                kept[question.link_id] = values[value]
        return kept

    def question_errors(self) -> dict[str, str]:
        """What is wrong with each question's answer, by link id."""
        return {
            question.link_id: " ".join(str(message) for message in self.errors[question.field_name])
            for question in self.questions
            if question.field_name in self.errors
        }
