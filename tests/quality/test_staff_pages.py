"""The questionnaires on a plan as staff see them: the wellbeing section of the plan page (trend chart and
table, for every sector taking part), a response's page (a logged read), the coordinator's flag and the
staff entry form. A relative's answers are the relative's own data: only those who may see the relative's
support record see them."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from pathways.choices import AccessAction
from pathways.models import AccessLog, PathwayPlan
from quality import services
from quality.choices import ResponseSource, ResponseStatus
from quality.models import QuestionnaireResponse
from relatives import services as relatives_services
from relatives.choices import OfferKind
from relatives.models import SupportOffer
from tests.conftest import sign_in
from tests.quality.questionnaire_helpers import relative_add, who5, who5_raw

IN_PLAN = ("coordinator", "hospital_doctor", "home_nurse", "gp_doctor")


@pytest.fixture
def aged(world):
    """The world with Kirsten's plan made a year ago, so answers can be dated over the year."""
    PathwayPlan.objects.filter(pk=world.plan.pk).update(created_at=timezone.now() - timedelta(days=400))
    world.plan.refresh_from_db()
    return world


def record(
    world, raw: int, *, days_ago: int = 0, relative=None, actor=None, source=ResponseSource.STAFF_PHONE
):
    """A WHO-5 response of `raw` (×4 = the score), entered by the coordinator `days_ago` days ago."""
    return services.response_record(
        questionnaire=who5(),
        plan=world.plan,
        answers=who5_raw(raw),
        source=source,
        relative=relative,
        actor=actor or world.coordinator,
        answered_on=timezone.localdate() - timedelta(days=days_ago),
    )


def plan_page(client, world, role: str, plan=None):
    sign_in(client, getattr(world, role))
    return client.get(reverse("pathways:plan-detail", args=[(plan or world.plan).public_id]))


def detail_url(plan, response) -> str:
    return reverse("quality:response-detail", args=[plan.public_id, response.public_id])


def section(html: str) -> str:
    found = re.search(r'<section id="wellbeing".*?</section>', html, re.S)
    assert found is not None, "no wellbeing section"
    return found.group(0)


# --- the plan section ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", IN_PLAN)
def test_every_participating_sector_sees_the_trend_with_its_table(client, aged, role):
    first = record(aged, 20, days_ago=180)
    latest = record(aged, 11, days_ago=10)
    html = section(plan_page(client, aged, role).content.decode())
    assert 'role="img"' in html
    assert "<polyline" in html
    assert "<title" in html
    assert html.count("<circle") == 2
    assert detail_url(aged.plan, first) in html
    assert detail_url(aged.plan, latest) in html
    assert 'id="wellbeing-latest"' in html
    rows = re.findall(r'<tr id="response-', html)
    assert len(rows) == 2


def test_the_table_lists_newest_first_with_score_band_and_how_answered(client, aged):
    record(aged, 20, days_ago=180)  # 80: no sign of reduced wellbeing
    record(aged, 11, days_ago=10, source=ResponseSource.STAFF_VISIT)  # 44: reduced
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    html = section(plan_page(client, aged, "home_nurse").content.decode())
    table = html.split('id="wellbeing-table"')[1]
    assert table.index('data-label="Score">44') < table.index('data-label="Score">80')
    assert "Reduced wellbeing" in table
    assert "No sign of reduced wellbeing" in table
    assert "Entered by staff: answered at a visit" in table
    assert "Latest WHO-5 score: 44 of 100" in html
    assert "not a diagnosis" in html


def test_the_chart_marks_the_flag_line_and_holds_no_inline_style(client, aged):
    record(aged, 20, days_ago=100)
    record(aged, 12, days_ago=50)
    record(aged, 16, days_ago=1)
    html = section(plan_page(client, aged, "gp_doctor").content.decode())
    svg = html[html.index("<svg") : html.index("</svg>")]
    assert "style=" not in svg
    assert "aria-label=" in svg
    # The flag line at 50: halfway up the plot (its top at y 10, its bottom at y 154).
    dashed_match = re.search(r"<line [^>]*stroke-dasharray[^>]*>", svg)
    assert dashed_match is not None
    dashed = dashed_match.group(0)
    assert 'y1="82.0"' in dashed
    assert 'y2="82.0"' in dashed
    # The points run left to right, oldest first; a higher score sits higher (smaller y).
    points_match = re.search(r'points="([^"]+)"', svg)
    assert points_match is not None
    points = [tuple(map(float, pair.split(","))) for pair in points_match.group(1).split()]
    assert [x for x, _ in points] == sorted(x for x, _ in points)
    assert points[1][1] > points[0][1]
    assert points[1][1] > points[2][1]


