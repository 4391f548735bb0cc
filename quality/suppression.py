"""Small cells hidden wherever the indicators' numbers leave the database (STANDARDS.md §5.5): pure
functions, no database. The dashboard's HTML, its CSV and its chart data all go through `protect`.

The shape
---------
`Counts(denominator, numerator=0, missing=0, value_sum=0.0, value_sumsq=0.0)` — one cell as the summary
table adds it up: `denominator` the units counted (with a known outcome), `numerator` those meeting the
standard's rule (proportion) — for a mean, `denominator` is the number of answers and `value_sum` /
`value_sumsq` their sum and sum of squares — and `missing` the units whose outcome cannot be known (RKKP
"uoplyst"; outside the denominator).

`protect(rows, total=None, *, measure="proportion") -> (list[Shown], Shown | None)` — the cells of ONE
breakdown (rows: by municipality, by education, by month, by organisation…) with the total they add up to.
Rows that do not add up to the total leave a remainder (e.g. "education unknown" left out of the table): the
remainder is protected as a hidden cell of its own, since total − rows would show it. `total=None`: the
total is not on this output, but it may be elsewhere, so it is still taken as known to a reader.
`protect_total(counts, *, measure)` is the same for one number on its own.

`Shown` — one cell ready to show: `numerator`, `denominator`, `missing` as text: the number ("0", "17"),
`SMALL` ("<5": a count of 1–4) or `HIDDEN` ("–": hidden so that the small cells cannot be worked out);
`numerator_value` / `denominator_value` / `missing_value` the same as int, or None where hidden (for the
charts: a funnel plot needs the denominator); `percent` (0–100) and `ci` (the Wilson 95 % interval, in
percent) for a share; `mean` and `ci` (t interval) for a mean; `suppressed` True where anything in the cell
is hidden. A cell with no units shows 0 and no percent.

The rules
---------
1. A count of 1–4 is shown as "<5" (DST: never fewer than five in a published cell). Zero is shown as 0:
   an empty cell tells nothing about a person.
2. A cell whose denominator is hidden hides its numerator too ("–"): "0 of <5" would tell that none of
   those few people got the visit. (The missing count is outside the denominator: rules 1 and 4 only.)
3. A percentage (and its interval) is shown only where the denominator is at least 5 and the numerator is
   0 or at least 5 (a numerator of 1–4 is a small cell too). A mean is shown only where there are at least
   5 answers.
4. Complementary suppression, for the denominators, then the numerators, then the missing counts of the
   breakdown: the reader knows the total and every shown cell, so the hidden cells' sum is known. Until no
   hidden cell can be worked out, the next smallest shown cell (not 0) is hidden as well ("–"), and if none
   is left, the total. "Cannot be worked out" is checked exactly (`_feasible`): from what the output says
   — a shown number exactly, "<5" as 1–4, a "–" as at least 5 (up to the cell's shown denominator for a
   numerator), a "–" numerator of a hidden cell as 0 up to its denominator's range — every value a hidden
   cell could still take is worked out from the sum; a hidden count of 1–4 must still be able to be any of
   1–4 (under a shown total) and any other hidden value must keep at least two possibilities.
5. Where a total is 1–4, its cells are not shown at all ("–"): the few people behind it are not split
   further (four groups of "<5" under a total of "<5" would each be 1).
6. Where rule 4 runs out of cells to hide and a hidden cell could still be worked out — the total is
   known from elsewhere and the other cells are zeros (two "<5" beside zeros under a total of 8 are 4 and
   4) — none of that count's cells are shown: all "–", each any value from 0 up.

Across outputs, the dashboard (quality.reports) protects every table in the same order of its units'
keys, so a cell is hidden alike wherever it stands, lists no units under a total of 1–4, and shows no
count under a filter that chooses a unit the table one level up hides (`reports.withheld`). What cell
suppression cannot protect against, here or anywhere: differences between outputs that overlap without
one being a cell of the other — two period ranges (January–March minus January–February), or all
municipalities' education groups minus those of each municipality shown (the hidden municipalities
together) — see docs/architecture.md, "Quality".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from quality.statistics import mean_interval, wilson_interval

MIN_COUNT = 5
SMALL = "<5"
HIDDEN = "–"
PROPORTION = "proportion"
MEAN = "mean"
_INF = math.inf


@dataclass(frozen=True)
class Counts:
    """One cell's counts, as the summary table adds them up."""

    denominator: int
    numerator: int = 0
    missing: int = 0
    value_sum: float = 0.0
    value_sumsq: float = 0.0

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            denominator=self.denominator + other.denominator,
            numerator=self.numerator + other.numerator,
            missing=self.missing + other.missing,
            value_sum=self.value_sum + other.value_sum,
            value_sumsq=self.value_sumsq + other.value_sumsq,
        )


