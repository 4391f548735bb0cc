"""Questionnaires in the portal (issue 16): the patient, and a relative about themselves, answer the
questions sent to them.

Kirsten sees "A questionnaire is waiting for you" on her plan, opens WHO-5 (a logged read), answers every
question and is thanked in plain words — never a score; the response is stored from the portal with its
score derived, the request answered and its reminders cancelled. A relative answers their own, whatever
their consent scope. No one opens or answers another person's questionnaire (404, nothing written), nor one
answered, expired or taken back (a clear page, never 500). A question left out brings the form back with
the other answers kept and an error on that question, and nothing is written.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.apps import apps
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from pathways import outbox, services
from pathways.choices import (
    AccessAction,
    AccessPurpose,
    NotificationChannel,
    NotificationKind,
    NotificationState,
    PlanStatus,
)
from pathways.models import AccessLog, Notification, PathwayPlan
from quality.choices import RequestState, ResponseSource
from quality.instruments import CSI_KEY, WHO5_KEY, ship
from quality.models import Questionnaire, QuestionnaireRequest, QuestionnaireResponse
from relatives.choices import ConsentScope
from tests.portal.test_plan import add_relative, main_of, plan_url, text_of

WHO5_LINKS = ["cheerful", "calm", "active", "rested", "interest"]
THANKS = "Your coordinator can see your answers."
# The session (2), the reader (3), the request, the questions and the answers, the access-log row (2).
QUESTIONNAIRE_QUERIES = 12
DONE_QUERIES = 8


def ask(plan, *, relative=None, key: str = WHO5_KEY, days_left: int = 10, occurrence: str = "start"):
    """A questionnaire sent to the patient (or `relative`) on `plan`, opened 4 days ago, with two reminders
    waiting in the outbox (their keys on the request, as quality.services keeps them)."""
    ship(apps)  # the shipped questionnaires (a transactional test empties the tables they came in)
    today = timezone.localdate()
    recipient = relative if relative is not None else plan.patient
    keys = [
        outbox.notify(
            recipient=recipient,
            kind=NotificationKind.QUESTIONNAIRE_REMINDER,
            channel=NotificationChannel.EMAIL,
            plan=plan,
            due_at=timezone.now() + timedelta(days=days),
            event=f"questionnaire:{occurrence}:{key}:{days}",
        )
        for days in (1, 3)
    ]
    return QuestionnaireRequest.objects.create(
        plan=plan,
        questionnaire=Questionnaire.objects.get(key=key),
        relative=relative,
        occurrence=occurrence,
        opens_on=today - timedelta(days=4),
        expires_on=today + timedelta(days=days_left),
        reminder_keys=keys,
    )


def url(asked) -> str:
    return reverse("portal:questionnaire", args=[asked.plan.public_id, asked.public_id])


def done_url(asked) -> str:
    return reverse("portal:questionnaire-done", args=[asked.plan.public_id, asked.public_id])


def answers(values: list[int], links: list[str] = WHO5_LINKS) -> dict[str, str]:
    return {f"q-{link}": str(value) for link, value in zip(links, values, strict=False)}


def checked(html: str) -> dict[str, str]:
    """The radio buttons checked on a page: {name: value}."""
    found = {}
    for tag in re.findall(r"<input[^>]*type=\"radio\"[^>]*>", html):
        if " checked" in tag:
            name = re.search(r'name="([^"]+)"', tag)
            value = re.search(r'value="([^"]+)"', tag)
            assert name
            assert value
            found[name.group(1)] = value.group(1)
    return found


@pytest.fixture
def portal_client(portal_client):
    """The portal's signed-in client, reading the pages in English (the words the tests look for)."""

    def make(**readers):
        client = portal_client(**readers)
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
        return client

    return make


@pytest.fixture
def kirsten(world, portal_client):
    """Kirsten signed in to the portal, with WHO-5 waiting for her."""
    asked = ask(world.plan)
    return world, asked, portal_client(patient=world.patient)


# --- answering -------------------------------------------------------------------------------------------


