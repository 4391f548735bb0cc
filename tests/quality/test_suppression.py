"""Small-cell suppression: no shown count of 1–4, no percentage from a small cell, and no hidden cell that a
reader can work out from the total and the shown cells (an attacker who knows the rules tries, by brute
force over every value each hidden cell could take, and fails)."""

from __future__ import annotations

import random

import pytest

from quality.suppression import HIDDEN, MEAN, MIN_COUNT, SMALL, Counts, Shown, protect, protect_total


def _total(rows):
    return sum(rows, Counts(denominator=0))


def _is_safe_text(text: str) -> bool:
    if text in (SMALL, HIDDEN, ""):
        return True
    return int(text) == 0 or int(text) >= MIN_COUNT


# --- the attacker ----------------------------------------------------------------------------------------


def _domain(text: str, *, bound: int, cap: range | None = None) -> range:
    """What a reader who knows the rules knows about a count from its text."""
    if text == SMALL:
        return range(1, MIN_COUNT)
    if text == HIDDEN:
        return cap if cap is not None else range(MIN_COUNT, bound + 1)
    value = int(text)
    return range(value, value + 1)


def _possible_values(domains: list[range], total_domain: range) -> list[set[int]]:
    """For each cell (then the total): every value it can take in some assignment of all hidden cells
    that adds up to a possible total. Brute force: the sums the other cells can reach, cell by cell."""

    def reachable(ranges: list[range]) -> set[int]:
        sums = {0}
        for r in ranges:
            sums = {s + v for s in sums for v in r if s + v <= total_domain.stop}
        return sums

    out: list[set[int]] = []
    for i, domain in enumerate(domains):
        others = reachable(domains[:i] + domains[i + 1 :])
        out.append({v for v in domain if any(v + s in total_domain for s in others)})
    out.append({t for t in total_domain if t in reachable(domains)})
    return out


def _attack(rows: list[Counts], shown: list[Shown], total: Counts, shown_total: Shown) -> list[str]:
    """Every hidden count the attacker pins down (or narrows inside 1–4): empty when the output is safe."""
    bound = 3 * (total.denominator + total.numerator + total.missing) + 20
    found = []
    for kind in ("denominator", "numerator", "missing"):
        domains = []
        # Rule 6: no cell of this count shown (not even a "<5"): each "–" is any value from 0 up.
        # (An empty cell's numerator stays 0.)
        none_shown = bool(shown) and all(
            getattr(cell, kind) == HIDDEN or (kind == "numerator" and cell.denominator == "0")
            for cell in shown
        )
        for cell in [*shown, shown_total]:
            text = getattr(cell, kind)
            cap = None
            if text == HIDDEN and getattr(shown_total, kind) == SMALL and cell is not shown_total:
                cap = range(0, MIN_COUNT)  # rule 5: the cells of a total under five
            elif text == HIDDEN and none_shown and cell is not shown_total and kind != "numerator":
                cap = range(0, bound + 1)
            elif (
                text == HIDDEN
                and none_shown
                and cell is not shown_total
                and cell.denominator not in (SMALL, HIDDEN)
            ):
                cap = range(0, int(cell.denominator) + 1)
            elif kind == "numerator" and text == HIDDEN:
                if cell.denominator == SMALL or (
                    cell.denominator == HIDDEN and shown_total.denominator == SMALL
                ):
                    cap = range(0, MIN_COUNT)  # the cell is hidden: 0–4 of fewer than five
                elif cell.denominator == HIDDEN:
                    cap = range(0, bound + 1)
                else:
                    cap = range(MIN_COUNT, int(cell.denominator) + 1)
            domains.append(_domain(text, bound=bound, cap=cap))
        possible = _possible_values(domains[:-1], domains[-1])
        truths = [getattr(c, kind) for c in [*rows, total]]
        texts = [getattr(c, kind) for c in [*shown, shown_total]]
        for index, (truth, text, values) in enumerate(zip(truths, texts, possible, strict=True)):
            if text not in (SMALL, HIDDEN):
                continue
            assert truth in values, "the attacker's model must allow the truth"
            if truth == 0 and texts[-1] == "0":
                continue  # a total of 0 says every cell is 0: nothing about a person
            small = set(range(1, MIN_COUNT))
            # A "<5" must stay any of 1–4. A "–" hiding 1–4 (the numerator of a hidden cell, rule 6) need
            # not look small at all: it leaks only if the reader can tell it is small and narrow it.
            told_small = text == SMALL or max(values) < MIN_COUNT
            if (
                1 <= truth < MIN_COUNT
                and texts[-1] not in (SMALL, HIDDEN)
                and told_small
                and not small <= values
            ):
                found.append(f"{kind} of cell {index} narrowed to {sorted(values)}")
            elif len(values) < 2:
                found.append(f"{kind} of cell {index} recovered: {truth}")
    return found


