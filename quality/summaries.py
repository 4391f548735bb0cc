"""The summary table's refresh: a run (IndicatorRefresh) asked for by a quality user or by the nightly beat,
done by a Celery worker that claims it, writes its progress indicator by indicator and replaces each
indicator's cells and their totals one level up (IndicatorTotal) in one transaction (delete + bulk insert),
so the dashboard always reads whole indicators.

One run at a time: asking while one is queued or running gives that one (a database constraint keeps it
so). The claim is a conditional UPDATE with a lease; each indicator done renews the lease, and a worker
writes only while the claim is still its own (`attempts` counts claims). A dead worker's run is queued
again by the sweep once its lease is over (failed after REFRESH_MAX_ATTEMPTS), and a queued run whose
request was lost (Redis down) is asked for again.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from celery import current_app
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from pathways.models import User
from quality import indicators
from quality.choices import RefreshState, TotalGrain
from quality.models import Indicator, IndicatorCell, IndicatorRefresh, IndicatorTotal

logger = logging.getLogger(__name__)

REFRESH_TASK = "quality.tasks.summaries_refresh"
REFRESH_MAX_ATTEMPTS = 3
# A queued run not started this long after it was asked for is asked for again (its request was lost).
REQUEUE_AFTER = timedelta(minutes=2)
INSERT_BATCH = 5000
ACTIVE = (RefreshState.QUEUED, RefreshState.RUNNING)


# The cells added up over the patients' groups, per month and reporting organisation (with its sector) and
# per month and home municipality: one GROUP BY with two grouping sets, in the database.
_TOTALS_SQL = """
INSERT INTO quality_indicatortotal (indicator_id, grain, month, organisation_id, sector, municipality,
                                    denominator, numerator, missing, value_sum, value_sumsq)
SELECT indicator_id,
       CASE WHEN GROUPING(municipality) = 1 THEN %(by_organisation)s ELSE %(by_municipality)s END,
       month, organisation_id, COALESCE(sector, ''), COALESCE(municipality, ''),
       sum(denominator), sum(numerator), sum(missing), sum(value_sum), sum(value_sumsq)
FROM quality_indicatorcell
WHERE indicator_id = %(indicator)s
GROUP BY GROUPING SETS ((indicator_id, month, organisation_id, sector), (indicator_id, month, municipality))
"""


def totals_write(indicator: Indicator) -> int:
    """Replace the indicator's totals (IndicatorTotal) by its cells added up; how many rows. Called in the
    transaction that replaced its cells."""
    IndicatorTotal.objects.filter(indicator=indicator).delete()
    with connection.cursor() as cursor:
        cursor.execute(
            _TOTALS_SQL,
            {
                "indicator": indicator.pk,
                "by_organisation": TotalGrain.ORGANISATION.value,
                "by_municipality": TotalGrain.MUNICIPALITY.value,
            },
        )
        return int(cursor.rowcount)


def totals_refresh() -> None:
    """Every indicator's totals from the cells there are now (cells written by hand: tests, a repair)."""
    with transaction.atomic():
        for indicator in Indicator.objects.all():
            totals_write(indicator)


def _lease() -> timedelta:
    return timedelta(seconds=getattr(settings, "QUALITY_REFRESH_LEASE_SECONDS", 900))


def current_refresh() -> IndicatorRefresh | None:
    """The run queued or running now, if any."""
    return IndicatorRefresh.objects.filter(state__in=ACTIVE).first()


def latest_refresh() -> IndicatorRefresh | None:
    """The run queued or running now, else the last one (for the dashboard's "updated" line)."""
    return current_refresh() or IndicatorRefresh.objects.order_by("-created_at", "-id").first()


def ask_to_refresh(refresh_id: int) -> bool:
    """Ask a worker for the run. If Redis is down the request is lost (False); the row is not: the sweep
    asks again."""
    try:
        current_app.send_task(REFRESH_TASK, args=[refresh_id], retry=False, ignore_result=True)
    except Exception:
        logger.warning("summaries: could not ask a worker to refresh; the sweep will", exc_info=True)
        return False
    return True


def refresh_request(*, actor: User | None) -> IndicatorRefresh:
    """Ask for a refresh (a quality user on the dashboard, or the nightly beat with no actor): the run now
    queued or running if there is one, else a new queued run, asked for once the transaction commits."""
    existing = current_refresh()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            refresh = IndicatorRefresh.objects.create(requested_by=actor, state=RefreshState.QUEUED)
    except IntegrityError:
        # Another request won the race: one at a time, so that one is ours too.
        existing = current_refresh()
        if existing is None:
            raise
        return existing
    transaction.on_commit(lambda: ask_to_refresh(refresh.pk))
    return refresh


_CLAIM_SQL = """
UPDATE quality_indicatorrefresh
   SET state = 'running', attempts = attempts + 1, lease_until = %(lease_until)s,
       started_at = %(now)s, progress = 0, step = '', error = ''
 WHERE id = %(id)s AND state = 'queued'
RETURNING attempts
"""