def test_kirsten_sees_the_waiting_questionnaire_on_her_plan_with_its_answer_by_day(kirsten):
    world, asked, client = kirsten

    page = main_of(client.get(plan_url(world.plan)))

    assert "A questionnaire is waiting for you" in page
    assert "How have you been?" in page
    assert f'href="{url(asked)}"' in page
    assert f'datetime="{asked.expires_on:%Y-%m-%d}"' in page


def test_a_plan_that_has_ended_invites_no_answers(kirsten):
    """Completed by the coordinator: the invitation goes at once, before the hourly job closes it."""
    world, asked, client = kirsten
    PathwayPlan.objects.filter(pk=world.plan.pk).update(status=PlanStatus.COMPLETED)

    page = main_of(client.get(plan_url(world.plan)))

    assert "A questionnaire is waiting for you" not in page
    assert f'href="{url(asked)}"' not in page


def test_answers_sent_after_the_plan_ended_are_told_they_are_not_needed(kirsten):
    """The page was opened while the plan was active; the coordinator completed it before Kirsten sent:
    "you do not need to answer" (410), not "not sent, try again", and nothing is stored."""
    world, asked, client = kirsten
    assert client.get(url(asked)).status_code == 200
    PathwayPlan.objects.filter(pk=world.plan.pk).update(status=PlanStatus.COMPLETED)

    sent = client.post(url(asked), answers([4, 4, 4, 4, 4]))
    opened = client.get(url(asked))

    for response in (sent, opened):
        assert response.status_code == 410
        assert "You do not need to answer" in main_of(response)
        assert "<fieldset" not in main_of(response)
    assert not QuestionnaireResponse.objects.exists()


def test_the_answer_page_shows_each_question_as_a_fieldset_of_radio_buttons_and_the_attribution(kirsten):
    _world, asked, client = kirsten

    response = client.get(url(asked))
    html = main_of(response)

    assert response.status_code == 200
    assert "<script" not in response.content.decode()
    assert html.count("<fieldset") == 5
    assert html.count("<legend") == 5
    assert html.count('type="radio"') == 5 * 6
    for link in WHO5_LINKS:
        for value in range(6):
            assert f'id="q-{link}-{value}" name="q-{link}" value="{value}"' in html
            assert f'for="q-{link}-{value}"' in html
    assert "Over the last 2 weeks I have felt calm and relaxed" in html
    assert "All of the time" in html
    assert "At no time" in html
    assert "Psykiatrisk Center Nordsjælland" in html  # the attribution
    assert "Send your answers" in html
    assert 'name="csrfmiddlewaretoken"' in html


def test_kirsten_answers_who5_and_it_is_stored_from_the_portal_with_its_score(kirsten):
    world, asked, client = kirsten

    response = client.post(url(asked), answers([4, 3, 3, 2, 4]))

    assert response.status_code == 302
    assert response["Location"] == done_url(asked)
    stored = QuestionnaireResponse.objects.get()
    assert stored.plan == world.plan
    assert stored.relative is None
    assert stored.request == asked
    assert stored.source == ResponseSource.PORTAL
    assert stored.entered_by is None
    assert stored.answers == {"cheerful": 4, "calm": 3, "active": 3, "rested": 2, "interest": 4}
    assert (stored.raw_score, stored.score, stored.max_score) == (16, 64, 100)
    assert stored.flagged is False
    asked.refresh_from_db()
    assert asked.state == RequestState.ANSWERED


def test_answering_cancels_the_reminders(kirsten):
    _world, asked, client = kirsten
    assert set(
        Notification.objects.filter(dedupe_key__in=asked.reminder_keys).values_list("state", flat=True)
    ) == {NotificationState.PENDING}

    client.post(url(asked), answers([5, 5, 5, 5, 5]))

    states = Notification.objects.filter(dedupe_key__in=asked.reminder_keys).values_list("state", flat=True)
    assert set(states) == {NotificationState.CANCELLED}