def _assert_safe(
    rows: list[Counts], total: Counts | None = None, *, total_elsewhere: bool = False
) -> tuple[list[Shown], Shown]:
    """`total_elsewhere`: as the dashboard protects a table — its total shown on its own
    (`protect_total`), so the table cannot hide it."""
    total = total or _total(rows)
    if total_elsewhere:
        shown, _ = protect(rows, None)
        shown_total = protect_total(total)
    else:
        shown, maybe_total = protect(rows, total)
        assert maybe_total is not None
        shown_total = maybe_total
    for cell in [*shown, shown_total]:
        for text in (cell.numerator, cell.denominator, cell.missing):
            assert _is_safe_text(text), text
        if cell.percent is not None:
            assert int(cell.denominator) >= MIN_COUNT
            assert int(cell.numerator) == 0 or int(cell.numerator) >= MIN_COUNT
    assert _attack(rows, shown, total, shown_total) == []
    return shown, shown_total


# --- the rules, one by one -------------------------------------------------------------------------------


def test_large_cells_are_shown_with_percent_and_interval():
    shown, total = protect([Counts(40, 30), Counts(60, 15)], Counts(100, 45))
    assert total is not None
    assert [(c.numerator, c.denominator, c.percent) for c in shown] == [
        ("30", "40", 75.0),
        ("15", "60", 25.0),
    ]
    assert total.percent == 45.0
    assert total.ci is not None
    assert total.ci[0] < 45.0 < total.ci[1]
    assert not any(c.suppressed for c in [*shown, total])


def test_counts_of_one_to_four_are_shown_as_under_five():
    shown = protect_total(Counts(3, 2))
    assert (shown.denominator, shown.numerator, shown.percent, shown.ci) == (SMALL, HIDDEN, None, None)
    assert shown.suppressed
    assert shown.denominator_value is None


def test_a_zero_is_shown_as_zero():
    shown = protect_total(Counts(0))
    assert (shown.denominator, shown.numerator, shown.missing, shown.percent) == ("0", "0", "0", None)
    assert not shown.suppressed


def test_a_small_numerator_hides_the_percent_but_not_the_denominator():
    shown = protect_total(Counts(50, 3))
    assert (shown.numerator, shown.denominator, shown.percent, shown.ci) == (SMALL, "50", None, None)


def test_a_zero_numerator_of_a_large_denominator_shows_zero_percent():
    shown = protect_total(Counts(12, 0))
    assert (shown.numerator, shown.percent) == ("0", 0.0)


def test_a_zero_numerator_of_a_small_denominator_hides_the_percent_and_the_numerator():
    shown = protect_total(Counts(3, 0))
    assert (shown.numerator, shown.denominator, shown.percent) == (HIDDEN, SMALL, None)


def test_one_hidden_cell_hides_the_next_smallest_too():
    rows = [Counts(3, 3), Counts(20, 10), Counts(45, 30), Counts(80, 60)]
    shown, total = _assert_safe(rows)
    assert [c.denominator for c in shown] == [SMALL, HIDDEN, "45", "80"]
    assert total.denominator == "148"


def test_a_hidden_numerator_gets_a_complementary_numerator():
    rows = [Counts(40, 2), Counts(30, 12), Counts(50, 40)]
    shown, _ = _assert_safe(rows)
    assert [c.numerator for c in shown] == [SMALL, HIDDEN, "40"]
    assert [c.denominator for c in shown] == ["40", "30", "50"]


def test_two_small_cells_that_add_up_to_too_little_are_still_protected():
    # 1 + 1 with a shown total would pin both at 1: a third cell is hidden as well.
    rows = [Counts(1), Counts(1), Counts(30), Counts(40)]
    shown, _ = _assert_safe(rows)
    assert [c.denominator for c in shown] == [SMALL, SMALL, HIDDEN, "40"]


def test_the_total_is_hidden_when_nothing_else_can_protect_a_cell():
    shown, total = _assert_safe([Counts(1), Counts(5)])
    assert [c.denominator for c in shown] == [SMALL, HIDDEN]
    assert total.denominator == HIDDEN
    assert total.percent is None


def test_rows_that_leave_out_a_group_protect_the_group_left_out():
    # Education unknown (2 patients) is not a row, but total − rows would show it.
    rows = [Counts(30, 20), Counts(40, 25)]
    total = Counts(72, 46)
    shown, shown_total = protect(rows, total)
    assert shown_total is not None
    assert [c.denominator for c in shown] == [HIDDEN, "40"]
    assert shown_total.denominator == "72"


def test_rows_that_add_up_to_more_than_the_total_are_refused():
    with pytest.raises(ValueError, match="more than the total"):
        protect([Counts(10), Counts(10)], Counts(15))


def test_a_numerator_above_its_denominator_is_refused():
    with pytest.raises(ValueError, match="exceed"):
        protect([Counts(5, 6)])


def test_without_a_total_the_sum_is_still_taken_as_known():
    shown, shown_total = protect([Counts(2, 1), Counts(30, 20), Counts(40, 20)])
    assert shown_total is None
    assert [c.denominator for c in shown] == [SMALL, HIDDEN, "40"]