@dataclass(frozen=True)
class Shown:
    """One cell as it may be shown (see the module's docstring)."""

    numerator: str
    denominator: str
    missing: str
    numerator_value: int | None
    denominator_value: int | None
    missing_value: int | None
    percent: float | None
    mean: float | None
    ci: tuple[float, float] | None
    suppressed: bool


@dataclass
class _Value:
    """One count during protection: its true value, whether it is hidden and the range a reader knows."""

    value: int
    hidden: bool = False
    low: float = 0
    high: float = 0
    hideable: bool = True

    def show(self) -> None:
        self.hidden, self.low, self.high = False, self.value, self.value

    def hide(self, low: float, high: float) -> None:
        self.hidden, self.low, self.high = True, low, high


def _primary(value: _Value) -> None:
    """Rule 1: 1–4 is "<5"; anything else is shown."""
    if 1 <= value.value < MIN_COUNT:
        value.hide(1, MIN_COUNT - 1)
    else:
        value.show()


def _feasible(values: Sequence[_Value], total: _Value) -> list[tuple[float, float]]:
    """Every value the reader can still give each cell (then the total), knowing the cells add up to the
    total and each lies in its known range. Sums of integer ranges are whole ranges, so this is exact."""
    low_sum = sum(v.low for v in values)
    unbounded = sum(1 for v in values if v.high == _INF)
    finite_high = sum(v.high for v in values if v.high != _INF)
    out: list[tuple[float, float]] = []
    for v in values:
        others_low = low_sum - v.low
        if v.high == _INF:
            others_high = _INF if unbounded > 1 else finite_high
        else:
            others_high = _INF if unbounded else finite_high - v.high
        low = max(v.low, total.low - others_high)
        high = min(v.high, total.high - others_low)
        out.append((low, high))
    out.append((max(total.low, low_sum), min(total.high, _INF if unbounded else finite_high)))
    return out


def _safe(value: _Value, feasible: tuple[float, float], total: _Value) -> bool:
    if not value.hidden:
        return True
    if value.value == 0 and not total.hidden and total.value == 0:
        return True  # a total of 0 already says every cell is 0
    low, high = feasible
    if 1 <= value.value < MIN_COUNT and not total.hidden:
        return low <= 1 and high >= MIN_COUNT - 1
    # Under a total that is itself "<5" the reader knows every cell is small; two values must remain.
    return high - low >= 1


def _complement(values: list[_Value], total: _Value, *, hide_cap: Sequence[float]) -> None:
    """Rule 4 for one kind of count: hide the next smallest shown cell (then the total) until no hidden
    cell can be worked out. `hide_cap[i]`: the most cell i (the last: the total) can be, as the reader
    knows it."""
    everything = [*values, total]
    while True:
        feasible = _feasible(values, total)
        if all(_safe(v, f, total) for v, f in zip(everything, feasible, strict=True)):
            return
        # A hidden cell must keep two possible values: a numerator of 5 out of 5 would not.
        candidates = [
            (v.value, i)
            for i, v in enumerate(values)
            if not v.hidden and v.value > 0 and v.hideable and hide_cap[i] > MIN_COUNT
        ]
        if candidates:
            _, index = min(candidates)
            values[index].hide(MIN_COUNT, hide_cap[index])
        elif not total.hidden and total.hideable and total.value > 0 and hide_cap[-1] > MIN_COUNT:
            total.hide(MIN_COUNT, hide_cap[-1])
        else:
            _hide_all(values, hide_cap)
            return


def _hide_all(values: Sequence[_Value], hide_cap: Sequence[float]) -> None:
    """Rule 6: when no further cell of 5 or more can protect a small one beside a known total (the rest
    are zeros, or too few), none of the cells of this count is shown — zeros and small ones alike "–", any
    value from 0 to the cell's cap — so two "<5" beside zeros no longer say "4 and 4" under a total of 8."""
    for value, cap in zip(values, hide_cap, strict=False):
        if value.hideable and cap > 0:  # the numerator of an empty cell stays 0
            value.hide(0, cap)


def _split_no_further(values: Sequence[_Value], total: _Value) -> None:
    """Rule 5: the few people behind a total of 1–4 are not split into cells."""
    if total.hidden and total.low >= 1 and total.high <= MIN_COUNT - 1:  # the total shows as "<5"
        for value in values:
            value.hide(0, MIN_COUNT - 1)
            value.hideable = False