def refresh_claim(*, refresh_id: int, now: datetime | None = None) -> int | None:
    """Claim a queued run for this worker: the attempt claimed, or None (done, failed, another has it)."""
    moment = now or timezone.now()
    with transaction.atomic(durable=True), connection.cursor() as cursor:
        cursor.execute(_CLAIM_SQL, {"id": refresh_id, "now": moment, "lease_until": moment + _lease()})
        row = cursor.fetchone()
    return None if row is None else int(row[0])


def _still_ours(refresh_id: int, attempt: int) -> QuerySet[IndicatorRefresh]:
    return IndicatorRefresh.objects.filter(pk=refresh_id, state=RefreshState.RUNNING, attempts=attempt)


def refresh_run(*, refresh_id: int, now: datetime | None = None) -> bool:
    """Claim the run and refresh every active indicator, writing progress as it goes. True if this call
    finished it. Safe to call twice or in parallel: only the claim's owner writes."""
    attempt = refresh_claim(refresh_id=refresh_id)
    if attempt is None:
        return False
    moment = now or timezone.now()
    active = list(Indicator.objects.filter(is_active=True).order_by("position", "key"))
    total_rows = 0
    try:
        for done, indicator in enumerate(active):
            with transaction.atomic():
                # Locked while its cells are replaced: a sweep cannot take the run back half-way.
                claim = _still_ours(refresh_id, attempt).select_for_update().first()
                if claim is None:
                    return False  # the run was taken back (lease over): the new owner does it
                rows = list(indicators.cells(indicator, now=moment))
                IndicatorCell.objects.filter(indicator=indicator).delete()
                IndicatorCell.objects.bulk_create(rows, batch_size=INSERT_BATCH)
                totals_write(indicator)
                total_rows += len(rows)
                _still_ours(refresh_id, attempt).update(
                    progress=min(99, int(100 * (done + 1) / max(1, len(active)))),
                    step=indicator.key[:200],
                    rows=total_rows,
                    lease_until=timezone.now() + _lease(),
                )
    except Exception as error:
        logger.error("summaries: %s refreshing run %s", type(error).__name__, refresh_id)
        _still_ours(refresh_id, attempt).update(
            state=RefreshState.FAILED,
            lease_until=None,
            finished_at=timezone.now(),
            error=type(error).__name__[:500],
        )
        return False
    finished = _still_ours(refresh_id, attempt).update(
        state=RefreshState.DONE,
        progress=100,
        step="",
        rows=total_rows,
        lease_until=None,
        finished_at=timezone.now(),
    )
    return bool(finished)


def summaries_sweep(*, now: datetime | None = None) -> int:
    """Take back runs whose worker died (queued again, or failed after REFRESH_MAX_ATTEMPTS claims) and
    ask again for queued runs not started in time. Returns how many runs it asked a worker for."""
    moment = now or timezone.now()
    stale = IndicatorRefresh.objects.filter(state=RefreshState.RUNNING, lease_until__lt=moment)
    stale.filter(attempts__gte=REFRESH_MAX_ATTEMPTS).update(
        state=RefreshState.FAILED, lease_until=None, finished_at=moment, error="WorkerLost"
    )
    # Taken back as if asked for long ago: asked for again below.
    stale.filter(attempts__lt=REFRESH_MAX_ATTEMPTS).update(
        state=RefreshState.QUEUED,
        lease_until=None,
        progress=0,
        step="",
        created_at=moment - REQUEUE_AFTER * 2,
    )
    waiting = list(
        IndicatorRefresh.objects.filter(
            state=RefreshState.QUEUED, created_at__lte=moment - REQUEUE_AFTER
        ).values_list("pk", flat=True)
    )
    asked = 0
    for refresh_id in waiting:
        if not ask_to_refresh(refresh_id):
            break
        asked += 1
    return asked


def refresh_now(*, actor: User | None = None, now: datetime | None = None) -> IndicatorRefresh:
    """Refresh in this process, at once (the demo seed, the benchmark, management commands): the queued
    run if there is one, else a new one."""
    refresh = current_refresh()
    if refresh is None:
        refresh = IndicatorRefresh.objects.create(requested_by=actor, state=RefreshState.QUEUED)
    if refresh.state == RefreshState.RUNNING:
        raise RuntimeError("A refresh is already running.")
    refresh_run(refresh_id=refresh.pk, now=now)
    refresh.refresh_from_db()
    return refresh


def refresh_in_transaction(*, now: datetime | None = None) -> IndicatorRefresh:
    """Refresh every active indicator inside the caller's transaction (the demo seed runs in one): no claim
    and no worker, so it leaves any queued or running run alone; recorded as a finished run."""
    started = timezone.now()
    total_rows = 0
    for indicator in Indicator.objects.filter(is_active=True).order_by("position", "key"):
        rows = list(indicators.cells(indicator, now=now or started))
        IndicatorCell.objects.filter(indicator=indicator).delete()
        IndicatorCell.objects.bulk_create(rows, batch_size=INSERT_BATCH)
        totals_write(indicator)
        total_rows += len(rows)
    return IndicatorRefresh.objects.create(
        state=RefreshState.DONE,
        progress=100,
        rows=total_rows,
        attempts=1,
        created_at=started,
        started_at=started,
        finished_at=timezone.now(),
    )