def test_no_answers_yet_says_so_without_a_chart(client, world):
    html = section(plan_page(client, world, "hospital_doctor").content.decode())
    assert "<svg" not in html
    assert "wellbeing-table" not in html


def test_an_outsider_gets_404_for_the_plan_and_its_responses(client, aged):
    response = record(aged, 20, days_ago=3)
    assert plan_page(client, aged, "outsider").status_code == 404
    assert client.get(detail_url(aged.plan, response)).status_code == 404


def test_a_response_of_another_plan_is_404_through_ones_own_plan(client, aged):
    response = record(aged, 20, days_ago=3)
    sign_in(client, aged.outsider)
    url = reverse("quality:response-detail", args=[aged.other_plan.public_id, response.public_id])
    assert client.get(url).status_code == 404


def test_answers_in_error_leave_the_trend(client, aged):
    kept = record(aged, 20, days_ago=30)
    wrong = record(aged, 5, days_ago=3)
    services.response_mark_error(actor=aged.coordinator, response=wrong, expected_version=wrong.version)
    html = section(plan_page(client, aged, "coordinator").content.decode())
    assert detail_url(aged.plan, kept) in html
    assert detail_url(aged.plan, wrong) not in html


def test_the_section_reads_in_the_same_number_of_queries_however_many_answers(client, aged):
    relative = relative_add(aged.plan)
    record(aged, 20, days_ago=300)
    record(aged, 14, days_ago=3, relative=relative)
    sign_in(client, aged.coordinator)
    url = reverse("pathways:plan-detail", args=[aged.plan.public_id])
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    for days in range(10, 250, 20):
        record(aged, 8 + days % 15, days_ago=days)
        record(aged, 10, days_ago=days, relative=relative)
    with CaptureQueriesContext(connection) as many:
        html = client.get(url).content.decode()
    assert html.count("<circle") == 10  # the last ten
    assert len(many) == len(few)


# --- relatives' answers: the relative's own data -----------------------------------------------------------


def test_a_relatives_answers_are_shown_only_to_those_who_may_see_their_support_record(client, aged):
    relative = relative_add(aged.plan)
    theirs = record(aged, 9, days_ago=2, relative=relative)
    url = detail_url(aged.plan, theirs)
    assert url in section(plan_page(client, aged, "coordinator").content.decode())
    assert client.get(url).status_code == 200
    for role in ("hospital_doctor", "home_nurse", "gp_doctor"):
        assert url not in section(plan_page(client, aged, role).content.decode())
        assert client.get(url).status_code == 404
    # A referral to the hospital's offer gives its staff a reason to see the relative's record.
    offer = SupportOffer.objects.create(
        name="Samtale", kind=OfferKind.CONVERSATION, organisation=aged.hospital
    )
    relatives_services.support_referral_create(actor=None, relative=relative, offer=offer)
    assert url in section(plan_page(client, aged, "hospital_doctor").content.decode())
    assert client.get(url).status_code == 200


def test_reading_a_relatives_answer_is_logged_as_their_support_record(client, aged):
    relative = relative_add(aged.plan)
    theirs = record(aged, 9, days_ago=2, relative=relative)
    sign_in(client, aged.coordinator)
    before = AccessLog.objects.count()
    assert client.get(detail_url(aged.plan, theirs)).status_code == 200
    rows = list(AccessLog.objects.order_by("id")[before:])
    assert [row.action for row in rows] == [AccessAction.VIEW_RELATIVE_SUPPORT]


# --- the response page --------------------------------------------------------------------------------------


def test_opening_a_response_writes_one_access_log_row(client, aged):
    response = record(aged, 11, days_ago=5)
    sign_in(client, aged.gp_doctor)
    before = AccessLog.objects.count()
    assert client.get(detail_url(aged.plan, response)).status_code == 200
    rows = list(AccessLog.objects.order_by("id")[before:])
    assert [(row.action, row.actor_id, row.patient_id) for row in rows] == [
        (AccessAction.VIEW_RESPONSE, aged.gp_doctor.pk, aged.patient.pk)
    ]