def test_the_thanks_page_shows_no_score_even_when_the_answers_flag_the_plan(kirsten):
    world, asked, client = kirsten

    sent = client.post(url(asked), answers([1, 0, 1, 2, 1]))
    page = client.get(sent["Location"])
    html = main_of(page)

    stored = QuestionnaireResponse.objects.get()
    assert stored.flagged is True
    assert stored.score == 20
    assert page.status_code == 200
    assert "Thank you" in html
    assert THANKS in html
    assert not re.search(r"\d", text_of(html)), "a number (a score?) on the thanks page"
    for words in ("Low wellbeing", "Lav trivsel", "wellbeing", "score", "diagnos"):
        assert words not in html
    # The plan no longer asks her.
    plan_page = main_of(client.get(plan_url(world.plan)))
    assert "waiting for you" not in plan_page


@pytest.mark.parametrize("scope", [ConsentScope.WHOLE_PLAN, ConsentScope.APPOINTMENTS])
def test_a_relative_answers_their_own_questionnaire_whatever_their_consent_scope(world, portal_client, scope):
    daughter = add_relative(world, scope=scope)
    own = ask(world.plan, relative=daughter)
    kirstens = ask(world.plan)
    client = portal_client(relatives=[daughter])

    plan_page = main_of(client.get(plan_url(world.plan)))
    form = main_of(client.get(url(own)))
    sent = client.post(url(own), answers([3, 3, 3, 3, 3]))

    assert f'href="{url(own)}"' in plan_page
    assert str(kirstens.public_id) not in plan_page  # never the patient's
    assert "The questions are about you" in form
    assert sent.status_code == 302
    stored = QuestionnaireResponse.objects.get()
    assert stored.relative == daughter
    assert stored.source == ResponseSource.PORTAL
    assert stored.score == 60
    own.refresh_from_db()
    kirstens.refresh_from_db()
    assert own.state == RequestState.ANSWERED
    assert kirstens.state == RequestState.OPEN


def test_the_chooser_says_on_which_plan_a_questionnaire_waits(world, portal_client):
    services.plan_transition(actor=None, plan=world.other_plan, to_status=PlanStatus.ACTIVE)
    on_kirstens = add_relative(world, name="Mette Testesen")
    on_oles = add_relative(world, plan=world.other_plan, name="Mette Testesen", actor=world.outsider)
    ask(world.plan, relative=on_kirstens)
    ask(world.plan)  # Kirsten's own: not Mette's to answer
    ask(world.other_plan)  # Ole's own

    page = main_of(portal_client(relatives=[on_kirstens, on_oles]).get(reverse("portal:home")))

    items = re.findall(r"<li>.*?</li>", page, flags=re.S)
    waiting = [item for item in items if "A questionnaire is waiting for you there." in item]
    assert len(items) == 2
    assert len(waiting) == 1
    assert plan_url(world.plan) in waiting[0]


def test_a_relative_answers_the_caregiver_strain_index(world, portal_client):
    daughter = add_relative(world)
    own = ask(world.plan, relative=daughter, key=CSI_KEY)
    links = list(own.questionnaire.items.order_by("position").values_list("link_id", flat=True))
    client = portal_client(relatives=[daughter])

    form = main_of(client.get(url(own)))
    sent = client.post(url(own), answers([1] * 8 + [0] * 5, links))

    assert form.count("<fieldset") == 13
    assert form.count('type="radio"') == 13 * 2
    assert sent.status_code == 302
    stored = QuestionnaireResponse.objects.get()
    assert stored.score == 8
    assert stored.flagged is True  # 7 or more: high strain, for the coordinator


# --- refused: another person's, another plan's, answered, too late ----------------------------------------


def _nothing_written(asked) -> None:
    asked.refresh_from_db()
    assert asked.state == RequestState.OPEN
    assert not QuestionnaireResponse.objects.exists()


def test_a_relative_cannot_open_or_answer_the_patients_questionnaire(kirsten, portal_client):
    world, asked, _client = kirsten
    for scope, name in (
        (ConsentScope.WHOLE_PLAN, "Susanne Testesen"),
        (ConsentScope.APPOINTMENTS, "Mads Testesen"),
    ):
        relative = add_relative(world, scope=scope, name=name)
        client = portal_client(relatives=[relative])
        logged = AccessLog.objects.count()

        assert client.get(url(asked)).status_code == 404
        assert client.post(url(asked), answers([5, 5, 5, 5, 5])).status_code == 404
        assert client.get(done_url(asked)).status_code == 404
        assert AccessLog.objects.count() == logged
        assert str(asked.public_id) not in client.get(plan_url(world.plan)).content.decode()
    _nothing_written(asked)


