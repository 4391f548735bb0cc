from datetime import date

import pytest
from django.core.exceptions import ValidationError

from pathways.cpr import cpr_century, cpr_parse, cpr_passes_modulus11

TODAY = date(2026, 11, 23)


def test_valid_cpr_with_and_without_hyphen_gives_birth_date():
    assert cpr_parse("070761-4285", today=TODAY).birth_date == date(1961, 7, 7)
    assert cpr_parse("0707614285", today=TODAY).number == "0707614285"


def test_valid_cpr_passes_modulus11():
    assert cpr_parse("0707614285", today=TODAY).passes_modulus11 is True


@pytest.mark.parametrize("raw", ["", "123", "07076142850", "070761+4285", "abcdefghij", "0707 61 4285"])
def test_malformed_cpr_is_rejected_with_format_message(raw):
    with pytest.raises(ValidationError) as excinfo:
        cpr_parse(raw, today=TODAY)
    assert excinfo.value.code == "cpr_format"


@pytest.mark.parametrize("raw", ["3102804285", "0013614285", "2902014285", "3204614285"])
def test_impossible_date_is_rejected(raw):
    with pytest.raises(ValidationError) as excinfo:
        cpr_parse(raw, today=TODAY)
    assert excinfo.value.code == "cpr_date"


def test_29_february_is_accepted_in_a_leap_year_only():
    assert cpr_parse("2902921234", today=TODAY).birth_date == date(1992, 2, 29)
    with pytest.raises(ValidationError):
        cpr_parse("2902931234", today=TODAY)


@pytest.mark.parametrize(
    ("digit7", "yy", "century"),
    [
        # digits 0–3: always 1900s
        (0, 0, 1900), (1, 36, 1900), (2, 57, 1900), (3, 99, 1900),
        # digits 4 and 9: 2000–2036, else 1937–1999
        (4, 0, 2000), (4, 36, 2000), (4, 37, 1900), (9, 36, 2000), (9, 37, 1900), (9, 99, 1900),
        # digits 5–8: 2000–2057, else 1858–1899
        (5, 0, 2000), (6, 57, 2000), (7, 58, 1800), (8, 99, 1800), (5, 36, 2000), (8, 37, 2000),
    ],
)  # fmt: skip
def test_century_table(digit7, yy, century):
    assert cpr_century(digit7=digit7, yy=yy) == century


@pytest.mark.parametrize(
    ("raw", "born"),
    [
        ("0101203234", date(1920, 1, 1)),  # digit 7 = 3
        ("0101204234", date(2020, 1, 1)),  # digit 7 = 4, YY ≤ 36
        ("0101504234", date(1950, 1, 1)),  # digit 7 = 4, YY ≥ 37
        ("0101209234", date(2020, 1, 1)),  # digit 7 = 9, YY ≤ 36
        ("0101509234", date(1950, 1, 1)),  # digit 7 = 9, YY ≥ 37
        ("0101205234", date(2020, 1, 1)),  # digit 7 = 5, YY ≤ 57
        ("0101706234", date(1870, 1, 1)),  # digit 7 = 6, YY ≥ 58
    ],
)
def test_birth_date_follows_the_century_rule(raw, born):
    assert cpr_parse(raw, today=TODAY).birth_date == born


def test_birth_date_in_the_future_is_rejected():
    with pytest.raises(ValidationError) as excinfo:
        cpr_parse("0101305234", today=TODAY)  # 1 Jan 2030
    assert excinfo.value.code == "cpr_future"


def test_number_issued_after_2007_failing_modulus11_is_accepted_as_valid():
    # 010165 was the first prefix issued without modulus 11 (1 October 2007).
    parsed = cpr_parse("0101651234", today=TODAY)
    assert cpr_passes_modulus11("0101651234") is False
    assert parsed.passes_modulus11 is False
    assert parsed.birth_date == date(1965, 1, 1)


@pytest.mark.parametrize("raw", ["3102804285", "12345", "0101305234"])
def test_error_messages_never_repeat_the_number(raw):
    with pytest.raises(ValidationError) as excinfo:
        cpr_parse(raw, today=TODAY)
    text = " ".join(excinfo.value.messages)
    assert raw not in text
    assert raw[:6] not in text


def test_masked_form_hides_the_serial_number():
    assert cpr_parse("0707614285", today=TODAY).masked == "070761-xxxx"
