"""Scoring of the shipped questionnaires at the edges of their bands and flag rules (STANDARDS.md §4.1):
WHO-5 raw 12 → 48 flagged, raw 13 → 52 not flagged unless an answer is 0 or 1; bands 0–28 / 29–50 /
51–100; the Caregiver Strain Index flags from 7 "yes"."""

from __future__ import annotations

import pytest

from quality.choices import BandTone
from quality.services import Scale, answers_clean, response_score
from tests.quality.questionnaire_helpers import answers, csi, csi_yes, shipped, who5, who5_raw  # noqa: F401 (autouse)

pytestmark = pytest.mark.django_db


def score_of(questionnaire, given):
    scale = Scale.of(questionnaire)
    return response_score(scale=scale, answers=answers_clean(scale=scale, answers=given))


@pytest.mark.parametrize(
    ("raw", "score", "tone", "flagged"),
    [
        (0, 0, BandTone.ALERT, True),
        (7, 28, BandTone.ALERT, True),
        (8, 32, BandTone.WARNING, True),
        (12, 48, BandTone.WARNING, True),
        (13, 52, BandTone.GOOD, False),
        (25, 100, BandTone.GOOD, False),
    ],
)
def test_who5_score_is_raw_times_four_in_its_band_and_flags_at_50_or_less(raw, score, tone, flagged):
    result = score_of(who5(), who5_raw(raw))
    assert (result.raw, result.score, result.max_score) == (raw, score, 100)
    assert result.band is not None
    assert result.band.tone == tone
    assert result.flagged is flagged


def test_who5_band_edges_are_28_29_50_51():
    bands = [(band.lowest, band.highest) for band in Scale.of(who5()).bands]
    assert bands == [(0, 28), (29, 50), (51, 100)]


def test_who5_above_50_is_flagged_when_one_answer_is_1_and_names_that_question():
    given = answers(who5(), [5, 5, 1, 3, 4])  # raw 18 → 72
    result = score_of(who5(), given)
    assert result.score == 72
    assert result.flagged
    assert result.low_items == [list(given)[2]]


def test_who5_above_50_with_every_answer_2_or_more_is_not_flagged():
    result = score_of(who5(), answers(who5(), [2, 2, 3, 3, 3]))  # raw 13 → 52
    assert (result.score, result.flagged, result.low_items) == (52, False, [])


def test_who5_an_answer_of_0_flags_too():
    result = score_of(who5(), answers(who5(), [5, 5, 5, 5, 0]))
    assert result.score == 80
    assert result.flagged
    assert len(result.low_items) == 1


@pytest.mark.parametrize(
    ("yes", "flagged", "tone"),
    [
        (0, False, BandTone.NEUTRAL),
        (6, False, BandTone.NEUTRAL),
        (7, True, BandTone.ALERT),
        (13, True, BandTone.ALERT),
    ],
)
def test_caregiver_strain_flags_from_7_yes(yes, flagged, tone):
    result = score_of(csi(), csi_yes(yes))
    assert (result.raw, result.score, result.max_score) == (yes, yes, 13)
    assert result.flagged is flagged
    assert result.band is not None
    assert result.band.tone == tone
    assert result.low_items == []