def test_the_patient_and_another_relative_cannot_open_a_relatives_questionnaire(world, portal_client):
    daughter = add_relative(world, name="Susanne Testesen")
    son = add_relative(world, name="Mads Testesen")
    hers = ask(world.plan, relative=daughter)

    for client in (portal_client(patient=world.patient), portal_client(relatives=[son])):
        assert client.get(url(hers)).status_code == 404
        assert client.post(url(hers), answers([0, 0, 0, 0, 0])).status_code == 404
    _nothing_written(hers)


def test_another_plans_questionnaire_is_not_found(kirsten):
    world, _asked, client = kirsten
    services.plan_transition(actor=None, plan=world.other_plan, to_status=PlanStatus.ACTIVE)
    oles = ask(world.other_plan)

    # Ole's plan and his questionnaire; and his questionnaire under Kirsten's plan.
    mixed = reverse("portal:questionnaire", args=[world.plan.public_id, oles.public_id])
    for path in (url(oles), mixed):
        response = client.get(path)
        assert response.status_code == 404
        assert "Ole" not in response.content.decode()
        assert client.post(path, answers([5, 5, 5, 5, 5])).status_code == 404
    _nothing_written(oles)


def test_an_answered_questionnaire_says_thanks_again_and_takes_no_second_answer(kirsten):
    _world, asked, client = kirsten
    client.post(url(asked), answers([4, 4, 4, 4, 4]))

    again = client.get(url(asked))
    second = client.post(url(asked), answers([0, 0, 0, 0, 0]))

    assert again.status_code == 200
    assert second.status_code == 200
    assert THANKS in main_of(client.get(url(asked)))
    stored = QuestionnaireResponse.objects.get()
    assert stored.score == 80


@pytest.mark.parametrize(
    ("state", "days_left", "words"),
    [
        (RequestState.EXPIRED, -1, "It is too late to answer"),
        (RequestState.OPEN, -1, "It is too late to answer"),  # its day passed, the expiry job not run yet
        (RequestState.CANCELLED, 5, "You do not need to answer"),
    ],
)
def test_a_questionnaire_that_can_no_longer_be_answered_says_why(kirsten, state, days_left, words):
    world, asked, client = kirsten
    QuestionnaireRequest.objects.filter(pk=asked.pk).update(
        state=state,
        expires_on=timezone.localdate() + timedelta(days=days_left),
        closed_at=None if state == RequestState.OPEN else timezone.now(),
    )
    logged = AccessLog.objects.count()

    shown = client.get(url(asked))
    sent = client.post(url(asked), answers([5, 5, 5, 5, 5]))
    done = client.get(done_url(asked))
    plan_page = main_of(client.get(plan_url(world.plan)))

    for response in (shown, sent, done):
        assert response.status_code == 410
        assert words in main_of(response)
        assert "<fieldset" not in main_of(response)
    assert not QuestionnaireResponse.objects.exists()
    assert "waiting for you" not in plan_page
    assert AccessLog.objects.exclude(action=AccessAction.PORTAL_PLAN).count() == logged


def test_the_done_page_of_a_questionnaire_still_to_answer_leads_back_to_the_questions(kirsten):
    _world, asked, client = kirsten

    response = client.get(done_url(asked))

    assert response.status_code == 302
    assert response["Location"] == url(asked)


# --- a question left out ---------------------------------------------------------------------------------


