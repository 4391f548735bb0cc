"""Confidence intervals for the indicators (pure functions, no database).

A share (numerator of denominator) gets the Wilson score interval, as the RKKP reports use (STANDARDS.md
§5.6): unlike the plain normal interval it stays inside 0–1 and behaves at 0 % and 100 % and for small
denominators. A mean (the WHO-5 score) gets the t interval from the number of answers, their sum and the sum
of their squares, which is what the summary table keeps per cell (IndicatorCell.value_sum, value_sumsq), so
cells can be added up before the interval is taken.

Both return None where there is no interval to give (no units, or a single answer for a mean).
"""

from __future__ import annotations

import math

Z_95 = 1.959963984540054
"""The standard normal quantile for a two-sided 95 % interval."""

# Student's t, two-sided 95 %, for 1–30 degrees of freedom (standard tables); above 30 the Cornish–Fisher
# expansion below is accurate to about 0.001.
_T_95 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip


def wilson_interval(numerator: int, denominator: int, *, z: float = Z_95) -> tuple[float, float] | None:
    """The Wilson score interval for numerator/denominator, as proportions 0–1 (None for denominator 0).

    centre = (p + z²/2n) / (1 + z²/n); half width = z / (1 + z²/n) · √(p(1−p)/n + z²/4n²).
    """
    if denominator < 0 or numerator < 0 or numerator > denominator:
        raise ValueError("A share needs 0 ≤ numerator ≤ denominator.")
    if denominator == 0:
        return None
    n = float(denominator)
    p = numerator / n
    z2 = z * z
    scale = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / scale
    half = z / scale * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    # At 0 and n the interval touches the edge exactly; rounding must not push it past 0 or 1.
    low = 0.0 if numerator == 0 else max(0.0, centre - half)
    high = 1.0 if numerator == denominator else min(1.0, centre + half)
    return low, high


def t_quantile_95(degrees_of_freedom: int) -> float:
    """Student's t for a two-sided 95 % interval."""
    if degrees_of_freedom < 1:
        raise ValueError("A t interval needs at least one degree of freedom.")
    if degrees_of_freedom <= len(_T_95):
        return _T_95[degrees_of_freedom - 1]
    z, df = Z_95, float(degrees_of_freedom)
    return (
        z
        + (z**3 + z) / (4 * df)
        + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)
        + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * df**3)
    )


def mean(n: int, total: float) -> float | None:
    """The mean of n values that add up to total (None for no values)."""
    return total / n if n > 0 else None


def mean_interval(n: int, total: float, total_sq: float) -> tuple[float, float] | None:
    """The 95 % interval of the mean of n values, from their sum and the sum of their squares:
    mean ± t(n−1) · s/√n with the sample variance s² = (Σx² − (Σx)²/n) / (n − 1). None below 2 values."""
    if n < 2:
        return None
    centre = total / n
    # Σx² − (Σx)²/n loses precision when the spread is small beside the mean: never below 0.
    variance = max(0.0, (total_sq - total * total / n) / (n - 1))
    half = t_quantile_95(n - 1) * math.sqrt(variance / n)
    return centre - half, centre + half
