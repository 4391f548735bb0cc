"""The sign-in forms: password (with the per-account ceiling) and the second step."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from pathways.signin import policy as signin


class StaffAuthenticationForm(AuthenticationForm):
    """Django's sign-in form plus the per-account ceiling (ASVS 2.2.1) across all addresses."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": _("The user name or password is not correct. Try again."),
        "account_paused": _(
            "There have been too many failed sign-ins to this account in the past hour. Wait a while and "
            "try again, or ask your administrator for help."
        ),
    }

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username") or ""
        if signin.account_paused(username):
            raise ValidationError(self.error_messages["account_paused"], code="account_paused")
        return super().clean()


def _normalised_code(value: str) -> str:
    return "".join(value.split()).replace("-", "").lower()


class SecondStepForm(forms.Form):
    code = forms.CharField(
        label=_("Code"),
        help_text=_("The six digits from your authenticator app, or one of your recovery codes."),
        max_length=20,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["code"].widget.attrs.update(
            {"class": "form-input input-width-s", "autocomplete": "one-time-code", "autofocus": True}
        )

    def clean_code(self) -> str:
        return _normalised_code(self.cleaned_data["code"])


class TotpConfirmForm(forms.Form):
    code = forms.RegexField(
        label=_("Code from the app"),
        regex=r"^\s*\d{3}\s?\d{3}\s*$",
        error_messages={"invalid": _("Write the six digits the app shows.")},
        max_length=8,
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
        return _normalised_code(self.cleaned_data["code"])
