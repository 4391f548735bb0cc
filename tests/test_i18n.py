"""Danish first, English second: the catalogue is complete and both languages reach the page."""

from pathlib import Path

import polib
from django.urls import reverse

CATALOGUE = Path(__file__).resolve().parent.parent / "config" / "locale" / "da" / "LC_MESSAGES" / "django.po"


def test_danish_catalogue_is_complete():
    po = polib.pofile(str(CATALOGUE))
    assert po.untranslated_entries() == []
    assert po.fuzzy_entries() == []
    assert po.percent_translated() == 100


def test_login_page_is_danish_by_default(client, db):
    body = client.get(reverse("login")).content.decode()
    assert '<html lang="da">' in body
    assert "Log ind" in body
    assert "Brugernavn" in body


def test_language_switch_gives_english(client, db):
    response = client.post(reverse("set_language"), {"language": "en", "next": reverse("login")})
    assert response.status_code == 302
    body = client.get(reverse("login")).content.decode()
    assert '<html lang="en">' in body
    assert "User name" in body


def test_a_browser_asking_for_english_still_gets_danish_until_the_user_switches(client, db):
    body = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    assert '<html lang="da">' in body
    client.post(reverse("set_language"), {"language": "en", "next": reverse("login")})
    body = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="da").content.decode()
    assert '<html lang="en">' in body
