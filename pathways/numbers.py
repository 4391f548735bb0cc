"""Fields that are numeric by nature (CPR number, phone, postcode, SOR code) hold ASCII digits only.

Python's `\\d` and `str.isdigit()` accept every script's digits: Arabic-Indic ٠١٢, full-width ０１２ and
more. A CPR number typed on an Arabic keyboard is still the person's number, so input is normalised to
ASCII at the edge (form fields and model fields alike) rather than refused; what is stored, compared
and made unique is always 0–9. Anything that is not a digit after normalisation is refused as before.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _


def ascii_digits(value: str) -> str:
    """`value` with compatibility forms folded (full-width "－" → "-") and every decimal digit as 0–9."""
    folded = unicodedata.normalize("NFKC", value)
    return "".join(str(unicodedata.decimal(ch)) if ch.isdecimal() else ch for ch in folded)


_PHONE_RE = re.compile(r"^\+?[0-9][0-9 ()\-]*$", re.ASCII)
_POSTCODE_RE = re.compile(r"^[0-9]{4}$", re.ASCII)
_SOR_RE = re.compile(r"^[0-9A-Za-z\-]+$", re.ASCII)


def validate_phone(value: str) -> None:
    if value and (not _PHONE_RE.match(value) or sum(ch.isdigit() for ch in value) < 6):
        raise ValidationError(
            _("Write the phone number with digits, e.g. 22 41 63 18 or +45 22 41 63 18."), code="phone"
        )


def validate_postcode(value: str) -> None:
    if value and not _POSTCODE_RE.match(value):
        raise ValidationError(_("A Danish postcode has four digits."), code="postcode")


def validate_sor_code(value: str) -> None:
    if value and not _SOR_RE.match(value):
        raise ValidationError(_("A SOR code has digits only."), code="sor_code")


class NumericTextField(models.CharField):  # type: ignore[type-arg]
    """A CharField whose value is normalised to ASCII digits and trimmed whenever a model is cleaned."""

    def to_python(self, value: Any) -> Any:
        value = super().to_python(value)
        return ascii_digits(value).strip() if isinstance(value, str) else value