def test_missing_counts_are_suppressed_like_the_others():
    shown, _ = _assert_safe(
        [Counts(40, 20, missing=2), Counts(30, 20, missing=9), Counts(50, 40, missing=12)]
    )
    assert [c.missing for c in shown] == [SMALL, HIDDEN, "12"]


def test_a_mean_is_shown_from_five_answers_with_its_interval():
    rows = [
        Counts(4, value_sum=4 * 60.0, value_sumsq=4 * 3600.0),
        Counts(6, value_sum=6 * 50.0, value_sumsq=6 * 2500.0 + 600.0),
        Counts(9, value_sum=9 * 40.0, value_sumsq=9 * 1600.0 + 900.0),
    ]
    shown, total = protect(rows, _total(rows), measure=MEAN)
    assert total is not None
    assert [c.mean for c in shown] == [None, None, 40.0]
    assert [c.denominator for c in shown] == [SMALL, HIDDEN, "9"]
    assert total.mean == pytest.approx((240 + 300 + 360) / 19)
    assert total.ci is not None
    assert total.percent is None
    assert total.numerator == ""


# --- an attacker with brute force ------------------------------------------------------------------------


def test_the_attacker_recovers_a_cell_when_complementary_suppression_is_left_out():
    """The attack works: showing only the primary suppression lets it recover the small cell."""
    rows = [Counts(3), Counts(20), Counts(45)]
    total = _total(rows)
    naive = [
        Shown("0", SMALL, "0", 0, None, 0, None, None, None, True),
        Shown("0", "20", "0", 0, 20, 0, 0.0, None, None, False),
        Shown("0", "45", "0", 0, 45, 0, 0.0, None, None, False),
    ]
    naive_total = Shown("0", "68", "0", 0, 68, 0, 0.0, None, None, False)
    assert _attack(rows, naive, total, naive_total) == ["denominator of cell 0 narrowed to [3]"]


@pytest.mark.parametrize(
    "denominators",
    [
        [1, 5],
        [4, 5, 6],
        [1, 1, 1, 30],
        [2, 2, 5, 5, 5],
        [4, 0, 0, 9],
        [0, 0, 3],
        [3],
        [1, 2, 3, 4],
        [5, 1, 100],
    ],
)
def test_no_hidden_cell_can_be_recovered_in_hand_picked_breakdowns(denominators):
    _assert_safe([Counts(d, d // 2, missing=d % 3) for d in denominators])


def test_no_hidden_cell_can_be_recovered_in_random_breakdowns():
    chooser = random.Random(16)
    hidden_somewhere = 0
    for _ in range(600):
        rows = []
        for _ in range(chooser.randint(1, 6)):
            d = chooser.choice([0, 1, 2, 3, 4, 5, 6, 7, chooser.randint(5, 25), chooser.randint(20, 60)])
            n = chooser.choice([0, d, chooser.randint(0, d), min(d, chooser.randint(0, 6))])
            rows.append(Counts(d, n, missing=chooser.choice([0, 0, 1, 3, chooser.randint(0, 12)])))
        shown, _ = _assert_safe(rows)
        hidden_somewhere += any(c.suppressed for c in shown)
    assert hidden_somewhere > 300  # the draw exercised suppression, not just large cells


def test_two_small_cells_beside_zeros_under_a_known_total_are_not_given_away():
    """Roskilde's "not stated" by education: 0, <5, <5, 0, 0 under a total of 8 said 4 and 4. Now none of
    the column is shown, the zeros included, and the attacker cannot tell."""
    rows = [Counts(20, 10, missing=m) for m in (0, 4, 4, 0, 0)]
    shown, shown_total = _assert_safe(rows, total_elsewhere=True)
    assert shown_total.missing == "8"
    assert [cell.missing for cell in shown] == [HIDDEN] * 5
    assert [cell.denominator for cell in shown] == ["20"] * 5  # the other counts are untouched


def test_no_hidden_cell_can_be_recovered_when_the_total_is_shown_on_its_own():
    """The dashboard's way: each table protected with its total shown elsewhere, never hidden by it."""
    chooser = random.Random(1606)
    for _ in range(600):
        rows = []
        for _ in range(chooser.randint(1, 6)):
            d = chooser.choice([0, 0, 1, 2, 3, 4, 5, 6, chooser.randint(5, 25), chooser.randint(20, 60)])
            n = chooser.choice([0, d, chooser.randint(0, d), min(d, chooser.randint(0, 6))])
            rows.append(Counts(d, n, missing=chooser.choice([0, 0, 0, 1, 4, chooser.randint(0, 12)])))
        _assert_safe(rows, total_elsewhere=True)


def test_shown_cells_are_never_hidden_needlessly_in_a_large_breakdown():
    shown, _ = _assert_safe([Counts(d, d // 2) for d in (120, 340, 95, 410)])
    assert not any(c.suppressed for c in shown)