def test_the_response_page_shows_each_answer_score_band_and_who_entered_it(client, aged):
    response = services.response_record(
        questionnaire=who5(),
        plan=aged.plan,
        answers={"cheerful": 1, "calm": 3, "active": 2, "rested": 3, "interest": 2},
        source=ResponseSource.STAFF_PAPER,
        actor=aged.home_nurse,
        answered_on=timezone.localdate() - timedelta(days=4),
    )
    sign_in(client, aged.hospital_doctor)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    html = client.get(detail_url(aged.plan, response)).content.decode()
    assert "Some of the time" in html
    assert "More than half of the time" in html
    assert "44 of 100" in html
    assert "(sum of the answers: 11)" in html
    assert "Reduced wellbeing" in html
    assert "not a diagnosis" in html
    assert "Entered by staff: answered on paper" in html
    assert "Home_Nurse" in html
    assert html.count("Very low") == 1  # "cheerful" at 1
    assert "Flagged for the coordinator" in html
    # Not the coordinator, not the one who entered it: no buttons.
    assert "/seen/" not in html
    assert "/error/" not in html


def test_the_response_page_reads_in_a_fixed_number_of_queries(client, aged, django_assert_max_num_queries):
    response = record(aged, 11, days_ago=5)
    sign_in(client, aged.coordinator)
    client.get(detail_url(aged.plan, response))
    with django_assert_max_num_queries(22):
        assert client.get(detail_url(aged.plan, response)).status_code == 200


# --- the coordinator's flag ---------------------------------------------------------------------------------


def test_only_the_coordinator_marks_a_flag_seen(client, aged):
    flagged = record(aged, 10, days_ago=1)
    assert flagged.flagged
    url = reverse("quality:response-flag-seen", args=[aged.plan.public_id, flagged.public_id])
    for role in ("home_nurse", "hospital_doctor", "gp_doctor"):
        sign_in(client, getattr(aged, role))
        assert "/seen/" not in client.get(detail_url(aged.plan, flagged)).content.decode()
        assert client.post(url).status_code == 403
    flagged.refresh_from_db()
    assert flagged.flag_seen_at is None
    sign_in(client, aged.coordinator)
    assert url in client.get(detail_url(aged.plan, flagged)).content.decode()
    assert client.post(url).status_code == 302
    flagged.refresh_from_db()
    assert flagged.flag_seen_at is not None
    assert flagged.flag_seen_by == aged.coordinator


def test_an_unseen_flag_shows_on_the_plan_and_in_the_caseload_filter(client, aged):
    flagged = record(aged, 10, days_ago=1)
    html = section(plan_page(client, aged, "coordinator").content.decode())
    assert 'id="wellbeing-flags"' in html
    assert detail_url(aged.plan, flagged) in html
    caseload = client.get(reverse("pathways:caseload"), {"wellbeing_flag": "on"}).content.decode()
    assert str(aged.plan.public_id) in caseload
    services.flag_mark_seen(actor=aged.coordinator, response=flagged)
    assert 'id="wellbeing-flags"' not in section(plan_page(client, aged, "coordinator").content.decode())
    caseload = client.get(reverse("pathways:caseload"), {"wellbeing_flag": "on"}).content.decode()
    assert str(aged.plan.public_id) not in caseload


def test_a_relatives_flag_is_not_named_to_those_who_may_not_see_it(client, aged):
    relative = relative_add(aged.plan)
    record(aged, 5, days_ago=1, relative=relative)
    assert 'id="wellbeing-flags"' not in section(plan_page(client, aged, "home_nurse").content.decode())
    caseload = client.get(reverse("pathways:caseload"), {"wellbeing_flag": "on"}).content.decode()
    assert str(aged.plan.public_id) not in caseload
    assert 'id="wellbeing-flags"' in section(plan_page(client, aged, "coordinator").content.decode())


# --- entered in error ---------------------------------------------------------------------------------------


def test_marking_in_error_needs_the_version_one_saw(client, aged):
    response = record(aged, 12, days_ago=1, actor=aged.home_nurse)
    url = reverse("quality:response-mark-error", args=[aged.plan.public_id, response.public_id])
    sign_in(client, aged.home_nurse)
    assert client.post(url, {"version": response.version + 5}).status_code == 409
    assert client.post(url, {"version": "x"}).status_code == 400
    response.refresh_from_db()
    assert response.status == ResponseStatus.COMPLETED
    assert client.post(url, {"version": response.version}).status_code == 302
    response.refresh_from_db()
    assert response.status == ResponseStatus.ENTERED_IN_ERROR


