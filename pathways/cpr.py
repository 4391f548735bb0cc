"""CPR numbers (personnummer), validated by the rules in STANDARDS.md §3.

Format DDMMYY-SSSS, a real date, the century from digit 7 and the year. Modulus 11 is only a warning:
numbers issued since 1 October 2007 need not pass it and are fully valid. Error messages never repeat
the number itself, so it cannot leak into logs or error pages.
"""

import re
from dataclasses import dataclass
from datetime import date

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from pathways.numbers import ascii_digits

# ASCII digits only: `\d` alone would also match Arabic-Indic and full-width digits (pathways/numbers.py).
_CPR_RE = re.compile(r"^([0-9]{6})-?([0-9]{4})$", re.ASCII)
_WEIGHTS = (4, 3, 2, 7, 6, 5, 4, 3, 2, 1)


@dataclass(frozen=True)
class Cpr:
    number: str  # ten digits, no hyphen
    birth_date: date
    passes_modulus11: bool

    @property
    def masked(self) -> str:
        return f"{self.number[:6]}-xxxx"

    @property
    def formatted(self) -> str:
        return f"{self.number[:6]}-{self.number[6:]}"


def cpr_century(*, digit7: int, yy: int) -> int:
    """The century of birth from digit 7 and the two-digit year (CPR office table)."""
    if digit7 in (0, 1, 2, 3):
        return 1900
    if digit7 in (4, 9):
        return 2000 if yy <= 36 else 1900
    # digit 7 in 5..8
    if yy <= 57:
        return 2000
    return 1800


def cpr_passes_modulus11(number: str) -> bool:
    return sum(w * int(d) for w, d in zip(_WEIGHTS, number, strict=True)) % 11 == 0


def cpr_parse(raw: str, *, today: date | None = None) -> Cpr:
    """Parse and validate a CPR number; raise ValidationError with a message that omits the number."""
    match = _CPR_RE.match(ascii_digits(raw or "").strip())
    if not match:
        raise ValidationError(_("A CPR number has ten digits, written DDMMYY-SSSS."), code="cpr_format")
    number = match.group(1) + match.group(2)
    day, month, yy, digit7 = int(number[0:2]), int(number[2:4]), int(number[4:6]), int(number[6])
    year = cpr_century(digit7=digit7, yy=yy) + yy
    try:
        born = date(year, month, day)
    except ValueError:
        raise ValidationError(
            _("The first six digits of a CPR number must be a real date of birth (DDMMYY)."),
            code="cpr_date",
        ) from None
    if born > (today or timezone.localdate()):
        raise ValidationError(
            _("The CPR number gives a date of birth in the future; check digits 5 to 7."),
            code="cpr_future",
        )
    return Cpr(number=number, birth_date=born, passes_modulus11=cpr_passes_modulus11(number))


def validate_cpr(value: str) -> None:
    cpr_parse(value)
