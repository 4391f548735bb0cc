"""Wilson score intervals and the interval of a mean, against values worked out by hand or published."""

from __future__ import annotations

import math

import pytest

from quality.statistics import Z_95, mean, mean_interval, t_quantile_95, wilson_interval


def _rounded(interval: tuple[float, float] | None, places: int = 4) -> tuple[float, float]:
    assert interval is not None
    return round(interval[0], places), round(interval[1], places)


def _known(interval: tuple[float, float] | None) -> tuple[float, float]:
    assert interval is not None
    return interval


def test_wilson_81_of_263_matches_the_published_interval():
    # Wilson (1927) as in Newcombe (1998), example: 81/263 → 0.2553 to 0.3662.
    assert _rounded(wilson_interval(81, 263)) == (0.2553, 0.3662)


def test_wilson_for_none_of_ten_starts_at_zero():
    # p = 0: the interval is [0, z²/(n + z²)] = [0, 3.8415/13.8415].
    low, high = _known(wilson_interval(0, 10))
    assert low == 0.0
    assert high == pytest.approx(Z_95**2 / (10 + Z_95**2))
    assert round(high, 4) == 0.2775


def test_wilson_for_ten_of_ten_ends_at_one():
    low, high = _known(wilson_interval(10, 10))
    assert high == 1.0
    assert low == pytest.approx(10 / (10 + Z_95**2))
    assert round(low, 4) == 0.7225


def test_wilson_for_half_is_symmetric_about_a_half():
    # p = ½: centre ½; half width = z/(1 + z²/n)·√(1/4n + z²/4n²); n = 10 → 0.2366 to 0.7634.
    low, high = _known(wilson_interval(5, 10))
    assert low + high == pytest.approx(1.0)
    assert (round(low, 4), round(high, 4)) == (0.2366, 0.7634)


def test_wilson_for_one_of_one_is_wide():
    # n = 1, x = 1: low = 1/(1 + z²) = 0.2065.
    assert _rounded(wilson_interval(1, 1)) == (0.2065, 1.0)


def test_wilson_of_many_is_near_the_normal_interval():
    # n = 10 000, p = 0.9: the normal interval 0.9 ± 1.96·√(0.09/10000) = 0.8941 to 0.9059; Wilson's
    # centre is pulled a little towards ½ (by z²/2n ≈ 0.0002).
    low, high = _known(wilson_interval(9000, 10000))
    assert low == pytest.approx(0.8941, abs=2e-4)
    assert high == pytest.approx(0.9059, abs=2e-4)
    assert (low + high) / 2 < 0.9


def test_wilson_with_no_units_has_no_interval():
    assert wilson_interval(0, 0) is None


@pytest.mark.parametrize(("numerator", "denominator"), [(5, 4), (-1, 3), (0, -1)])
def test_wilson_refuses_impossible_counts(numerator, denominator):
    with pytest.raises(ValueError, match="numerator"):
        wilson_interval(numerator, denominator)


def test_wilson_contains_the_share_and_narrows_with_more_units():
    previous_width = 1.0
    for n in (10, 40, 160, 640):
        low, high = _known(wilson_interval(n // 4, n))
        assert low < 0.25 < high
        assert high - low < previous_width
        previous_width = high - low


def test_a_narrower_z_gives_a_narrower_interval():
    wide = _known(wilson_interval(30, 100))
    narrow = _known(wilson_interval(30, 100, z=1.0))
    assert narrow[0] > wide[0]
    assert narrow[1] < wide[1]


def test_mean_interval_from_sums_matches_the_hand_worked_t_interval():
    # Values 2, 4, 6: mean 4, s² = ((−2)² + 0 + 2²)/2 = 4, s = 2, t(2) = 4.303 → 4 ± 4.303·2/√3 = ±4.9687.
    low, high = _known(mean_interval(3, 12.0, 4.0 + 16.0 + 36.0))
    assert low == pytest.approx(4 - 4.303 * 2 / math.sqrt(3))
    assert high == pytest.approx(4 + 4.303 * 2 / math.sqrt(3))
    assert round(high - 4, 4) == 4.9687


def test_mean_interval_of_equal_values_has_no_width():
    assert mean_interval(5, 5 * 60.0, 5 * 3600.0) == (60.0, 60.0)


def test_mean_interval_needs_two_values():
    assert mean_interval(1, 52.0, 52.0**2) is None
    assert mean_interval(0, 0.0, 0.0) is None


def test_mean_of_no_values_is_none():
    assert mean(0, 0.0) is None
    assert mean(4, 200.0) == 50.0


def test_t_quantile_from_the_table_and_beyond_it():
    assert t_quantile_95(1) == 12.706
    assert t_quantile_95(30) == 2.042
    # Published: t(40) = 2.021, t(60) = 2.000, t(120) = 1.980; towards z for very many.
    assert round(t_quantile_95(40), 3) == 2.021
    assert round(t_quantile_95(60), 3) == 2.000
    assert round(t_quantile_95(120), 3) == 1.980
    assert t_quantile_95(100_000) == pytest.approx(Z_95, abs=1e-4)
    with pytest.raises(ValueError, match="degree"):
        t_quantile_95(0)
