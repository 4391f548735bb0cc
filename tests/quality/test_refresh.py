"""The summary refresh: one run at a time, claimed by one worker, progress written as it goes, each
indicator's cells replaced whole, failure recorded, a dead worker's run taken back by the sweep — and, with
real workers, a worker killed with SIGKILL mid-run: another worker finishes it, the cells counted once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.apps import apps
from django.db.models import Sum
from django.utils import timezone

from pathways.choices import Sector, StayEnd
from pathways.models import Organisation
from quality import indicators, instruments, summaries
from quality.choices import RefreshState, TotalGrain
from quality.models import Indicator, IndicatorCell, IndicatorRefresh, IndicatorTotal
from tests.database import second_connection
from tests.pathways.test_documents_worker import _wait_for, broker, workers  # noqa: F401 (fixtures)
from tests.quality.test_indicators import Data, at


@pytest.fixture
def asked(monkeypatch):
    """The runs a worker was asked for (instead of Redis)."""
    calls: list[int] = []

    def ask_to_refresh(refresh_id: int) -> bool:
        calls.append(refresh_id)
        return True

    monkeypatch.setattr(summaries, "ask_to_refresh", ask_to_refresh)
    return calls


def _some_discharges(data: Data) -> None:
    for hours in (10, 30, 50):
        plan = data.plan()
        data.stay(plan, started=at("2026-03-01"), ended=at("2026-03-02", 8))
        data.task(plan, created=at("2026-03-01"), done=at("2026-03-02", 8) + timedelta(hours=hours))
    plan = data.plan()
    data.stay(plan, started=at("2026-03-05"), ended=at("2026-03-06", 8), end=StayEnd.DISCHARGED)


def _cells(key: str) -> list[tuple[int, int, int]]:
    return sorted(
        IndicatorCell.objects.filter(indicator__key=key).values_list("numerator", "denominator", "missing")
    )


def test_asking_for_a_refresh_queues_one_run_and_asks_a_worker_once_committed(
    db, asked, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = summaries.refresh_request(actor=None)
    assert first.state == RefreshState.QUEUED
    assert asked == [first.pk]
    with django_capture_on_commit_callbacks(execute=True):
        again = summaries.refresh_request(actor=None)
    assert again.pk == first.pk
    assert asked == [first.pk]
    assert IndicatorRefresh.objects.count() == 1


def test_a_running_refresh_is_given_to_whoever_asks_while_it_runs(db, asked):
    running = IndicatorRefresh.objects.create(state=RefreshState.RUNNING, attempts=1)
    assert summaries.refresh_request(actor=None).pk == running.pk


def test_a_run_refreshes_every_indicator_and_is_done_once(db, asked):
    data = Data()
    _some_discharges(data)
    stale = Indicator.objects.get(key="home-nursing-24h")
    IndicatorCell.objects.create(indicator=stale, month=timezone.localdate(), denominator=99, numerator=99)
    refresh = IndicatorRefresh.objects.create()
    now = at("2026-03-20")

    assert summaries.refresh_run(refresh_id=refresh.pk, now=now) is True
    assert summaries.refresh_run(refresh_id=refresh.pk, now=now) is False  # done: nothing to claim

    refresh.refresh_from_db()
    assert (refresh.state, refresh.progress, refresh.attempts, refresh.error) == (
        RefreshState.DONE,
        100,
        1,
        "",
    )
    assert refresh.started_at is not None
    assert refresh.finished_at is not None
    assert refresh.rows == IndicatorCell.objects.count()
    expected = sorted(
        (row["numerator"], row["denominator"], row["missing"])
        for row in indicators.cell_counts(stale, now=now)
    )
    assert _cells("home-nursing-24h") == expected
    assert sum(n for n, _, _ in expected) == 1
    assert sum(d for _, d, _ in expected) == 4  # 10 h met; 30 h, 50 h and the 6 March one (no visit) not
    # The totals one level up were written with the cells: each grain adds up to the same.
    counts = ("numerator", "denominator", "missing")
    for indicator in Indicator.objects.filter(is_active=True):
        cells = IndicatorCell.objects.filter(indicator=indicator).aggregate(*(Sum(c) for c in counts))
        for grain in TotalGrain:
            totals = IndicatorTotal.objects.filter(indicator=indicator, grain=grain)
            assert totals.aggregate(*(Sum(c) for c in counts)) == cells, (indicator.key, grain)


def test_the_totals_grow_with_organisations_and_municipalities_not_with_the_patients_groups(db):
    """The dashboard reads the totals: per month and organisation, and per month and municipality, however
    many combinations of sex, age, education, employment and income the patients make in the cells."""
    indicator = Indicator.objects.get(key="rehabilitation-plan-discharge-day")
    hospital = Organisation.objects.create(sor_code="T-1", name="Afdeling T", sector=Sector.HOSPITAL)
    month = timezone.localdate().replace(day=1)

    def cells(education: str) -> None:
        IndicatorCell.objects.bulk_create(
            IndicatorCell(
                indicator=indicator, month=month, organisation=hospital, sector=hospital.sector,
                municipality=municipality, sex=sex, age_band=age, education=education,
                denominator=10, numerator=4, missing=1,
            )
            for municipality in ("265", "316")
            for sex in ("female", "male")
            for age in ("65-79", "80+")
        )  # fmt: skip

    cells("basic")
    summaries.totals_write(indicator)
    cells("long_higher")  # as many patients again, in other groups
    assert summaries.totals_write(indicator) == 3
    totals = {
        (t.grain, t.organisation_id, t.municipality): (t.numerator, t.denominator, t.missing)
        for t in IndicatorTotal.objects.filter(indicator=indicator)
    }
    assert totals == {
        (TotalGrain.ORGANISATION, hospital.pk, ""): (64, 160, 16),
        (TotalGrain.MUNICIPALITY, None, "265"): (32, 80, 8),
        (TotalGrain.MUNICIPALITY, None, "316"): (32, 80, 8),
    }


def test_a_failing_indicator_fails_the_run_and_keeps_the_cells_it_had(db, asked, monkeypatch):
    data = Data()
    _some_discharges(data)
    summaries.refresh_now(now=at("2026-03-20"))
    before = _cells("gp-follow-up-7d")
    real = indicators.cells

    def broken(indicator, *, now=None):
        if indicator.key == "gp-follow-up-7d":
            raise ZeroDivisionError
        return real(indicator, now=now)

    monkeypatch.setattr(indicators, "cells", broken)
    refresh = summaries.refresh_now(now=at("2026-03-21"))
    assert (refresh.state, refresh.error) == (RefreshState.FAILED, "ZeroDivisionError")
    assert refresh.finished_at is not None
    assert _cells("gp-follow-up-7d") == before
    assert summaries.current_refresh() is None  # a new one can be asked for


def test_progress_is_written_indicator_by_indicator(db, asked, monkeypatch):
    seen: list[tuple[int, str]] = []
    real = indicators.cells

    def watching(indicator, *, now=None):
        row = IndicatorRefresh.objects.get()
        seen.append((row.progress, row.step))
        return real(indicator, now=now)

    monkeypatch.setattr(indicators, "cells", watching)
    summaries.refresh_now()
    keys = list(Indicator.objects.order_by("position", "key").values_list("key", flat=True))
    assert [step for _, step in seen] == ["", *keys[:-1]]
    progress = [p for p, _ in seen]
    assert progress == sorted(progress)
    assert progress[-1] == int(100 * (len(keys) - 1) / len(keys))


def test_a_run_taken_back_by_the_sweep_stops_writing(db, asked, monkeypatch):
    refresh = IndicatorRefresh.objects.create()
    real = indicators.cells

    def taken_back(indicator, *, now=None):
        # The sweep took the run back and another worker claimed it (attempt 2).
        IndicatorRefresh.objects.filter(pk=refresh.pk).update(attempts=2)
        return real(indicator, now=now)

    monkeypatch.setattr(indicators, "cells", taken_back)
    assert summaries.refresh_run(refresh_id=refresh.pk) is False
    refresh.refresh_from_db()
    assert (refresh.state, refresh.attempts, refresh.rows) == (RefreshState.RUNNING, 2, 0)


def test_the_sweep_queues_a_dead_workers_run_again_and_asks_for_it(db, asked):
    now = timezone.now()
    dead = IndicatorRefresh.objects.create(
        state=RefreshState.RUNNING, attempts=1, progress=40, lease_until=now - timedelta(seconds=1)
    )
    assert summaries.summaries_sweep(now=now) == 1
    dead.refresh_from_db()
    assert (dead.state, dead.progress) == (RefreshState.QUEUED, 0)
    assert asked == [dead.pk]


def test_the_sweep_leaves_a_run_whose_lease_is_not_over(db, asked):
    now = timezone.now()
    alive = IndicatorRefresh.objects.create(
        state=RefreshState.RUNNING, attempts=1, lease_until=now + timedelta(minutes=5)
    )
    assert summaries.summaries_sweep(now=now) == 0
    alive.refresh_from_db()
    assert alive.state == RefreshState.RUNNING
    assert asked == []


def test_the_sweep_fails_a_run_whose_workers_died_too_often(db, asked):
    now = timezone.now()
    dead = IndicatorRefresh.objects.create(
        state=RefreshState.RUNNING,
        attempts=summaries.REFRESH_MAX_ATTEMPTS,
        lease_until=now - timedelta(seconds=1),
    )
    summaries.summaries_sweep(now=now)
    dead.refresh_from_db()
    assert (dead.state, dead.error) == (RefreshState.FAILED, "WorkerLost")
    assert asked == []


def test_the_sweep_asks_again_for_a_queued_run_whose_request_was_lost(db, asked):
    now = timezone.now()
    lost = IndicatorRefresh.objects.create(created_at=now - timedelta(minutes=10))
    assert summaries.summaries_sweep(now=now) == 1
    assert asked == [lost.pk]


def test_the_sweep_leaves_a_queued_run_just_asked_for(db, asked):
    IndicatorRefresh.objects.create()
    assert summaries.summaries_sweep() == 0
    assert asked == []


# --- real workers ---------------------------------------------------------------------------------------


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_run_leaves_the_run_to_another_worker_and_the_cells_counted_once(workers):  # noqa: F811
    # A transactional test before this one may have emptied the tables the data migration filled.
    instruments.ship(apps)
    assert Indicator.objects.filter(is_active=True).exists()
    data = Data()
    _some_discharges(data)
    expected = {
        indicator.key: sorted(
            (row["numerator"], row["denominator"], row["missing"])
            for row in indicators.cell_counts(indicator)
        )
        for indicator in Indicator.objects.all()
    }
    # Hold the summary table locked from another connection: the first worker claims the run, then waits
    # at its first indicator's cells, where it is killed.
    blocker = second_connection()
    try:
        blocker.execute("LOCK TABLE quality_indicatorcell IN ACCESS EXCLUSIVE MODE")
        first = workers.start(FF_QUALITY_REFRESH_LEASE_SECONDS="5")
        refresh = summaries.refresh_request(actor=None)  # commits (autocommit), then asks through Redis
        running = IndicatorRefresh.objects.filter(pk=refresh.pk, state=RefreshState.RUNNING)
        assert _wait_for(running.exists, 60), "the first worker never claimed the run"
        workers.kill(first)
    finally:
        blocker.rollback()
        blocker.close()
    workers.start(FF_QUALITY_REFRESH_LEASE_SECONDS="5")
    done = IndicatorRefresh.objects.filter(pk=refresh.pk, state=RefreshState.DONE)

    def swept_and_done() -> bool:
        summaries.summaries_sweep()  # what the minute beat does
        return done.exists()

    assert _wait_for(swept_and_done, 90), f"not done: {IndicatorRefresh.objects.get(pk=refresh.pk).state}"
    finished = IndicatorRefresh.objects.get(pk=refresh.pk)
    assert (finished.attempts, finished.progress) == (2, 100)
    for key, rows in expected.items():
        assert _cells(key) == rows, key
    assert IndicatorRefresh.objects.count() == 1