def test_someone_who_did_not_enter_it_cannot_mark_it_in_error(client, aged):
    response = record(aged, 12, days_ago=1, actor=aged.home_nurse)
    sign_in(client, aged.gp_doctor)
    url = reverse("quality:response-mark-error", args=[aged.plan.public_id, response.public_id])
    assert client.post(url, {"version": response.version}).status_code == 403
    response.refresh_from_db()
    assert response.status == ResponseStatus.COMPLETED


# --- staff entry --------------------------------------------------------------------------------------------


def entry_body(day, **extra):
    body = {
        "questionnaire": "who5",
        "respondent": "patient",
        "source": ResponseSource.STAFF_PHONE,
        "answered_on": day.isoformat(),
        "item_cheerful": "4",
        "item_calm": "3",
        "item_active": "2",
        "item_rested": "1",
        "item_interest": "5",
    }
    return body | extra


def test_staff_entry_records_the_answers_the_source_and_the_staff_member(client, aged):
    sign_in(client, aged.home_nurse)
    url = reverse("quality:response-create", args=[aged.plan.public_id])
    assert client.get(url).status_code == 200
    day = timezone.localdate() - timedelta(days=2)
    answer = client.post(url, entry_body(day))
    assert answer.status_code == 302
    assert answer["Location"].endswith("#wellbeing")
    response = QuestionnaireResponse.objects.get(plan=aged.plan)
    assert response.answers == {"cheerful": 4, "calm": 3, "active": 2, "rested": 1, "interest": 5}
    assert (response.source, response.answered_on, response.relative) == (
        ResponseSource.STAFF_PHONE,
        day,
        None,
    )
    assert (response.entered_by, response.entered_by_organisation) == (aged.home_nurse, aged.municipality)
    assert (response.raw_score, response.score, response.flagged) == (15, 60, True)


@pytest.mark.parametrize(
    "change",
    [
        {"item_rested": ""},
        {"item_rested": "9"},
        {"answered_on": "2999-01-01"},
        {"answered_on": "2025-13-40"},
        {"source": "portal"},
        {"respondent": "someone"},
        {"questionnaire": "csi"},
    ],
)
def test_bad_input_shows_the_form_again_and_writes_nothing(client, aged, change):
    sign_in(client, aged.home_nurse)
    url = reverse("quality:response-create", args=[aged.plan.public_id])
    answer = client.post(url, entry_body(timezone.localdate(), **change))
    assert answer.status_code == 422
    assert 'id="response-form"' in answer.content.decode()
    assert not QuestionnaireResponse.objects.exists()


def test_a_relative_is_offered_only_to_those_who_may_see_their_record(client, aged):
    relative = relative_add(aged.plan)
    url = reverse("quality:response-create", args=[aged.plan.public_id])
    sign_in(client, aged.home_nurse)
    assert str(relative.public_id) not in client.get(url).content.decode()
    refused = client.post(url, entry_body(timezone.localdate(), respondent=str(relative.public_id)))
    assert refused.status_code == 422
    sign_in(client, aged.coordinator)
    assert str(relative.public_id) in client.get(url).content.decode()
    saved = client.post(url, entry_body(timezone.localdate(), respondent=str(relative.public_id)))
    assert saved.status_code == 302
    assert QuestionnaireResponse.objects.get().relative == relative


def test_an_outsider_cannot_open_the_entry_form(client, aged):
    sign_in(client, aged.outsider)
    url = reverse("quality:response-create", args=[aged.plan.public_id])
    assert client.get(url).status_code == 404
    assert client.post(url, entry_body(timezone.localdate())).status_code == 404
    assert not QuestionnaireResponse.objects.exists()


def test_the_entry_form_reads_in_a_fixed_number_of_queries(client, aged, django_assert_max_num_queries):
    for name in ("Lars", "Mette", "Ib"):
        relative_add(aged.plan, name=name)
    sign_in(client, aged.coordinator)
    url = reverse("quality:response-create", args=[aged.plan.public_id])
    client.get(url)
    with django_assert_max_num_queries(20):
        assert client.get(url).status_code == 200