def _text(value: _Value) -> str:
    if not value.hidden:
        return str(value.value)
    # "<5" only where the reader may know it is 1–4 (rule 1); a hidden cell's numerator is "–", even if small.
    return SMALL if value.low >= 1 and value.high <= MIN_COUNT - 1 else HIDDEN


def protect(
    rows: Sequence[Counts], total: Counts | None = None, *, measure: str = PROPORTION
) -> tuple[list[Shown], Shown | None]:
    """The cells of one breakdown and its total, small cells hidden (see the module's docstring)."""
    if measure not in (PROPORTION, MEAN):
        raise ValueError(f"Unknown measure {measure!r}.")
    summed = Counts(denominator=0)
    for row in rows:
        if min(row.denominator, row.numerator, row.missing) < 0:
            raise ValueError("Counts cannot be negative.")
        if measure == PROPORTION and row.numerator > row.denominator:
            raise ValueError("A numerator cannot exceed its denominator.")
        summed = summed + row
    cells = list(rows)
    whole = total if total is not None else summed
    remainder = Counts(
        denominator=whole.denominator - summed.denominator,
        numerator=whole.numerator - summed.numerator,
        missing=whole.missing - summed.missing,
        value_sum=whole.value_sum - summed.value_sum,
        value_sumsq=whole.value_sumsq - summed.value_sumsq,
    )
    if min(remainder.denominator, remainder.numerator, remainder.missing) < 0:
        raise ValueError("The rows add up to more than the total.")
    if remainder.denominator or remainder.numerator or remainder.missing:
        cells.append(remainder)  # protected like any cell, never shown

    hideable_total = total is not None
    # Denominators.
    den = [_Value(c.denominator) for c in cells]
    den_total = _Value(whole.denominator, hideable=hideable_total)
    for v in [*den, den_total]:
        _primary(v)
    _split_no_further(den, den_total)
    _complement(den, den_total, hide_cap=[_INF] * (len(den) + 1))

    def counted(kind: str) -> tuple[list[_Value], _Value]:
        values = [_Value(getattr(c, kind)) for c in cells]
        caps: list[float] = []
        for value, d in zip(values, den, strict=True):
            if d.hidden and kind == "numerator":
                # Rule 2: hidden with the cell; a reader knows only what the denominator's range allows.
                value.hide(0, d.high)
                value.hideable = False
            else:
                _primary(value)
            caps.append(d.value if kind == "numerator" else _INF)
        whole_value = _Value(getattr(whole, kind), hideable=hideable_total)
        if den_total.hidden and kind == "numerator":
            whole_value.hide(0, den_total.high)
            whole_value.hideable = False
        else:
            _primary(whole_value)
        _split_no_further(values, whole_value)
        caps.append(whole.denominator if kind == "numerator" else _INF)
        _complement(values, whole_value, hide_cap=caps)
        return values, whole_value

    if measure == PROPORTION:
        num, num_total = counted("numerator")
    else:
        num = [_Value(0) for _ in cells]
        num_total = _Value(0)
        for v in [*num, num_total]:
            v.show()
    mis, mis_total = counted("missing")

    def shown(c: Counts, d: _Value, n: _Value, m: _Value) -> Shown:
        percent = mean_value = None
        ci: tuple[float, float] | None = None
        if not d.hidden and d.value >= MIN_COUNT:
            if measure == PROPORTION and not n.hidden and (n.value == 0 or n.value >= MIN_COUNT):
                percent = 100.0 * n.value / d.value
                interval = wilson_interval(n.value, d.value)
                ci = (100.0 * interval[0], 100.0 * interval[1]) if interval else None
            elif measure == MEAN:
                mean_value = c.value_sum / d.value
                ci = mean_interval(d.value, c.value_sum, c.value_sumsq)
        return Shown(
            numerator=_text(n) if measure == PROPORTION else "",
            denominator=_text(d),
            missing=_text(m),
            numerator_value=None if n.hidden or measure == MEAN else n.value,
            denominator_value=None if d.hidden else d.value,
            missing_value=None if m.hidden else m.value,
            percent=percent,
            mean=mean_value,
            ci=ci,
            suppressed=d.hidden or n.hidden or m.hidden,
        )

    shown_rows = [shown(c, d, n, m) for c, d, n, m in zip(rows, den, num, mis, strict=False)]
    shown_total = shown(whole, den_total, num_total, mis_total) if total is not None else None
    return shown_rows, shown_total


def protect_total(counts: Counts, *, measure: str = PROPORTION) -> Shown:
    """One number on its own (a headline figure), small values hidden."""
    _, shown_total = protect([], counts, measure=measure)
    assert shown_total is not None
    return shown_total
