"""make loadtest's pieces that run in the product: the sessions `manage.py loadtest` makes sign its users
in, and the bare view it compares the pages with does the session read and one query."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from portal.management.commands.loadtest import PAGES, Command


@pytest.mark.django_db
def test_every_page_of_the_load_test_answers_its_signed_in_users(settings):
    settings.ROOT_URLCONF = "config.loadtest"
    call_command("seed_synthetic", patients=60, stdout=io.StringIO())
    sessions = Command()._sessions()
    assert set(sessions) == set(PAGES)
    for page in PAGES:
        assert sessions[page]
        for signed_in in sessions[page][:3]:
            client = Client()
            client.cookies[signed_in["cookie"]] = signed_in["key"]
            assert client.get(signed_in["path"]).status_code == 200, page


@pytest.mark.django_db
def test_the_bare_view_reads_the_session_and_the_user_and_runs_one_query(settings):
    settings.ROOT_URLCONF = "config.loadtest"
    call_command("seed_synthetic", patients=20, stdout=io.StringIO())
    signed_in = Command()._sessions()["bare view"][0]
    client = Client()
    client.cookies[signed_in["cookie"]] = signed_in["key"]
    with CaptureQueriesContext(connection) as ctx:
        answer = client.get(signed_in["path"])
    assert answer.content.decode().startswith("True")
    session, user, count = (query["sql"] for query in ctx.captured_queries)
    assert session.startswith('SELECT "django_session"')
    assert user.startswith('SELECT "pathways_user"')
    assert "FROM pathways_pathwayplan" in count
