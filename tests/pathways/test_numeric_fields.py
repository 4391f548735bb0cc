"""Fields numeric by nature hold ASCII digits: other scripts' digits are normalised at the edge.

`\\d` in a Python regex matches every Unicode digit, so Arabic-Indic (٠١٢) and full-width (０１２) CPR
numbers passed the validator, and a patient could have been stored under a number the uniqueness
constraint did not see as equal to the ASCII one.
"""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from pathways.cpr import cpr_parse
from pathways.models import Organisation, Patient, User
from pathways.numbers import ascii_digits
from tests.conftest import sign_in

ARABIC_INDIC = "٠٧٠٧٦١-٤٢٨٥"  # Kirsten's 070761-4285 in Arabic-Indic digits
FULL_WIDTH = "０７０７６１－４２８５"  # the same in full-width digits and hyphen
EXTENDED_ARABIC = "۰۷۰۷۶۱۴۲۸۵"  # Persian/Urdu digits


@pytest.mark.parametrize("raw", [ARABIC_INDIC, FULL_WIDTH, EXTENDED_ARABIC])
def test_cpr_in_other_digits_is_read_as_the_same_ascii_number(raw):
    assert cpr_parse(raw).number == "0707614285"


@pytest.mark.parametrize("raw", ["070761-428x", "O7O761-4285", "070761-4285\u200b", "070761–4285"])
def test_cpr_with_letters_or_invisible_characters_is_refused(raw):
    with pytest.raises(ValidationError):
        cpr_parse(raw)


def test_ascii_digits_leaves_ascii_and_letters_alone():
    assert ascii_digits("+45 22 41 63 18") == "+45 22 41 63 18"
    assert ascii_digits("Åse ٣") == "Åse 3"


def test_patient_saved_with_arabic_digits_is_stored_in_ascii_and_collides_with_the_same_number(world):
    patient = Patient(
        cpr="٠١٠١٩٠١٢٣٤", given_name="Amal", family_name="Haddad", home_municipality="101",
        phone="٢٢ ٤١ ٦٣ ١٨", postal_code="٢٣٠٠",
    )  # fmt: skip
    patient.full_clean(exclude=["birth_date"])  # as the admin does: clean() derives it from the CPR number
    patient.save()
    patient.refresh_from_db()
    assert (patient.cpr, patient.phone, patient.postal_code) == ("0101901234", "22 41 63 18", "2300")
    twin = Patient(cpr="０１０１９０１２３４", given_name="A", family_name="B", home_municipality="101")
    with pytest.raises(ValidationError) as excinfo:
        twin.full_clean(exclude=["birth_date"])
    assert "cpr" in excinfo.value.message_dict


@pytest.mark.parametrize(
    ("model", "field", "value"),
    [
        (Patient, "phone", "ring mig"),
        (Patient, "phone", "22"),
        (Patient, "postal_code", "40O0"),
        (User, "phone", "22 41 63 18 ext. 5"),
        (Organisation, "sor_code", "1234 5678"),
        (Organisation, "phone", "٢٢٤١٦٣١٨x"),
    ],
)
def test_numeric_fields_refuse_what_is_not_a_number(db, model, field, value):
    instance = model(**{field: value})
    with pytest.raises(ValidationError) as excinfo:
        instance.full_clean()
    assert field in excinfo.value.message_dict


@pytest.mark.parametrize("raw", [ARABIC_INDIC, FULL_WIDTH])
def test_cpr_search_in_other_digits_finds_the_patient(client, world, raw):
    sign_in(client, world.home_nurse)
    response = client.post(reverse("pathways:caseload-cpr-search"), {"cpr": raw})
    assert response.status_code == 200
    assert "Kirsten Testesen" in response.content.decode()


def test_admin_stores_a_patient_typed_in_full_width_digits_in_ascii(client, world):
    admin = User.objects.create_superuser("root", password="x" * 14)
    sign_in(client, admin)
    response = client.post(
        reverse("admin:pathways_patient_add"),
        {
            "cpr": "０１０１９０１２３４", "given_name": "Amal", "family_name": "Haddad",
            "home_municipality": "101", "preferred_contact": "digital", "language": "da",
            "phone": "２２４１６３１８", "postal_code": "", "address": "", "city": "", "email": "",
        },
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Patient.objects.get(family_name="Haddad").cpr == "0101901234"