def test_a_question_left_out_brings_the_form_back_with_the_answers_kept_and_nothing_written(kirsten):
    _world, asked, client = kirsten
    sent = answers([4, 3, 3, 2, 4])
    del sent["q-rested"]

    response = client.post(url(asked), sent)
    html = main_of(response)

    assert response.status_code == 422
    assert checked(html) == {"q-cheerful": "4", "q-calm": "3", "q-active": "3", "q-interest": "4"}
    summary = re.search(r'<div class="alert alert-error" role="alert">.*?</ul>', html, flags=re.S)
    assert summary, "an error summary at the top"
    assert 'href="#q-rested-5"' in summary.group(0)
    assert "Question 4" in summary.group(0)
    assert html.count('class="form-error-message"') == 1
    rested = re.search(
        r"<fieldset[^>]*>(?:(?!</fieldset>).)*q-rested(?:(?!</fieldset>).)*</fieldset>", html, re.S
    )
    assert rested
    assert "Choose an answer to this question." in rested.group(0)
    assert 'aria-describedby="q-rested-error"' in rested.group(0)
    _nothing_written(asked)


@pytest.mark.parametrize("value", ["6", "-1", "x", "1.5", "٣", "4" * 500])
def test_an_answer_off_the_scale_is_refused_on_its_question(kirsten, value):
    _world, asked, client = kirsten
    sent = answers([4, 3, 3, 2, 4]) | {"q-calm": value}

    response = client.post(url(asked), sent)

    assert response.status_code == 422
    assert "Choose one of the answers." in main_of(response)
    assert "q-calm" not in checked(main_of(response))
    _nothing_written(asked)


def test_answers_need_the_csrf_token(kirsten):
    _world, asked, client = kirsten
    client.handler.enforce_csrf_checks = True

    response = client.post(url(asked), answers([5, 5, 5, 5, 5]))

    assert response.status_code == 403
    _nothing_written(asked)


# --- the access log --------------------------------------------------------------------------------------


def test_opening_the_questionnaire_is_one_access_log_row_and_a_head_or_post_none(kirsten):
    world, asked, client = kirsten
    before = AccessLog.objects.count()

    client.get(url(asked))
    client.head(url(asked))
    rows = list(AccessLog.objects.order_by("id")[before:])
    client.post(url(asked), {"q-cheerful": "3"})  # comes back with errors: shows only what was sent

    assert len(rows) == 1
    row = rows[0]
    assert row.action == AccessAction.PORTAL_QUESTIONNAIRE
    assert row.purpose == AccessPurpose.OWN_DATA
    assert row.patient_id == world.patient.pk
    assert row.plan_id == world.plan.pk
    assert row.reader == world.patient
    assert row.actor is None
    assert AccessLog.objects.count() == before + 1


def test_a_relative_opening_their_own_is_logged_but_not_in_the_patients_access_log(world, portal_client):
    daughter = add_relative(world, name="Susanne Testesen")
    own = ask(world.plan, relative=daughter)
    portal_client(relatives=[daughter]).get(url(own))

    row = AccessLog.objects.get(action=AccessAction.PORTAL_QUESTIONNAIRE)
    log = main_of(
        portal_client(patient=world.patient).get(reverse("portal:access-log", args=[world.plan.public_id]))
    )

    assert row.reader == daughter
    assert row.purpose == AccessPurpose.RELATIVE_CONSENT
    assert "Susanne" not in log


# --- queries ---------------------------------------------------------------------------------------------


def _queries(client, path: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    assert response.status_code == 200, path
    return len(queries)


def test_the_plan_page_queries_do_not_grow_with_the_questionnaires_waiting(kirsten):
    world, _asked, client = kirsten
    one = _queries(client, plan_url(world.plan))
    for number in range(4):
        ask(world.plan, occurrence=f"every:{number}")

    many = _queries(client, plan_url(world.plan))

    assert "Some questionnaires are waiting for you" in main_of(client.get(plan_url(world.plan)))
    assert many == one


def test_the_answer_page_and_the_thanks_use_few_queries(kirsten, django_assert_max_num_queries):
    _world, asked, client = kirsten

    with django_assert_max_num_queries(QUESTIONNAIRE_QUERIES):
        assert client.get(url(asked)).status_code == 200
    with django_assert_max_num_queries(QUESTIONNAIRE_QUERIES):
        assert client.post(url(asked), {"q-cheerful": "3"}).status_code == 422
    client.post(url(asked), answers([5, 5, 5, 5, 5]))
    with django_assert_max_num_queries(DONE_QUERIES):
        assert client.get(done_url(asked)).status_code == 200
